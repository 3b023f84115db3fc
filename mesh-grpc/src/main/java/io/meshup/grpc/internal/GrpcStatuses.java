package io.meshup.grpc.internal;

import io.grpc.Status;

/** The gRPC status of an injected HTTP abort (outcomes and retry decisions are the engine's, {@code RetryRules}). */
final class GrpcStatuses {
  private GrpcStatuses() {}

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
