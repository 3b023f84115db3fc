package io.meshup.core.internal.bootstrap;

import io.meshup.core.MeshClock;
import io.meshup.core.MeshConfigException;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.PemFileCertificateSource;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.config.NodeSettings;
import io.meshup.core.internal.config.TlsSettings;
import io.meshup.core.spi.CertificateContext;
import io.meshup.core.spi.CertificateSource;
import io.meshup.core.spi.CertificateSourceProvider;
import io.meshup.core.spi.PolicySink;
import io.meshup.core.spi.RegistryContext;
import io.meshup.core.spi.ServiceRegistry;
import io.meshup.core.spi.ServiceRegistryProvider;
import io.meshup.core.spi.Settings;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.UncheckedIOException;
import java.util.ServiceLoader;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Creates a mesh's certificate source and registry from its settings: the built-in {@code dev}
 * and {@code files} sources, and plug-ins found with {@link ServiceLoader} by their type. Holds
 * the parts every plug-in is given. Not thread-safe; used once while a mesh starts.
 */
public final class Plugins {
  private final String serviceName;
  private final MeshClock clock;
  private final ScheduledExecutorService scheduler;
  private final MeterRegistry meterRegistry;
  private final ClassLoader loader;

  public Plugins(String serviceName, MeshClock clock, ScheduledExecutorService scheduler, MeterRegistry meterRegistry) {
    this.serviceName = serviceName;
    this.clock = clock;
    this.scheduler = scheduler;
    this.meterRegistry = meterRegistry;
    this.loader = Plugins.class.getClassLoader();
  }

  /**
   * The certificate source {@code mesh.tls} asks for, started; null when it asks for none.
   *
   * @throws MeshConfigException naming the key when the source cannot be made
   */
  public CertificateSource certificates(TlsSettings tls) {
    if ("dev".equals(tls.certificates())) {
      WorkloadIdentity id = tls.identity();
      DevCertificateAuthority ca;
      if (tls.devCaDirectory() == null) {
        ca = DevCertificateAuthority.create(id.trustDomain(), clock, DevCertificateAuthority.DEFAULT_LEAF_LIFETIME);
      } else {
        try {
          ca = DevCertificateAuthority.shared(tls.devCaDirectory(), id.trustDomain(), clock,
              DevCertificateAuthority.DEFAULT_LEAF_LIFETIME);
        } catch (IllegalArgumentException | UncheckedIOException e) {
          throw new MeshConfigException("mesh.tls", "caDirectory", e.getMessage(), e);
        }
      }
      WorkloadIdentity own = id.isServiceAccount() ? id
          : WorkloadIdentity.of(id.trustDomain(), id.namespace(), id.datacenter(), serviceName);
      return ca.source(own).renewing(scheduler);
    }
    if ("files".equals(tls.certificates())) {
      try {
        return PemFileCertificateSource.load(tls.certChain(), tls.privateKey(), tls.trustBundle())
            .start(scheduler, tls.refreshInterval());
      } catch (IllegalArgumentException e) {
        throw new MeshConfigException("mesh.tls", "files", e.getMessage(), e);
      }
    }
    if (tls.fromProvider()) {
      String type = tls.certificates();
      for (CertificateSourceProvider p : ServiceLoader.load(CertificateSourceProvider.class, loader)) {
        if (p.type().equals(type)) {
          return p.create(context(tls.providerSettings(), null));
        }
      }
      throw new MeshConfigException("mesh.tls", "certificates", "no certificate source provider for type '" + type
          + "' on the classpath; built in are dev and files");
    }
    return null;
  }

  /**
   * The registry plug-in of {@code type}, created with the {@code mesh.registry.<type>} section.
   *
   * @throws MeshConfigException when no provider on the classpath serves the type
   */
  public ServiceRegistry registry(String type, ConfigNode section, PolicySink policies) {
    for (ServiceRegistryProvider p : ServiceLoader.load(ServiceRegistryProvider.class, loader)) {
      if (p.type().equals(type)) {
        return p.create(context(section, policies));
      }
    }
    throw new MeshConfigException("mesh.registry", "type", "no registry provider for type '" + type
        + "' on the classpath; for Consul add the io.meshup:mesh-consul-registry dependency, for etcd io.meshup:mesh-etcd-registry");
  }

  /**
   * The extension providers of {@code mesh.security.extensionProviders}, each made by the
   * {@link io.meshup.core.spi.ExternalAuthorizerProvider} of its type.
   *
   * @throws MeshConfigException when no provider on the classpath serves a type
   */
  public io.meshup.core.internal.authz.ExternalAuthorizers externalAuthorizers(
      java.util.List<io.meshup.core.internal.config.SecuritySettings.ExtensionProvider> entries) {
    if (entries.isEmpty()) {
      return io.meshup.core.internal.authz.ExternalAuthorizers.NONE;
    }
    java.util.Map<String, io.meshup.core.internal.authz.ExternalAuthorizers.Provider> made = new java.util.LinkedHashMap<>();
    try {
      for (io.meshup.core.internal.config.SecuritySettings.ExtensionProvider e : entries) {
        io.meshup.core.spi.ExternalAuthorizerProvider found = null;
        for (io.meshup.core.spi.ExternalAuthorizerProvider p : ServiceLoader.load(io.meshup.core.spi.ExternalAuthorizerProvider.class, loader)) {
          if (p.type().equals(e.type())) {
            found = p;
          }
        }
        if (found == null) {
          throw e.section().error("no provider of " + e.type() + " on the classpath; add the io.meshup:mesh-ext-authz dependency");
        }
        NodeSettings settings = new NodeSettings(e.section());
        io.meshup.core.spi.ExternalAuthorizer authorizer = found.create(new ProviderContext(e.name(), settings, serviceName,
            clock, scheduler, meterRegistry));
        made.put(e.name(), new io.meshup.core.internal.authz.ExternalAuthorizers.Provider(e.name(), e.type(), authorizer,
            e.timeout(), e.failOpen(), e.statusOnError()));
      }
    } catch (RuntimeException ex) {
      new io.meshup.core.internal.authz.ExternalAuthorizers(made).close();
      throw ex;
    }
    return new io.meshup.core.internal.authz.ExternalAuthorizers(made);
  }

  private record ProviderContext(String name, Settings settings, String serviceName, MeshClock clock,
      ScheduledExecutorService scheduler, MeterRegistry meterRegistry)
      implements io.meshup.core.spi.ExternalAuthorizerProvider.Context {}

  private PluginContext context(ConfigNode section, PolicySink policies) {
    return new PluginContext(serviceName, new NodeSettings(section), clock, scheduler, meterRegistry, policies);
  }

  /** What a plug-in (registry or certificate source) is given: its settings and the mesh's shared parts. */
  private record PluginContext(String serviceName, Settings settings, MeshClock clock,
      ScheduledExecutorService scheduler, MeterRegistry meterRegistry, PolicySink policies)
      implements RegistryContext, CertificateContext {}

  /**
   * One daemon thread; cancelled timers leave the queue at once (every request with a route
   * timeout schedules one and cancels it on completion).
   */
  public static ScheduledExecutorService defaultScheduler() {
    java.util.concurrent.ScheduledThreadPoolExecutor s = new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "meshup-scheduler");
      t.setDaemon(true);
      return t;
    });
    s.setRemoveOnCancelPolicy(true);
    return s;
  }
}
