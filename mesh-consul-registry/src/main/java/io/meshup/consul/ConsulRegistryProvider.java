package io.meshup.consul;

import io.meshup.consul.internal.ConsulRegistry;
import io.meshup.consul.internal.ConsulSettings;
import io.meshup.core.spi.RegistryContext;
import io.meshup.core.spi.ServiceRegistry;
import io.meshup.core.spi.ServiceRegistryProvider;

/**
 * Consul as the mesh's registry and shared policy store: {@code mesh.registry.type: consul}.
 *
 * <pre>{@code
 * mesh:
 *   service: checkout
 *   registry:
 *     type: consul
 *     consul:
 *       address: ${CONSUL_HTTP_ADDR:http://127.0.0.1:8500}
 *       token: ${CONSUL_HTTP_TOKEN:}
 *       registration: { port: 8080, meta: { version: v1 }, check: { grpc: "127.0.0.1:8080", interval: 5s } }
 *       kv: { prefix: meshup/config/ }
 * }</pre>
 *
 * <p>Found by {@link java.util.ServiceLoader}; applications only add the dependency.
 */
public final class ConsulRegistryProvider implements ServiceRegistryProvider {
  /** The registry type, {@code consul}. */
  public static final String TYPE = "consul";

  @Override
  public String type() {
    return TYPE;
  }

  @Override
  public ServiceRegistry create(RegistryContext context) {
    ConsulSettings settings = ConsulSettings.read(context.settings(), context.serviceName(), System::getenv);
    ConsulRegistry registry = new ConsulRegistry(settings, context);
    registry.start();
    return registry;
  }
}
