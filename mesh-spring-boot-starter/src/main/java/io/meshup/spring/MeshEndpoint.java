package io.meshup.spring;

import io.meshup.core.Mesh;
import io.meshup.core.MeshSnapshot;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;

/**
 * The Actuator endpoint {@code mesh}: {@code GET /actuator/mesh} serves the mesh's state snapshot
 * ({@link Mesh#snapshot()}: policy sources with their last accepted and rejected update, the
 * documents in force, every destination's routes, subsets, endpoints and breakers, registry health,
 * this workload's certificate, the mutual TLS mode) with the field names of the admin endpoint's
 * {@code /config_dump}; {@code GET /actuator/mesh/{service}} serves one destination (404 when the mesh
 * holds none of that name). Expose it like any endpoint ({@code management.endpoints.web.exposure.include=mesh});
 * it shows the mesh's configuration, so keep it on the management port. Thread-safe.
 */
@Endpoint(id = "mesh")
public final class MeshEndpoint {
  private final Mesh mesh;

  public MeshEndpoint(Mesh mesh) {
    this.mesh = mesh;
  }

  /** Everything in force now. */
  @ReadOperation
  public MeshSnapshot snapshot() {
    return mesh.snapshot();
  }

  /** One destination, or null (404) when the mesh holds no state for it. */
  @ReadOperation
  public MeshSnapshot.Destination destination(@Selector String service) {
    return mesh.snapshot().destination(service).orElse(null);
  }
}
