package io.meshup.core;

import java.util.Map;
import java.util.Objects;

/**
 * One instance of a destination service: where it listens, its labels and its weight.
 *
 * <p>Labels come from the static registry's {@code labels}, or from Consul service meta and tags;
 * subsets select endpoints by them (for example {@code version: v2}). Immutable.
 *
 * @param id unique within its service, stable across updates (defaults to {@code host:port})
 * @param host an IP address or host name
 * @param port the port, 1..65535
 * @param labels labels used by subsets; never null
 * @param weight relative weight for load balancing, at least 1
 */
public record Endpoint(String id, String host, int port, Map<String, String> labels, int weight) {
  /** Validates and copies. */
  public Endpoint {
    Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port " + port + " is out of range 1..65535");
    }
    if (weight < 1) {
      throw new IllegalArgumentException("weight " + weight + " must be at least 1");
    }
    labels = Map.copyOf(labels == null ? Map.of() : labels);
    id = id == null || id.isEmpty() ? host + ":" + port : id;
  }

  /** An endpoint with weight 1 and the given labels. */
  public static Endpoint of(String host, int port, Map<String, String> labels) {
    return new Endpoint(null, host, port, labels, 1);
  }

  /** {@code host:port}. */
  public String authority() {
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
  }
}
