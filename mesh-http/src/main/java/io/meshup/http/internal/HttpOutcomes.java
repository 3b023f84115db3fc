package io.meshup.http.internal;

import io.meshup.core.call.AttemptEnd;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * What the JDK client's failures mean in the engine's terms ({@link AttemptEnd}), and the HTTP
 * facts the engine needs (which methods are idempotent, which status an injected gRPC abort
 * answers with). What is retried is decided by the core's one table, not here. Stateless.
 */
final class HttpOutcomes {
  private HttpOutcomes() {}

  /**
   * How an attempt that failed without a usable response ended: a connection that could not be
   * made never sent the request; a timeout is the attempt's limit; any other I/O failure may have
   * followed sending (a reset); a cancelled future was cancelled; anything else is the client's own.
   */
  static AttemptEnd classify(Throwable t) {
    if (t instanceof CancellationException) {
      return AttemptEnd.CANCELLED;
    }
    if (t instanceof HttpConnectTimeoutException) {
      return AttemptEnd.NOT_SENT;
    }
    if (t instanceof HttpTimeoutException) {
      return AttemptEnd.TIMEOUT;
    }
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof ConnectException) {
        return AttemptEnd.NOT_SENT;
      }
    }
    return t instanceof IOException ? AttemptEnd.RESET : AttemptEnd.LOCAL_ERROR;
  }

  /** The failure inside a future's completion wrappers. */
  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** GET, HEAD, OPTIONS, PUT, DELETE and TRACE: the methods RFC 9110 calls idempotent. */
  static boolean idempotent(String upperCaseMethod) {
    switch (upperCaseMethod) {
      case "GET":
      case "HEAD":
      case "OPTIONS":
      case "PUT":
      case "DELETE":
      case "TRACE":
        return true;
      default:
        return false;
    }
  }

  /** The HTTP status for an injected gRPC-status abort, as {@code google.rpc.Code} maps them. */
  static int httpStatusOfGrpc(String grpcStatus) {
    switch (grpcStatus) {
      case "OK":
        return 200;
      case "CANCELLED":
        return 499;
      case "INVALID_ARGUMENT":
      case "FAILED_PRECONDITION":
      case "OUT_OF_RANGE":
        return 400;
      case "DEADLINE_EXCEEDED":
        return 504;
      case "NOT_FOUND":
        return 404;
      case "ALREADY_EXISTS":
      case "ABORTED":
        return 409;
      case "PERMISSION_DENIED":
        return 403;
      case "UNAUTHENTICATED":
        return 401;
      case "RESOURCE_EXHAUSTED":
        return 429;
      case "UNIMPLEMENTED":
        return 501;
      case "UNAVAILABLE":
        return 503;
      default: // UNKNOWN, INTERNAL, DATA_LOSS
        return 500;
    }
  }
}
