package io.meshup.core.route;

import io.meshup.core.Endpoint;

/**
 * A picked endpoint with the live state the balancer keeps for it. Transports may key their own
 * per-endpoint objects (a gRPC channel, for example) by handle identity.
 *
 * <p>Thread-safe.
 */
public interface EndpointHandle {
  /** The endpoint. */
  Endpoint endpoint();

  /**
   * True once the endpoint has left the registry (or the mesh closed); a transport should then
   * close what it keeps for the endpoint, gracefully, letting calls in flight finish.
   */
  boolean isRemoved();
}
