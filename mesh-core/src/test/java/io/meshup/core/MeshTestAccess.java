package io.meshup.core;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.internal.routing.EndpointState;

/** What tests of other modules may look at inside a mesh. */
public final class MeshTestAccess {
  private MeshTestAccess() {}

  /** The circuit breaker of a destination subset ({@code ""} for all its endpoints). */
  public static CircuitBreaker breaker(Mesh mesh, String service, String subset) {
    return mesh.runtimeOf(service).subset(subset).orElseThrow().breaker();
  }

  /** Makes the mesh fetch JWKS URLs with {@code fetcher} (tests that must not reach the network). */
  public static Mesh.Builder jwksFetcher(Mesh.Builder b, io.meshup.core.internal.jwt.JwksCache.Fetcher fetcher) {
    return b.jwksFetcher(fetcher);
  }

  /** The compiled inbound policy in force. */
  public static io.meshup.core.internal.authz.InboundPolicy inbound(Mesh mesh) {
    return mesh.inboundPolicy();
  }

  /** The live state of one endpoint of a destination. */
  public static EndpointState endpoint(Mesh mesh, String service, String id) {
    return mesh.runtimeOf(service).endpointState(id).orElseThrow();
  }

  /** How many calls wait for the registry's first answer about {@code service}. */
  public static int discoveryWaiters(Mesh mesh, String service) {
    return mesh.runtimeOf(service).discoveryWaiters();
  }
}
