package io.meshup.core.call;

/** How the status codes a transport reports to the engine are read. */
public enum Protocol {
  /** Codes are gRPC status codes ({@code io.grpc.Status.Code.value()}: 0 OK, 14 UNAVAILABLE...). */
  GRPC,
  /** Codes are HTTP status codes. */
  HTTP
}
