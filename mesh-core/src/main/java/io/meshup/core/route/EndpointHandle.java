package io.meshup.core.route;

import io.meshup.core.Endpoint;

/**
 * A picked endpoint with the live state the mesh keeps for it. Transports key their own
 * per-endpoint objects (a gRPC connection, for example) by handle identity, report how the
 * connection to it is doing ({@link #reportConnectivity}), and close what they keep for it when it
 * leaves the registry ({@link #onRemoved}).
 *
 * <p>Thread-safe.
 */
public interface EndpointHandle {
  /** The endpoint. */
  Endpoint endpoint();

  /**
   * The destination service this endpoint belongs to: with mutual TLS, the server must present
   * this service's SPIFFE ID.
   */
  String service();

  /**
   * True once the endpoint has left the registry (or the mesh closed); a transport should then
   * close what it keeps for the endpoint, gracefully, letting calls in flight finish.
   */
  boolean isRemoved();

  /**
   * Runs {@code action} once when the endpoint leaves the registry or its destination is released
   * (at once when that has happened already). Actions must not block; they run on the thread that
   * applies the registry update.
   */
  void onRemoved(Runnable action);

  /**
   * Tells the balancers how the transport's connection to this endpoint is doing, so that picks
   * prefer endpoints with a ready connection and avoid those that cannot be reached.
   */
  void reportConnectivity(Connectivity state);

  /** The state of a transport's connection to an endpoint, as grpc-java's {@code ConnectivityState}. */
  enum Connectivity {
    /** No connection, none being made; the first attempt opens one. */
    IDLE,
    /** A connection is being made. */
    CONNECTING,
    /** A connection is ready. */
    READY,
    /** The last connection attempt failed; the transport backs off before the next. */
    TRANSIENT_FAILURE
  }
}
