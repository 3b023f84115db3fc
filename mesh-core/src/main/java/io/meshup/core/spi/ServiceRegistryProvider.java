package io.meshup.core.spi;

/**
 * Creates a {@link ServiceRegistry} for a {@code mesh.registry.type}. Found with
 * {@link java.util.ServiceLoader}: a plug-in lists its implementation in
 * {@code META-INF/services/io.meshup.core.spi.ServiceRegistryProvider}.
 *
 * <p>Example: {@code mesh-consul-registry} provides type {@code consul}, reading
 * {@code mesh.registry.consul}.
 */
public interface ServiceRegistryProvider {
  /** The type this provider serves, as written in {@code mesh.registry.type}. */
  String type();

  /**
   * Creates the registry; called once while the mesh starts, from the thread building it.
   *
   * @throws io.meshup.core.MeshConfigException for invalid settings, naming the key
   */
  ServiceRegistry create(RegistryContext context);
}
