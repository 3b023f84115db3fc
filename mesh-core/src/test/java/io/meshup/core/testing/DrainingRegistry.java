package io.meshup.core.testing;

import io.meshup.core.Endpoint;
import io.meshup.core.spi.ServiceRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A registry of fixed endpoints whose deregistration asks for a drain, and says when it was asked. */
public final class DrainingRegistry implements ServiceRegistry {
  private final Map<String, List<Endpoint>> endpoints;
  private final Duration drain;
  /** {@link System#nanoTime} when {@link #deregister} was called, 0 before. */
  public volatile long deregisteredAt;

  public DrainingRegistry(Map<String, List<Endpoint>> endpoints, Duration drain) {
    this.endpoints = endpoints;
    this.drain = drain;
  }

  @Override
  public Watch watch(String service, EndpointListener listener) {
    listener.onEndpoints(endpoints.getOrDefault(service, List.of()));
    return () -> {};
  }

  @Override
  public Duration deregister() {
    deregisteredAt = System.nanoTime();
    return drain;
  }

  @Override
  public void close() {}
}
