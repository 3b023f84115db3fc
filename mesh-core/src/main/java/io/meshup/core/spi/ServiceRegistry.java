package io.meshup.core.spi;

import io.meshup.core.Endpoint;
import java.util.List;

/**
 * Where a mesh learns the instances of its destination services. MeshUp ships a static registry
 * (endpoints listed in the YAML) and a Consul one in {@code mesh-consul-registry}.
 *
 * <p>Threading: {@link #watch} may be called from any thread. For one watch, listener callbacks
 * are serialized (never two at once) and may come from a thread of the registry's own; they must
 * not block. A registry that fails keeps its last good snapshot and reports the failure through
 * {@link EndpointListener#onError}; it never sends an empty list because it lost contact.
 */
public interface ServiceRegistry extends AutoCloseable {
  /**
   * Starts watching {@code service}. The listener receives the full current list first (possibly
   * empty when the service is unknown), then every change.
   *
   * @return a handle that stops the watch when closed
   */
  Watch watch(String service, EndpointListener listener);

  /**
   * Whether {@code service} can exist in this registry. A static registry knows its whole list and
   * answers false for any other name, so a policy that routes to a misspelled service is rejected;
   * a dynamic registry answers true.
   */
  default boolean isKnown(String service) {
    return true;
  }

  /**
   * Removes this service's own registration, if the registry made one, so callers stop choosing
   * it; watches keep running. Returns how long the mesh should keep serving and calling before it
   * stops (the drain time), zero for none. Called once, first, when the mesh closes.
   */
  default java.time.Duration deregister() {
    return java.time.Duration.ZERO;
  }

  /**
   * The labels this service registers with (for Consul, its registration's meta and tags, read as
   * endpoint labels are), which policies' {@code selector}s match; empty by default.
   */
  default java.util.Map<String, String> labels() {
    return java.util.Map.of();
  }

  /** Stops every watch and releases resources. Idempotent. */
  @Override
  void close();

  /** A running watch. */
  interface Watch extends AutoCloseable {
    /** Stops the watch; no callback follows the return. Idempotent. */
    @Override
    void close();
  }

  /** Receives endpoint snapshots of one service. */
  interface EndpointListener {
    /** The complete list of healthy endpoints, replacing the previous one. */
    void onEndpoints(List<Endpoint> endpoints);

    /** The registry could not refresh; the last list stays in force. */
    default void onError(Throwable error) {}
  }
}
