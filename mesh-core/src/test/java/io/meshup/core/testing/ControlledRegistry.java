package io.meshup.core.testing;

import io.meshup.core.Endpoint;
import io.meshup.core.spi.ServiceRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A registry that answers only when the test says so, from the test's thread (as a registry's own
 * thread would), or at once when watched for services given to {@link #answerOnWatch}.
 */
public final class ControlledRegistry implements ServiceRegistry {
  private final Map<String, EndpointListener> listeners = new ConcurrentHashMap<>();
  private final Map<String, List<Endpoint>> onWatch = new ConcurrentHashMap<>();

  @Override
  public Watch watch(String service, EndpointListener listener) {
    listeners.put(service, listener);
    List<Endpoint> first = onWatch.get(service);
    if (first != null) {
      listener.onEndpoints(first);
    }
    return () -> listeners.remove(service, listener);
  }

  /** Answers {@code endpoints} about {@code service} as soon as the mesh watches it. */
  public void answerOnWatch(String service, List<Endpoint> endpoints) {
    onWatch.put(service, List.copyOf(endpoints));
  }

  /** Whether the mesh watches {@code service}. */
  public boolean watches(String service) {
    return listeners.containsKey(service);
  }

  /** Delivers this answer about {@code service}. */
  public void answer(String service, Endpoint... endpoints) {
    answer(service, List.of(endpoints));
  }

  /** Delivers this answer about {@code service}. */
  public void answer(String service, List<Endpoint> endpoints) {
    listeners.get(service).onEndpoints(endpoints);
  }

  /** Delivers this failure about {@code service}. */
  public void fail(String service, Throwable error) {
    listeners.get(service).onError(error);
  }

  @Override
  public void close() {}
}
