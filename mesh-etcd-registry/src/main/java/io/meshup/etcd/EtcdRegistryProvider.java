package io.meshup.etcd;

import io.meshup.core.spi.RegistryContext;
import io.meshup.core.spi.ServiceRegistry;
import io.meshup.core.spi.ServiceRegistryProvider;
import io.meshup.etcd.internal.EtcdRegistry;
import io.meshup.etcd.internal.EtcdSettings;

/**
 * etcd (v3 API, 3.4 or later) as the mesh's registry and shared policy store:
 * {@code mesh.registry.type: etcd}.
 *
 * <pre>{@code
 * mesh:
 *   service: checkout
 *   registry:
 *     type: etcd
 *     etcd:
 *       endpoints: [10.0.0.1:2379, 10.0.0.2:2379, 10.0.0.3:2379]
 *       registration: { port: 8080, metadata: { version: v1 } }
 *       kv: { prefix: meshup/config/ }
 * }</pre>
 *
 * <p>Services are found by watches on etcd's Go naming layout ({@code services/<service>/<id>}
 * holding {@code {"Addr":"host:port","Metadata":{...}}}), this service registers under a lease it
 * keeps alive, and the keys under {@code kv.prefix} form one policy source. See the module's README.
 *
 * <p>Found by {@link java.util.ServiceLoader}; applications only add the dependency. Stateless.
 */
public final class EtcdRegistryProvider implements ServiceRegistryProvider {
  /** The registry type, {@code etcd}. */
  public static final String TYPE = "etcd";

  @Override
  public String type() {
    return TYPE;
  }

  @Override
  public ServiceRegistry create(RegistryContext context) {
    EtcdRegistry registry = new EtcdRegistry(EtcdSettings.read(context.settings(), context.serviceName()), context);
    registry.start();
    return registry;
  }
}
