package io.meshup.core.internal.registry;

import io.meshup.core.Endpoint;
import io.meshup.core.spi.ServiceRegistry;
import java.util.List;
import java.util.Map;

/**
 * Endpoints listed in the bootstrap YAML ({@code mesh.registry.static.services}). Knows its whole
 * list, so policies naming other services are rejected. Thread-safe; the listener is called once,
 * synchronously, from {@link #watch}.
 */
public final class StaticRegistry implements ServiceRegistry {
  private final Map<String, List<Endpoint>> services;

  public StaticRegistry(Map<String, List<Endpoint>> services) {
    this.services = Map.copyOf(services);
  }

  @Override
  public Watch watch(String service, EndpointListener listener) {
    listener.onEndpoints(services.getOrDefault(service, List.of()));
    return () -> {};
  }

  @Override
  public boolean isKnown(String service) {
    return services.containsKey(service);
  }

  /** The services listed. */
  public java.util.Set<String> services() {
    return services.keySet();
  }

  @Override
  public void close() {}
}
