package io.meshup.core.call;

import io.meshup.core.route.Rejection;
import java.util.Objects;

/**
 * A logical call's end that the engine decided, not an endpoint: no route, a rejection, a
 * deadline, a cancellation, an injected fault, the mesh closing. The message names the
 * destination, route and reason; each transport maps the kind to its own status or exception.
 * Immutable.
 */
public final class CallFailure {
  /** What ended the call. */
  public enum Kind {
    /** No route of the destination's VirtualService matches (gRPC UNIMPLEMENTED; HTTP {@code MeshNoRouteException}). */
    NO_ROUTE,
    /** The subset refused the call: breaker open, concurrency limit, no endpoint ({@link #rejection()}). */
    REJECTED,
    /** The DestinationRule asks for mutual TLS and the mesh has no certificates. */
    NO_CERTIFICATES,
    /** The call's deadline (the caller's, or the route timeout) passed. */
    DEADLINE_EXCEEDED,
    /** The last attempt's time limit (perTryTimeout, or the wait for response headers) passed and it was not retried. */
    ATTEMPT_TIMEOUT,
    /** The caller cancelled. */
    CANCELLED,
    /** The route's fault injection aborted the call ({@link #abortHttpStatus()}, {@link #abortGrpcStatus()}). */
    FAULT_ABORT,
    /**
     * The route answers the call itself, sending nothing: a {@code directResponse} or a
     * {@code redirect} ({@link #abortHttpStatus()} is the status, with {@link #body()} and
     * {@link #location()}).
     */
    DIRECT_RESPONSE,
    /** The mesh (or the transport's channel) is shut down. */
    SHUT_DOWN,
    /** The transport failed on its own; {@link #cause()} says how. */
    INTERNAL
  }

  private final Kind kind;
  private final String message;
  private final Rejection rejection;
  private final int abortHttpStatus;
  private final String abortGrpcStatus;
  private final Throwable cause;
  private final boolean routeTimeout;
  private final byte[] body;
  private final String location;
  private final String[] headers;

  CallFailure(Kind kind, String message, Rejection rejection, int abortHttpStatus, String abortGrpcStatus,
      Throwable cause, boolean routeTimeout) {
    this(kind, message, rejection, abortHttpStatus, abortGrpcStatus, cause, routeTimeout, null, null, null);
  }

  /** A direct response (or redirect, or CORS preflight answer) of a route; {@code headers} name-value pairs. */
  static CallFailure direct(String message, int status, byte[] body, String location, String[] headers) {
    return new CallFailure(Kind.DIRECT_RESPONSE, message, null, status, null, null, false, body, location, headers);
  }

  private CallFailure(Kind kind, String message, Rejection rejection, int abortHttpStatus, String abortGrpcStatus,
      Throwable cause, boolean routeTimeout, byte[] body, String location, String[] headers) {
    this.headers = headers == null ? new String[0] : headers;
    this.body = body;
    this.location = location;
    this.kind = Objects.requireNonNull(kind, "kind");
    this.message = Objects.requireNonNull(message, "message");
    this.rejection = rejection;
    this.abortHttpStatus = abortHttpStatus;
    this.abortGrpcStatus = abortGrpcStatus;
    this.cause = cause;
    this.routeTimeout = routeTimeout;
  }

  static CallFailure of(Kind kind, String message) {
    return new CallFailure(kind, message, null, 0, null, null, false);
  }

  /** What ended the call. */
  public Kind kind() {
    return kind;
  }

  /** A message naming the destination, route and reason, starting {@code meshup: }. */
  public String message() {
    return message;
  }

  /** For {@link Kind#REJECTED}: why; otherwise null. */
  public Rejection rejection() {
    return rejection;
  }

  /** For {@link Kind#DIRECT_RESPONSE}: the body to answer with (never modified), or null for none. */
  public byte[] body() {
    return body;
  }

  /** For {@link Kind#DIRECT_RESPONSE}: further response headers (a CORS preflight's), as name-value pairs. */
  public java.util.List<String> headers() {
    return java.util.List.of(headers);
  }

  /** For {@link Kind#DIRECT_RESPONSE} of a redirect: the {@code Location}; otherwise null. */
  public String location() {
    return location;
  }

  /**
   * For {@link Kind#FAULT_ABORT}: the HTTP status to answer with, or 0 when a gRPC status was
   * given; for {@link Kind#DIRECT_RESPONSE}: its status.
   */
  public int abortHttpStatus() {
    return abortHttpStatus;
  }

  /** For {@link Kind#FAULT_ABORT}: the gRPC status name to answer with, or null when an HTTP status was given. */
  public String abortGrpcStatus() {
    return abortGrpcStatus;
  }

  /** For {@link Kind#CANCELLED} and {@link Kind#INTERNAL}: the cause given, or null. */
  public Throwable cause() {
    return cause;
  }

  /** For {@link Kind#DEADLINE_EXCEEDED}: true when the route timeout, not the caller's deadline, bound it. */
  public boolean routeTimeout() {
    return routeTimeout;
  }

  @Override
  public String toString() {
    return kind + ": " + message;
  }
}
