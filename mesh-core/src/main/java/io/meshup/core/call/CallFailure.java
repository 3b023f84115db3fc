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

  CallFailure(Kind kind, String message, Rejection rejection, int abortHttpStatus, String abortGrpcStatus,
      Throwable cause, boolean routeTimeout) {
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

  /** For {@link Kind#FAULT_ABORT}: the HTTP status to answer with, or 0 when a gRPC status was given. */
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
