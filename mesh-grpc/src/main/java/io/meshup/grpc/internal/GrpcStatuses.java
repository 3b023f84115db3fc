package io.meshup.grpc.internal;

import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.RetryPolicy;

/** Maps gRPC statuses to mesh outcomes and retry decisions. Stateless. */
final class GrpcStatuses {
  private GrpcStatuses() {}

  static Outcome outcome(Status.Code code) {
    switch (code) {
      case OK:
        return Outcome.SUCCESS;
      case DEADLINE_EXCEEDED:
        return Outcome.TIMEOUT;
      case RESOURCE_EXHAUSTED:
        return Outcome.OVERLOAD;
      case UNAVAILABLE:
      case INTERNAL:
      case UNKNOWN:
      case DATA_LOSS:
        return Outcome.FAILURE;
      case CANCELLED:
        return Outcome.CANCELLED;
      default:
        return Outcome.CLIENT_ERROR;
    }
  }

  /**
   * Whether a try that reached a server and failed with {@code code} may be retried under
   * {@code policy}. Conditions that mean the server did not process the request (unavailable,
   * refused stream, reset, overload, cancelled) apply to every method; conditions that may follow
   * processing (internal, unknown, deadline) only to methods marked idempotent or safe.
   */
  static boolean retriable(Status.Code code, RetryPolicy policy, MethodDescriptor<?, ?> method, boolean perTryTimedOut) {
    boolean idempotent = method.isIdempotent() || method.isSafe();
    switch (code) {
      case UNAVAILABLE:
        return policy.retriesOn("unavailable") || policy.retriesOn("5xx") || policy.retriesOn("gateway-error")
            || policy.retriesOn("reset") || policy.retriesOn("refused-stream");
      case CANCELLED:
        return policy.retriesOn("cancelled");
      case RESOURCE_EXHAUSTED:
        return policy.retriesOn("resource-exhausted");
      case DEADLINE_EXCEEDED:
        return perTryTimedOut && (idempotent || policy.retriesOn("deadline-exceeded"));
      case INTERNAL:
        return idempotent && (policy.retriesOn("internal") || policy.retriesOn("5xx"));
      case UNKNOWN:
      case DATA_LOSS:
        return idempotent && policy.retriesOn("5xx");
      default:
        return false;
    }
  }

  /** The gRPC status for an injected HTTP abort, as grpc maps HTTP statuses. */
  static Status fromHttp(int http) {
    switch (http) {
      case 400:
        return Status.INTERNAL;
      case 401:
        return Status.UNAUTHENTICATED;
      case 403:
        return Status.PERMISSION_DENIED;
      case 404:
        return Status.UNIMPLEMENTED;
      case 429:
      case 502:
      case 503:
      case 504:
        return Status.UNAVAILABLE;
      default:
        return Status.UNKNOWN;
    }
  }
}
