package io.meshup.core;

import io.meshup.core.call.CallEngine;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.internal.authz.Authorizer;
import io.meshup.core.internal.bootstrap.CertificateExpiry;
import io.meshup.core.internal.bootstrap.DeferredPolicies;
import io.meshup.core.internal.bootstrap.Plugins;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.config.MeshSettings;
import io.meshup.core.internal.config.TlsSettings;
import io.meshup.core.internal.config.YamlReader;
import io.meshup.core.internal.registry.StaticRegistry;
import io.meshup.core.internal.routing.Defaults;
import io.meshup.core.internal.routing.MeshRuntime;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.internal.routing.ServiceRuntime;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.spi.CertificateSource;
import io.meshup.core.spi.ServiceRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The facade a service holds: its registry, its policy and one router per destination service.
 * Transports ({@code MeshChannels} in mesh-grpc, the HTTP client in mesh-http) take a {@code Mesh}
 * and route every request through {@link #router}.
 *
 * <p>Build it from the application YAML's {@code mesh:} section:
 *
 * <pre>{@code
 * try (Mesh mesh = Mesh.fromYaml(Path.of("application.yaml"))) { ... }
 * }</pre>
 *
 * <p>or with {@link #builder()}. Thread-safe. Closing it stops registry watches and the scheduler
 * it created (a scheduler passed in is left running).
 */
public final class Mesh implements AutoCloseable {
  private final String serviceName;
  private final MeshRuntime runtime;
  private final MeterRegistry meterRegistry;
  private final ScheduledExecutorService scheduler;
  private final boolean ownsScheduler;
  private final YamlReader yaml;
  private final CertificateSource certificates;
  private final boolean ownsCertificates;
  private final CertificateExpiry expiry;
  private final MtlsMode mtlsMode;
  private final Authorizer authorizer;
  private final CallEngine engine;
  private final java.time.Duration idleTimeout;
  private final Map<Class<?>, AutoCloseable> components = new LinkedHashMap<>();
  private final java.util.concurrent.ScheduledFuture<?> idleSweep;
  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicBoolean deregistered = new java.util.concurrent.atomic.AtomicBoolean();
  private final PathNormalization pathNormalization;
  private final java.util.Set<String> trustDomainAliases;
  private final io.meshup.core.internal.jwt.JwksCache jwks;
  private final io.meshup.core.internal.authz.ExternalAuthorizers externalAuthorizers;
  private final io.meshup.core.route.InboundTelemetry inboundTelemetry;
  private final io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry circuitBreakers;
  private io.meshup.core.internal.admin.AdminServer admin;

  private Mesh(Builder b, MeshSettings settings) {
    this.pathNormalization = b.pathNormalization != null ? b.pathNormalization : settings.pathNormalization();
    this.serviceName = settings.service();
    this.meterRegistry = b.meterRegistry != null ? b.meterRegistry
        : new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
    this.ownsScheduler = b.scheduler == null;
    this.scheduler = b.scheduler != null ? b.scheduler : Plugins.defaultScheduler();
    Plugins plugins = new Plugins(settings.service(), b.clock, scheduler, meterRegistry);
    this.yaml = new YamlReader(b.env);
    TlsSettings tls = settings.tls();
    this.ownsCertificates = b.certificates == null && tls.certificates() != null;
    try {
      this.certificates = b.certificates != null ? b.certificates : plugins.certificates(tls);
    } catch (RuntimeException e) {
      if (ownsScheduler) {
        scheduler.shutdownNow();
      }
      throw e;
    }
    String builtIn = b.certificates != null ? "application" : tls.fromProvider() ? null : tls.certificates();
    this.expiry = certificates == null || builtIn == null ? null
        : new CertificateExpiry(certificates, builtIn, settings.service(), b.clock, scheduler, meterRegistry);
    this.mtlsMode = b.mtlsMode != null ? b.mtlsMode
        : b.certificates != null && tls.certificates() == null ? MtlsMode.STRICT : tls.mode();
    DeferredPolicies deferred = new DeferredPolicies();
    ServiceRegistry registry;
    try {
      if (b.registry != null) {
        registry = b.registry;
      } else if (settings.registryType().equals("static")) {
        registry = new StaticRegistry(settings.staticServices());
      } else {
        registry = plugins.registry(settings.registryType(), settings.registrySettings(), deferred);
      }
    } catch (RuntimeException e) {
      closeCertificatesAndScheduler();
      throw e;
    }
    io.meshup.core.internal.config.SecuritySettings security = settings.security();
    List<String> aliases = b.trustDomainAliases != null ? b.trustDomainAliases : security.trustDomainAliases();
    this.trustDomainAliases = java.util.Set.copyOf(aliases);
    this.jwks = new io.meshup.core.internal.jwt.JwksCache(b.jwksFetcher, scheduler, b.clock,
        io.meshup.core.internal.jwt.JwksCache.DEFAULT_REFRESH, meterRegistry);
    try {
      this.externalAuthorizers = plugins.externalAuthorizers(security.extensionProviders());
    } catch (RuntimeException e) {
      jwks.close();
      registry.close();
      closeCertificatesAndScheduler();
      throw e;
    }
    Metrics metrics = new Metrics(meterRegistry);
    io.meshup.core.identity.WorkloadIdentity own = certificates == null ? null : certificates.current().identity();
    Map<String, String> labels = new LinkedHashMap<>(registry.labels());
    labels.putAll(security.labels());
    labels.putAll(b.labels);
    labels.put("app", serviceName);
    String namespace = b.namespace != null ? b.namespace : security.namespace();
    if (namespace != null && own != null && !namespace.equals(own.namespace())) {
      jwks.close();
      registry.close();
      closeCertificatesAndScheduler();
      throw new MeshConfigException("mesh", "namespace", "is " + ConfigNode.quote(namespace) + " but this workload's"
          + " certificate names namespace " + ConfigNode.quote(own.namespace()) + " (" + own + "); they must agree");
    }
    if (namespace == null) {
      namespace = own == null ? io.meshup.core.identity.WorkloadIdentity.DEFAULT_NAMESPACE : own.namespace();
    }
    io.meshup.core.internal.authz.Workload workload = new io.meshup.core.internal.authz.Workload(serviceName,
        namespace, labels,
        own == null ? null : own.trustDomain(), aliases, security.rootNamespace(), externalAuthorizers, jwks, b.clock,
        scheduler, meterRegistry, null, null);
    io.meshup.core.internal.jwt.JwksCache keys = jwks;
    this.circuitBreakers = b.circuitBreakers != null ? b.circuitBreakers
        : io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry.ofDefaults();
    this.runtime = new MeshRuntime(serviceName, b.clock, metrics, settings.defaults(), registry, workload,
        compiled -> keys.retain(compiled.keySources()), scheduler, b.random, circuitBreakers);
    this.authorizer = new Authorizer(runtime::inbound);
    this.engine = new CallEngine(b.clock, scheduler, certificates != null, settings.defaults().headersTimeout(),
        settings.defaults().discoveryTimeout(), b.random, b.openTelemetry);
    this.inboundTelemetry = new io.meshup.core.route.InboundTelemetry(meterRegistry, b.clock,
        io.meshup.core.internal.trace.Tracing.of(b.openTelemetry));
    this.idleTimeout = settings.defaults().idleTimeout();
    long idleNanos = idleTimeout.toNanos();
    long sweepNanos = Math.max(Math.min(idleNanos / 4, TimeUnit.SECONDS.toNanos(30)), TimeUnit.MILLISECONDS.toNanos(100));
    this.idleSweep = idleNanos <= 0 ? null : scheduler.scheduleWithFixedDelay(() -> {
      try {
        runtime.releaseIdle(idleNanos);
      } catch (RuntimeException | Error e) {
        org.slf4j.LoggerFactory.getLogger(Mesh.class).warn("meshup: the idle sweep failed", e);
      }
    }, sweepNanos, sweepNanos, TimeUnit.NANOSECONDS);
    try {
      // inline and files not named in mesh.policy.order rank lowest; then the named ones in order;
      // sources that are neither rank above all, in the order they first deliver documents
      List<String> order = new ArrayList<>();
      order.add("inline");
      order.addAll(settings.policyFiles().keySet());
      order.removeAll(settings.policyOrder());
      order.addAll(settings.policyOrder());
      runtime.orderSources(order);
      // every source at start is validated as one set, so a reference resolves whatever file holds its target
      Map<String, List<ConfigNode>> initial = new LinkedHashMap<>();
      if (!settings.inlinePolicies().isEmpty()) {
        initial.put("inline", settings.inlinePolicies());
      }
      initial.putAll(settings.policyFiles());
      for (Map.Entry<String, String> p : b.policyYaml.entrySet()) {
        initial.put(p.getKey(), yaml.readAll(p.getKey(), p.getValue()));
      }
      if (!initial.isEmpty()) {
        runtime.updatePolicySources(initial);
      }
      deferred.attach(runtime::orderSources, this::updatePolicies);
      java.net.InetSocketAddress adminAt = b.adminAddress != null ? b.adminAddress
          : settings.admin().enabled() ? new java.net.InetSocketAddress(settings.admin().address(), settings.admin().port())
          : null;
      if (adminAt != null) {
        admin = io.meshup.core.internal.admin.AdminServer.start(adminAt, meterRegistry, this::snapshot,
            () -> !closed.get());
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
    io.meshup.core.internal.bootstrap.OpenMeshes.opened(this);
  }

  /**
   * Builds a mesh from an application YAML file's {@code mesh:} section, with {@code ${VAR:default}}
   * taken from the process environment.
   *
   * @throws MeshConfigException naming the file, key path and what was expected
   */
  public static Mesh fromYaml(Path file) {
    return builder().yaml(file).build();
  }

  /** Builds a mesh from YAML text, as {@link #fromYaml(Path)}; errors name it {@code inline}. */
  public static Mesh fromYamlString(String yaml) {
    return builder().yaml(yaml).build();
  }

  /** A builder; everything but the service name has a default. */
  public static Builder builder() {
    return new Builder();
  }

  /** This service's name. */
  public String serviceName() {
    return serviceName;
  }

  /**
   * The router of a destination service (or of a host a VirtualService or ServiceEntry names); the
   * registry watch starts on first use. A short name ({@code payments}) is the service of this
   * workload's namespace ({@code payments.<namespace>.svc.cluster.local}); any other name is a host
   * as it is written ({@code payments.prod.svc.cluster.local}, {@code api.example.com}).
   *
   * @throws IllegalArgumentException when the registry is static, does not list the service and no
   *     VirtualService names it
   */
  public ServiceRouter router(String service) {
    String host = runtime.hosts().clientHost(service);
    if (!runtime.policy().known(host, runtime.registry()::isKnown) && runtime.policy().virtualService(host).isEmpty()) {
      throw new IllegalArgumentException("service '" + service + "' is not in the registry and no VirtualService"
          + " names it; the static registry lists only the services under mesh.registry.static.services");
    }
    return runtime.runtime(host);
  }

  /**
   * Replaces the documents of one policy source with those in {@code yamlDocuments} (one or more
   * YAML documents) and applies the whole policy, or rejects it whole. A later source overrides an
   * earlier one per destination host; sources rank in the order first seen (inline, files, then
   * updates).
   *
   * @param source a name for the source, used in errors, logs and the {@code mesh.policy.updates} metric
   * @throws MeshConfigException naming the source, document and field; the last good policy keeps serving
   */
  public void updatePolicies(String source, String yamlDocuments) {
    updatePolicies(source, Map.of(source, yamlDocuments));
  }

  /**
   * The policy sources in precedence order, lowest first, with how many documents each holds now;
   * a later source's document for a host replaces an earlier one's.
   */
  public Map<String, Integer> policySources() {
    return runtime.sources();
  }

  /**
   * As {@link #updatePolicies(String, String)}, for a source made of several texts, each named by
   * its origin (for example a Consul KV key) in errors and in {@link #policyOrigins()}.
   */
  public void updatePolicies(String source, Map<String, String> yamlByOrigin) {
    List<ConfigNode> docs = new ArrayList<>();
    try {
      for (Map.Entry<String, String> e : yamlByOrigin.entrySet()) {
        docs.addAll(yaml.readAll(e.getKey(), Objects.requireNonNull(e.getValue(), "the text of " + e.getKey())));
      }
    } catch (MeshConfigException e) {
      runtime.rejected(source, e);
      throw e;
    } catch (RuntimeException | StackOverflowError e) {
      MeshConfigException m = new MeshConfigException(source, "", "cannot be read (" + e + ")", e);
      runtime.rejected(source, m);
      throw m;
    }
    runtime.updatePolicySource(source, docs);
  }

  /** The documents in force, as "source: Kind name", in order; for logs and admin views. */
  public List<String> policyOrigins() {
    return runtime.policy().origins();
  }

  /**
   * Everything in force now: policy sources (with their last accepted and rejected update), the
   * documents in force, every destination's routes, subsets, endpoints, breakers and registry
   * health, this workload's certificate and the mutual TLS mode. The admin endpoint serves it as
   * {@code /config_dump}; frameworks may serve it their own way. Thread-safe; reads no lock the
   * request path takes.
   */
  public MeshSnapshot snapshot() {
    MeshSnapshot.Certificate cert = null;
    if (certificates != null) {
      io.meshup.core.identity.Credentials c = certificates.current();
      java.security.cert.X509Certificate leaf = c.leaf();
      cert = new MeshSnapshot.Certificate(c.identity().toString(), leaf.getSerialNumber().toString(16),
          leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(), c.trustBundle().size());
    }
    MtlsMode peer = authorizer.peerAuthenticationMode();
    return new MeshSnapshot(serviceName, java.time.Instant.ofEpochMilli(runtime.clock().currentTimeMillis()),
        io.meshup.core.internal.routing.RuntimeSnapshot.ready(runtime),
        new MeshSnapshot.Mtls(mtlsMode.name(), peer == null ? null : peer.name()), cert,
        io.meshup.core.internal.routing.RuntimeSnapshot.sources(runtime), runtime.policy().origins(),
        io.meshup.core.internal.routing.RuntimeSnapshot.destinations(runtime));
  }

  /**
   * Where the admin endpoint listens ({@code mesh.admin}, {@link Builder#adminAddress}); empty when
   * it is off (the default).
   */
  public Optional<java.net.InetSocketAddress> adminAddress() {
    return admin == null ? Optional.empty() : Optional.of(admin.address());
  }

  /**
   * The Resilience4j registry holding the circuit breaker of every destination subset in force
   * (named as in errors: {@code payments subset v2}); breakers leave it when their subset does.
   * Bind resilience4j-micrometer's {@code TaggedCircuitBreakerMetrics} to it, or pass your own
   * registry to {@link Builder#circuitBreakerRegistry}.
   */
  public io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry circuitBreakers() {
    return circuitBreakers;
  }

  /**
   * What this service's servers record of each inbound call (the {@code mesh.server.requests} timer
   * and, with a tracer installed, a SERVER span continuing the caller's trace); for transports.
   */
  public io.meshup.core.route.InboundTelemetry inboundTelemetry() {
    return inboundTelemetry;
  }

  /**
   * The meter registry MeshUp reports to: the one given to {@link Builder#meterRegistry}, else a
   * {@code PrometheusMeterRegistry} of its own (which the admin endpoint's {@code /metrics} serves).
   */
  public MeterRegistry meterRegistry() {
    return meterRegistry;
  }

  /** The clock MeshUp measures with. */
  public MeshClock clock() {
    return runtime.clock();
  }

  /**
   * This workload's certificate source, from {@code mesh.tls.certificates} or
   * {@link Builder#certificates}; empty when the mesh runs plaintext. Transports read its current
   * credentials at every TLS handshake.
   */
  public Optional<CertificateSource> certificates() {
    return Optional.ofNullable(certificates);
  }

  /**
   * What this workload's servers accept ({@code mesh.tls.mode}): STRICT by default when the mesh has
   * certificates, DISABLE when it has none.
   */
  public MtlsMode mtlsMode() {
    return mtlsMode;
  }

  /**
   * Authorizes this service's inbound calls against the AuthorizationPolicy and PeerAuthentication
   * documents (and Consul intentions) in force at each call; transports such as
   * {@code MeshServers} call it before the application's handler runs.
   */
  public InboundAuthorizer authorizer() {
    return authorizer;
  }

  /**
   * How this service's HTTP servers normalize request paths before authorizing them
   * ({@code mesh.security.pathNormalization}); BASE by default.
   */
  public PathNormalization pathNormalization() {
    return pathNormalization;
  }

  /**
   * The trust domains besides this workload's own whose callers its servers accept and whose
   * principals AuthorizationPolicies treat as its own ({@code mesh.security.trustDomainAliases},
   * Istio's {@code trustDomainAliases}); empty by default.
   */
  public java.util.Set<String> trustDomainAliases() {
    return trustDomainAliases;
  }

  /** The compiled inbound policy in force, for this package's tests. */
  io.meshup.core.internal.authz.InboundPolicy inboundPolicy() {
    return authorizer.policy();
  }

  /** The scheduler for timers (retry backoff, injected delays); never runs blocking work. */
  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /**
   * The endpoints the mesh currently routes {@code service} to (all of them, ejected or not), as
   * the registry last reported them; starts the watch on first use. For admin views and tests.
   */
  public List<Endpoint> endpoints(String service) {
    return runtime.runtime(service).endpoints();
  }

  /** The runtime behind a router, for this package's tests. */
  ServiceRuntime runtimeOf(String service) {
    return runtime.runtime(service);
  }

  /**
   * The engine that runs this mesh's logical calls; transports extend
   * {@link io.meshup.core.call.EngineCall} and start their calls on it.
   */
  public CallEngine callEngine() {
    return engine;
  }

  /**
   * The one instance of a transport's per-mesh resource (a connection pool, say), created by
   * {@code factory} on first use and closed when the mesh closes, after the drain and before the
   * registry. For transports; thread-safe.
   *
   * @throws IllegalStateException once the mesh is closed
   */
  public <T extends AutoCloseable> T component(Class<T> type, java.util.function.Supplier<? extends T> factory) {
    synchronized (components) {
      if (closed.get()) {
        throw new IllegalStateException("meshup: the mesh of " + serviceName + " is closed");
      }
      AutoCloseable c = components.get(type);
      if (c == null) {
        c = Objects.requireNonNull(factory.get(), "factory result");
        components.put(type, c);
      }
      return type.cast(c);
    }
  }

  /**
   * How long a destination no call used keeps its state ({@code mesh.defaults.idleTimeout}, 5 min by
   * default; zero for ever); transports release what they keep per destination after it too.
   */
  public java.time.Duration idleTimeout() {
    return idleTimeout;
  }

  /** How many destinations the mesh holds state for now (for tests and admin views). */
  public int destinationCount() {
    return runtime.destinationCount();
  }

  /**
   * The first step of {@link #close()} on its own: deregisters this service from its registry and
   * keeps routing and serving for the registry's drain time, so that callers stop picking it while
   * it still answers. A framework calls it when its shutdown begins, before its servers stop
   * accepting calls, and closes the mesh after them (the Spring Boot starter does);
   * {@link #close()} then skips this step. Idempotent; blocks for the drain.
   */
  public void deregister() {
    if (!deregistered.compareAndSet(false, true)) {
      return;
    }
    try {
      java.time.Duration drain = runtime.registry().deregister();
      if (drain != null && !drain.isZero() && !drain.isNegative()) {
        new java.util.concurrent.CountDownLatch(1).await(drain.toNanos(), TimeUnit.NANOSECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      org.slf4j.LoggerFactory.getLogger(Mesh.class).warn("meshup: deregistering {} failed", serviceName, e);
    }
  }

  /**
   * Closes the mesh: deregisters this service from its registry, keeps routing calls to the
   * endpoints it knows for the registry's drain time (so callers that still pick this service are
   * served and this service's own calls go on), then ends calls waiting on a delay or backoff
   * ({@code SHUT_DOWN}), closes the transports' connections, stops every registry watch and the
   * scheduler it created (a scheduler passed in is left running). Idempotent; blocks for the drain.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    io.meshup.core.internal.bootstrap.OpenMeshes.closed(this);
    if (admin != null) {
      admin.close();
    }
    ServiceRegistry registry = runtime.registry();
    deregister();
    if (idleSweep != null) {
      idleSweep.cancel(false);
    }
    engine.shutdown();
    List<AutoCloseable> toClose;
    synchronized (components) {
      toClose = new ArrayList<>(components.values());
      components.clear();
    }
    java.util.Collections.reverse(toClose);
    for (AutoCloseable c : toClose) {
      try {
        c.close();
      } catch (Exception e) {
        org.slf4j.LoggerFactory.getLogger(Mesh.class).warn("meshup: closing {} failed", c, e);
      }
    }
    runtime.close();
    jwks.close();
    externalAuthorizers.close();
    registry.close();
    closeCertificatesAndScheduler();
  }

  private void closeCertificatesAndScheduler() {
    if (expiry != null) {
      expiry.close();
    }
    if (ownsCertificates && certificates != null) {
      certificates.close();
    }
    if (ownsScheduler) {
      scheduler.shutdownNow();
      try {
        scheduler.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Builds a {@link Mesh}. Not thread-safe; {@link #build()} copies what it needs. */
  public static final class Builder {
    private String service;
    private Path yamlFile;
    private String yamlText;
    private ConfigNode boundTree;
    private ServiceRegistry registry;
    private final Map<String, List<Endpoint>> staticEndpoints = new LinkedHashMap<>();
    private final Map<String, String> policyYaml = new LinkedHashMap<>();
    private MeterRegistry meterRegistry;
    private MeshClock clock = MeshClock.system();
    private ScheduledExecutorService scheduler;
    private Function<String, String> env = System::getenv;
    private CertificateSource certificates;
    private MtlsMode mtlsMode;
    private java.util.function.LongBinaryOperator random;
    private PathNormalization pathNormalization;
    private List<String> trustDomainAliases;
    private final Map<String, String> labels = new LinkedHashMap<>();
    private io.meshup.core.internal.jwt.JwksCache.Fetcher jwksFetcher;
    private String namespace;
    private io.opentelemetry.api.OpenTelemetry openTelemetry;
    private io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry circuitBreakers;
    private java.net.InetSocketAddress adminAddress;

    private Builder() {}

    /**
     * This workload's namespace (overrides {@code mesh.namespace}): short names in policies resolve in
     * it ({@code reviews} is {@code reviews.<namespace>.svc.cluster.local}), and documents exported to it
     * apply. By default the namespace of the workload's certificate, else {@code default}.
     */
    public Builder namespace(String namespace) {
      this.namespace = Objects.requireNonNull(namespace, "namespace");
      return this;
    }

    /**
     * Serves the admin endpoint on this address (overrides {@code mesh.admin}); port 0 lets the
     * system pick one ({@link Mesh#adminAddress()} tells which). Prefer a loopback address: it
     * shows the mesh's configuration to whoever reaches it.
     */
    public Builder adminAddress(java.net.InetSocketAddress address) {
      this.adminAddress = Objects.requireNonNull(address, "address");
      return this;
    }

    /**
     * Keeps the subsets' circuit breakers in this Resilience4j registry (the application's, which
     * its tooling already watches); by default one of the mesh's own ({@link Mesh#circuitBreakers()}).
     */
    public Builder circuitBreakerRegistry(io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry registry) {
      this.circuitBreakers = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Traces through this OpenTelemetry: a span per logical call and per attempt, a SERVER span per
     * inbound call, and trace context on the wire by its propagators (W3C {@code traceparent} when
     * it configures none). By default the global OpenTelemetry when one was installed (the Java
     * agent, {@code GlobalOpenTelemetry.set}); with none, nothing is traced and nothing allocated.
     */
    public Builder openTelemetry(io.opentelemetry.api.OpenTelemetry openTelemetry) {
      this.openTelemetry = Objects.requireNonNull(openTelemetry, "openTelemetry");
      return this;
    }

    /**
     * Adds labels of this workload, which policies' {@code selector.matchLabels} match (overrides
     * {@code mesh.labels}); {@code app} is always the service's name.
     */
    public Builder labels(Map<String, String> labels) {
      this.labels.putAll(labels);
      return this;
    }

    /** Fetches JWKS URLs with this function (this package's tests); by default the JDK's HTTP client. */
    Builder jwksFetcher(io.meshup.core.internal.jwt.JwksCache.Fetcher fetcher) {
      this.jwksFetcher = fetcher;
      return this;
    }

    /** Trust domains treated as this workload's own (overrides {@code mesh.security.trustDomainAliases}). */
    public Builder trustDomainAliases(List<String> aliases) {
      this.trustDomainAliases = aliases.stream().map(a -> a.toLowerCase(java.util.Locale.ROOT)).toList();
      return this;
    }

    /** How HTTP servers normalize request paths (overrides {@code mesh.security.pathNormalization}). */
    public Builder pathNormalization(PathNormalization mode) {
      this.pathNormalization = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /**
     * Draws retry backoff jitter with this function (a long in [origin, bound)); tests pass a fixed
     * one. By default {@link java.util.concurrent.ThreadLocalRandom}.
     */
    public Builder random(java.util.function.LongBinaryOperator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * Uses these credentials for mutual TLS (overrides {@code mesh.tls.certificates}): client
     * connections then use TLS and verify each server's SPIFFE ID, and servers built with
     * {@code MeshServers} require it per {@link #mtlsMode}. The mesh does not close the source.
     */
    public Builder certificates(CertificateSource source) {
      this.certificates = Objects.requireNonNull(source, "source");
      return this;
    }

    /** What servers accept (overrides {@code mesh.tls.mode}); STRICT by default with certificates. */
    public Builder mtlsMode(MtlsMode mode) {
      this.mtlsMode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** Reads the {@code mesh:} section of this file; other settings of the builder add to it. */
    public Builder yaml(Path file) {
      this.yamlFile = Objects.requireNonNull(file, "file");
      return this;
    }

    /** Reads the {@code mesh:} section of this YAML text. */
    public Builder yaml(String text) {
      this.yamlText = Objects.requireNonNull(text, "text");
      return this;
    }

    /**
     * Reads the {@code mesh:} section of a tree that a framework built from its own configuration
     * ({@link ConfigNode#bound}: the Spring Boot starter builds it from its {@code Environment}),
     * with the same checks and messages as {@link #yaml(Path)}; each error names the node's own
     * origin. For framework integrations.
     */
    public Builder boundSettings(ConfigNode root) {
      this.boundTree = Objects.requireNonNull(root, "root");
      return this;
    }

    /** This service's name (overrides {@code mesh.service}). */
    public Builder service(String name) {
      this.service = Objects.requireNonNull(name, "name");
      return this;
    }

    /** Adds static endpoints of a destination (used when no registry is set). */
    public Builder endpoints(String service, List<Endpoint> endpoints) {
      this.staticEndpoints.put(service, List.copyOf(endpoints));
      return this;
    }

    /** Uses this registry instead of the static one. */
    public Builder registry(ServiceRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /** Adds a policy source of YAML documents, applied after the YAML's own. */
    public Builder policies(String source, String yamlDocuments) {
      this.policyYaml.put(Objects.requireNonNull(source, "source"), Objects.requireNonNull(yamlDocuments, "yamlDocuments"));
      return this;
    }

    /** Reports to this registry; by default a {@code PrometheusMeterRegistry} of the mesh's own. */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /** Measures time with this clock (tests pass a fake). */
    public Builder clock(MeshClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Runs timers on this scheduler; the mesh does not shut it down. */
    public Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /** Looks up {@code ${VAR}} with this function instead of the process environment. */
    public Builder env(Function<String, String> env) {
      this.env = Objects.requireNonNull(env, "env");
      return this;
    }

    /**
     * Builds the mesh, reading and validating every setting and policy document.
     *
     * @throws MeshConfigException naming the place of the first problem
     */
    public Mesh build() {
      MeshSettings s;
      if (yamlFile != null) {
        s = MeshSettings.read(yamlFile, env);
      } else if (yamlText != null) {
        s = MeshSettings.parse("inline", yamlText, env, null);
      } else if (boundTree != null) {
        s = MeshSettings.parse(boundTree.source(), boundTree, env, null);
      } else {
        if (service == null) {
          throw new IllegalStateException("set service(name) or yaml(...)");
        }
        s = new MeshSettings(service, "static", Map.of(), List.of(), Map.of(), Defaults.BUILT_IN,
            null, List.of());
      }
      Map<String, List<Endpoint>> statics = new LinkedHashMap<>(s.staticServices());
      statics.putAll(staticEndpoints);
      s = new MeshSettings(service != null ? service : s.service(), s.registryType(), statics,
          new ArrayList<>(s.inlinePolicies()), s.policyFiles(), s.defaults(), s.registrySettings(), s.policyOrder(),
          s.tls(), s.pathNormalization(), s.security(), s.admin());
      if (mtlsMode != null && mtlsMode != MtlsMode.DISABLE && certificates == null && s.tls().certificates() == null) {
        throw new MeshConfigException("mesh.tls", "mode", "is " + mtlsMode
            + " but the mesh has no certificates; set mesh.tls.certificates or Mesh.Builder.certificates(...)");
      }
      return new Mesh(this, s);
    }
  }
}
