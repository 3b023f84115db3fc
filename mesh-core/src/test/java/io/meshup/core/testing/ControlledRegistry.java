package io.meshup.core.testing;

import io.meshup.core.Endpoint;
import io.meshup.core.spi.ServiceRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A registry that answers only when the test says so, from the test's thread (as a registry's own thread would). */
public final class ControlledRegistry implements ServiceRegistry {
  private final Map<String, EndpointListener> listeners = new ConcurrentHashMap<>();

  @Override
  public Watch watch(String service, EndpointListener listener) {
    listeners.put(service, listener);
    return () -> listeners.remove(service, listener);
  }

  /** Whether the mesh watches {@code service}. */
  public boolean watches(String service) {
    return listeners.containsKey(service);
  }

  /** Delivers this answer about {@code service}. */
  public void answer(String service, Endpoint... endpoints) {
    listeners.get(service).onEndpoints(List.of(endpoints));
  }

  /** Delivers this failure about {@code service}. */
  public void fail(String service, Throwable error) {
    listeners.get(service).onError(error);
  }

  @Override
  public void close() {}
}
