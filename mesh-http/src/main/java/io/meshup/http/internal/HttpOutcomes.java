package io.meshup.http.internal;

import io.meshup.core.route.Outcome;
import io.meshup.core.route.RetryPolicy;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The HTTP rules of the request path: status and failure to {@link Outcome}, and which failures a
 * route's {@code retryOn} conditions cover (Envoy's meanings). Stateless.
 */
final class HttpOutcomes {
  private HttpOutcomes() {}

  /** How an attempt failed without a response. */
  enum Failure {
    /** The connection could not be made: the request never left (ConnectException, connect timeout). */
    NOT_SENT,
    /** The try's timeout (per-try or the rest of the route's) passed before the response. */
    TIMEOUT,
    /** An I/O failure after the request may have been sent: reset, closed, malformed answer. */
    RESET,
    /** The attempt's future was cancelled. */
    CANCELLED,
    /** Anything else (a body handler's own exception, for example). */
    OTHER
  }

  /** 1xx-3xx success; 4xx but 429 client error; 429 overload; 5xx failure. */
  static Outcome ofStatus(int status) {
    if (status == 429) {
      return Outcome.OVERLOAD;
    }
    if (status >= 500) {
      return Outcome.FAILURE;
    }
    return status >= 400 ? Outcome.CLIENT_ERROR : Outcome.SUCCESS;
  }

  static Outcome ofFailure(Failure f) {
    switch (f) {
      case TIMEOUT:
        return Outcome.TIMEOUT;
      case CANCELLED:
        return Outcome.CANCELLED;
      default:
        return Outcome.FAILURE;
    }
  }

  static Failure classify(Throwable t) {
    if (t instanceof CancellationException) {
      return Failure.CANCELLED;
    }
    if (t instanceof HttpConnectTimeoutException) {
      return Failure.NOT_SENT;
    }
    if (t instanceof HttpTimeoutException) {
      return Failure.TIMEOUT;
    }
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof ConnectException) {
        return Failure.NOT_SENT;
      }
    }
    return t instanceof IOException ? Failure.RESET : Failure.OTHER;
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

  /**
   * Whether a response status is retried under {@code policy}: 502, 503, 504 on {@code 5xx} or
   * {@code gateway-error}; other 5xx on {@code 5xx}; 409 on {@code retriable-4xx}. The caller
   * checks that the method is idempotent: a response means the request was sent.
   */
  static boolean retriableStatus(int status, RetryPolicy policy) {
    if (status == 502 || status == 503 || status == 504) {
      return policy.retriesOn("5xx") || policy.retriesOn("gateway-error");
    }
    if (status >= 500 && status <= 599) {
      return policy.retriesOn("5xx");
    }
    return status == 409 && policy.retriesOn("retriable-4xx");
  }

  /**
   * Whether a failure without a response is retried under {@code policy}: a connect failure on
   * {@code connect-failure}, {@code reset}, {@code 5xx} or {@code gateway-error} (any method); a
   * reset or a per-try timeout on {@code reset}, {@code 5xx} or {@code gateway-error} (the caller
   * checks the method is idempotent). Cancellations and other failures are not retried.
   */
  static boolean retriableFailure(Failure f, RetryPolicy policy) {
    boolean sentConditions = policy.retriesOn("reset") || policy.retriesOn("5xx") || policy.retriesOn("gateway-error");
    switch (f) {
      case NOT_SENT:
        return sentConditions || policy.retriesOn("connect-failure");
      case RESET:
      case TIMEOUT:
        return sentConditions;
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
