package io.meshup.core.call;

/**
 * How one attempt ended, as a transport reports it to the engine. What may be replayed or retried
 * follows from it (one table for every transport), so a transport must say {@link #NOT_SENT} only
 * when it can prove the request never left the client.
 */
public enum AttemptEnd {
  /** The server answered with a status (the code says which). */
  STATUS,
  /** The request never left the client: no connection could be made, or it failed before a byte was written. */
  NOT_SENT,
  /** The server refused the request before processing it (HTTP/2 REFUSED_STREAM, or above a GOAWAY's last stream). */
  REFUSED,
  /** The request was sent and the connection failed before an answer: it may have been processed. */
  RESET,
  /**
   * The transport found the peer unresponsive (an HTTP/2 keepalive ping went unanswered) and closed
   * the connection: as {@link #RESET} for retries (the request may have been processed), and the
   * endpoint is ejected at once (within the subset's {@code maxEjectionPercent}), as a failed
   * health check would.
   */
  UNRESPONSIVE,
  /** A time limit the transport enforces for the attempt ({@link EngineCall#attemptTimeoutNanos()}) passed. */
  TIMEOUT,
  /** The attempt was cancelled (by the engine through {@link EngineCall#cancelAttempt}, or the caller). */
  CANCELLED,
  /** The client failed on its own (a body handler, a message too large): says nothing about the endpoint. */
  LOCAL_ERROR
}
