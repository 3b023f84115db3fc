package io.meshup.core.internal.routing;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.Endpoint;
import io.meshup.core.MeshClock;
import io.meshup.core.internal.policy.PolicyModel.DestinationRule;
import io.meshup.core.internal.policy.PolicyModel.Destination;
import io.meshup.core.internal.policy.PolicyModel.HttpRoute;
import io.meshup.core.internal.policy.PolicyModel.Subset;
import io.meshup.core.internal.policy.PolicyModel.TrafficPolicy;
import io.meshup.core.internal.policy.PolicyModel.VirtualService;
import io.meshup.core.internal.policy.PolicyModel;
import io.meshup.core.internal.policy.PolicyModel.HeaderOps;
import io.meshup.core.internal.policy.PolicyModel.Mirror;
import io.meshup.core.internal.policy.PolicyModel.RequestMatch;
import io.meshup.core.internal.policy.PolicyModel.ServiceEntry;
import io.meshup.core.internal.policy.Hosts;
import io.meshup.core.internal.policy.StringMatch;
import io.meshup.core.route.ClientTls;
import io.meshup.core.internal.policy.PolicySet;
import io.meshup.core.internal.resilience.RetryBudget;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RetryPolicy;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.RoutePolicy;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.spi.ServiceRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Everything the mesh knows about one destination service: endpoint states, subsets, routes and
 * the retry budget. The request path ({@link #select}) reads one volatile array of compiled
 * routes; the control methods run under the mesh's control lock and publish whole new arrays.
 */
public final class ServiceRuntime implements ServiceRouter {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ServiceRuntime.class);
  /** Peak-EWMA starting estimate, 30 ms as Finagle and Linkerd. */
  static final long INITIAL_RTT_NANOS = TimeUnit.MILLISECONDS.toNanos(30);

  private final String service;
  /** The label a subset no DestinationRule defines selects by: no endpoint has it. */
  private static final String UNDEFINED_SUBSET_LABEL = "\u0000meshup-undefined-subset";
  /** The destination's host in full ({@code reviews.default.svc.cluster.local}, {@code api.example.com}). */
  private final String host;
  /** The service name its servers' SPIFFE IDs carry. */
  private String identity;
  private final MeshRuntime mesh;
  private final RetryBudget budget;
  private Metrics.Owner subsetMeters;
  private Metrics.Owner routeMeters;
  /** When a call last used this destination (mesh clock); written opaque per call, read by the idle sweep. */
  private long lastUsed;
  private static final java.lang.invoke.VarHandle LAST_USED;

  static {
    try {
      LAST_USED = java.lang.invoke.MethodHandles.lookup().findVarHandle(ServiceRuntime.class, "lastUsed", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
  private volatile boolean released;
  /** The ServiceEntry this destination's endpoints come from, or null for the registry's. */
  private ServiceEntry serviceEntry;
  private ServiceRegistry.Watch watch;
  private Map<String, EndpointState> states = Map.of();
  private List<EndpointState> endpoints = List.of();
  private volatile boolean endpointsKnown;
  /** The registry's failure before its first answer, or null. */
  private volatile String discoveryError;
  private final java.util.concurrent.atomic.AtomicInteger registryFailures = new java.util.concurrent.atomic.AtomicInteger();
  /** Calls waiting for the registry's first answer (or failure); guarded by this. */
  private List<Runnable> discoveryWaiters;
  /** Since when (mesh clock) an empty answer is held off, 0 when none is; guarded by the mesh's lock. */
  private long emptySince;
  private java.util.concurrent.ScheduledFuture<?> emptyTimer;
  private volatile Map<String, SubsetRuntime> subsets = Map.of();
  private volatile CompiledRoute[] routes = new CompiledRoute[0];
  /** The registry's last error for this destination (null when none since the last answer), and when. */
  private volatile Throwable watchError;
  private volatile long watchErrorMillis;
  private final java.util.concurrent.atomic.AtomicLong watchErrors = new java.util.concurrent.atomic.AtomicLong();
  /** mesh.registry.errors of this destination, held by the subsets' meters; null once released. */
  private volatile io.micrometer.core.instrument.Counter registryErrors;

  ServiceRuntime(String host, MeshRuntime mesh) {
    this.host = host;
    this.service = mesh.hosts().registryName(host);
    this.identity = Hosts.identityName(host);
    this.mesh = mesh;
    LAST_USED.setVolatile(this, mesh.clock().nanoTime());
    Defaults d = mesh.defaults();
    this.budget = new RetryBudget(d.retryBudgetTtl().toNanos(), d.retryBudgetPercent(), d.retryBudgetMinPerSecond());
  }

  @Override
  public String service() {
    return service;
  }

  @Override
  public RouteTarget select(RequestAttributes request) {
    if (released) {
      // a router kept by a client across this destination's idle release: route by the new runtime
      return mesh.runtime(host).select(request);
    }
    CompiledRoute[] rs = routes;
    for (CompiledRoute r : rs) {
      int m = r.match(request);
      if (m >= 0) {
        return r.pick(m);
      }
    }
    return null;
  }

  /** The destination's host in full. */
  public String host() {
    return host;
  }

  MeshClock clock() {
    return mesh.clock();
  }

  /** Notes that a call used this destination (no fence: the idle sweep may see it a moment late). */
  void touch(long now) {
    LAST_USED.setOpaque(this, now);
  }

  long lastUsed() {
    return (long) LAST_USED.getOpaque(this);
  }

  boolean released() {
    return released;
  }

  /** Calls in flight to any subset of this destination. */
  int active() {
    int n = 0;
    for (SubsetRuntime s : subsets.values()) {
      n += s.active();
    }
    return n;
  }

  /** Marks this destination as declared by {@code e}: its endpoints are the entry's. Under the mesh's lock. */
  void serviceEntry(ServiceEntry e) {
    this.serviceEntry = e;
    // a ServiceEntry's subjectAltNames name its servers: a SPIFFE ID gives the identity mutual TLS checks
    for (String san : e.subjectAltNames()) {
      if (san.startsWith("spiffe://")) {
        try {
          identity = io.meshup.core.identity.WorkloadIdentity.parse(san).service();
          break;
        } catch (IllegalArgumentException ex) {
          // not a SPIFFE ID MeshUp reads: the host stays the identity
        }
      }
    }
  }

  ServiceEntry serviceEntry() {
    return serviceEntry;
  }

  void watch(ServiceRegistry.Watch w) {
    this.watch = w;
  }

  /**
   * Releases everything this destination holds: its registry watch, its endpoints (transports
   * close their connections to them) and its meters. A router kept past this routes through a
   * fresh runtime. Control path, under the mesh's lock.
   */
  /**
   * Marks this destination released (its listener ignores later deliveries) and drops its
   * endpoints and meters; returns its registry watch, which the caller closes once it holds no
   * lock a delivery takes (a registry's close may wait for a delivery in progress). Under the
   * mesh's lock.
   */
  ServiceRegistry.Watch release() {
    released = true;
    if (emptyTimer != null) {
      emptyTimer.cancel(false);
      emptyTimer = null;
    }
    ServiceRegistry.Watch w = watch;
    watch = null;
    for (EndpointState e : states.values()) {
      e.markRemoved();
    }
    for (SubsetRuntime s : subsets.values()) {
      s.unregisterBreaker(mesh.breakers());
    }
    registryErrors = null;
    mesh.metrics().replace(routeMeters, null);
    mesh.metrics().replace(subsetMeters, null);
    routeMeters = null;
    subsetMeters = null;
    return w;
  }

  RetryBudget retryBudget() {
    return budget;
  }

  /** True once the registry has answered at least once. */
  public boolean endpointsKnown() {
    return endpointsKnown;
  }

  /** The current endpoints (snapshot). */
  public List<Endpoint> endpoints() {
    List<EndpointState> e = endpoints;
    List<Endpoint> out = new ArrayList<>(e.size());
    for (EndpointState s : e) {
      out.add(s.endpoint());
    }
    return out;
  }

  /** The subset runtime by name ({@code ""} for all endpoints), if defined. */
  public Optional<SubsetRuntime> subset(String name) {
    return Optional.ofNullable(subsets.get(name));
  }

  /** The endpoint state by endpoint id (for tests and the admin view). */
  public Optional<EndpointState> endpointState(String id) {
    return Optional.ofNullable(states.get(id));
  }

  // ---- control path (under the mesh's control lock) ------------------------------------


  /** The registry's last error since it last delivered endpoints, or null. */
  public Throwable watchError() {
    return watchError;
  }

  /** When {@link #watchError()} happened (wall-clock millis). */
  public long watchErrorMillis() {
    return watchErrorMillis;
  }

  /** Errors the registry reported for this destination so far. */
  public long watchErrors() {
    return watchErrors.get();
  }

  /** The subsets in force, {@code ""} (all endpoints) first. */
  public List<SubsetRuntime> subsets() {
    return List.copyOf(subsets.values());
  }

  /** The compiled routes in force, in match order. */
  List<CompiledRoute> routes() {
    return List.of(routes);
  }

  /** The endpoint states (snapshot), in registry order. */
  public List<EndpointState> endpointStates() {
    return endpoints;
  }

  /**
   * The registry's answer: the endpoints replace the current ones, except that an empty answer
   * after a non-empty one, coming just after failed refreshes, is held off for {@code
   * mesh.defaults.emptyEndpointsGrace} (a registry that was reset, an agent restarted with an empty
   * catalog: gRFC A53's case), logged and counted; a non-empty answer ends the hold, and the empty
   * one applies if nothing else came by then. An empty answer from a registry that kept answering
   * (the last instance deregistered or failing its health checks) applies at once. Under the mesh's
   * lock; calls waiting for the first answer are let go by {@link #takeDiscoveryWaiters}.
   */
  void updateEndpoints(List<Endpoint> update) {
    watchError = null;
    long now = mesh.clock().nanoTime();
    long grace = mesh.defaults().emptyEndpointsGrace().toNanos();
    boolean afterFailure = registryFailures.get() > 0;
    if (update.isEmpty() && !endpoints.isEmpty() && grace > 0 && (afterFailure || emptySince != 0)) {
      if (emptySince == 0) {
        emptySince = now;
        long since = now;
        mesh.metrics().emptyAnswerHeld();
        log.warn("{}: the registry answers again but lists no endpoints; the last {} keep serving for {} ms "
            + "(mesh.defaults.emptyEndpointsGrace) in case it was reset", service, endpoints.size(),
            TimeUnit.NANOSECONDS.toMillis(grace));
        emptyTimer = mesh.schedule(() -> mesh.emptyGraceOver(this, since), grace);
      }
      return;
    }
    if (emptySince != 0) {
      emptySince = 0;
      if (emptyTimer != null) {
        emptyTimer.cancel(false);
        emptyTimer = null;
      }
      if (!update.isEmpty()) {
        log.info("{}: the registry lists {} endpoints again", service, update.size());
      }
    }
    apply(update, now);
  }

  /** The empty answer held since {@code since} is still the last word: apply it. Under the mesh's lock. */
  void emptyGraceOver(long since) {
    if (emptySince != since || released) {
      return;
    }
    emptySince = 0;
    emptyTimer = null;
    log.warn("{}: the registry still lists no endpoints after the grace period; dropping the last {}", service,
        endpoints.size());
    apply(List.of(), mesh.clock().nanoTime());
  }

  private void apply(List<Endpoint> update, long now) {
    Map<String, EndpointState> next = new LinkedHashMap<>();
    double seed = -1;
    for (Endpoint e : update) {
      EndpointState old = states.get(e.id());
      if (old != null && old.endpoint().equals(e)) {
        next.put(e.id(), old);
        continue;
      }
      EndpointState fresh = new EndpointState(e, identity, now, INITIAL_RTT_NANOS);
      if (seed == -1) {
        seed = peerEstimate(now);
      }
      if (seed > 0) {
        fresh.seed(now, seed);
      }
      next.put(e.id(), fresh);
    }
    List<EndpointState> list = List.copyOf(next.values());
    for (SubsetRuntime s : subsets.values()) {
      s.setMembers(list);
    }
    Map<String, EndpointState> previous = states;
    states = next;
    endpoints = list;
    endpointsKnown = true;
    for (EndpointState old : previous.values()) {
      if (next.get(old.endpoint().id()) != old) {
        old.markRemoved();
      }
    }
  }

  /**
   * The median latency estimate of the current endpoints with a recent one, for a new endpoint to
   * start from (Finagle and Linkerd seed a new endpoint from its peers); 0 when none has one, and
   * the new endpoint is then probed as an unknown one.
   */
  private double peerEstimate(long now) {
    List<EndpointState> current = endpoints;
    double[] costs = new double[current.size()];
    int n = 0;
    for (EndpointState e : current) {
      if (!e.stale(now)) {
        costs[n++] = e.cost(now, io.meshup.core.internal.lb.Balancer.EWMA_TAU_NANOS);
      }
    }
    if (n == 0) {
      return 0;
    }
    java.util.Arrays.sort(costs, 0, n);
    return costs[n / 2];
  }

  /**
   * The registry reported a failure (the last endpoints keep serving): kept for the snapshot,
   * counted in {@code mesh.registry.errors}; returns how many refreshes failed in a row.
   */
  int registryFailed(Throwable error) {
    watchErrors.incrementAndGet();
    io.micrometer.core.instrument.Counter c = registryErrors;
    if (c != null) {
      c.increment();
    }
    watchErrorMillis = mesh.clock().currentTimeMillis();
    watchError = error;
    return registryFailures.incrementAndGet();
  }

  /** The registry answered; returns how many refreshes had failed in a row before. */
  int registryAnswered() {
    return registryFailures.getAndSet(0);
  }

  /** The registry failed before its first answer: waiting calls fail with {@code error}. */
  void discoveryFailed(Throwable error) {
    if (!endpointsKnown && discoveryError == null) {
      discoveryError = String.valueOf(error);
    }
  }

  /** The registry's failure before its first answer, or null. */
  public String discoveryError() {
    return discoveryError;
  }

  /**
   * Registers {@code waiter} to run once the registry first answers about this destination or
   * fails; false (and nothing registered) when it already did.
   */
  public boolean awaitEndpoints(Runnable waiter) {
    synchronized (this) {
      if (endpointsKnown || discoveryError != null || released) {
        return false;
      }
      if (discoveryWaiters == null) {
        discoveryWaiters = new ArrayList<>();
      }
      discoveryWaiters.add(waiter);
      return true;
    }
  }

  /** How many calls wait for the registry's first answer (tests, the admin view). */
  public int discoveryWaiters() {
    synchronized (this) {
      return discoveryWaiters == null ? 0 : discoveryWaiters.size();
    }
  }

  /** Withdraws {@code waiter} (its call ended before the answer). */
  void stopAwaiting(Runnable waiter) {
    synchronized (this) {
      if (discoveryWaiters != null) {
        discoveryWaiters.remove(waiter);
      }
    }
  }

  /** Takes the calls waiting for the first answer, once it (or a failure) came; to be run outside the mesh's lock. */
  List<Runnable> takeDiscoveryWaiters() {
    synchronized (this) {
      if (discoveryWaiters == null || (!endpointsKnown && discoveryError == null && !released)) {
        return List.of();
      }
      List<Runnable> w = discoveryWaiters;
      discoveryWaiters = null;
      return w;
    }
  }

  void rebuildSubsets(PolicySet policy) {
    Defaults defaults = mesh.defaults();
    Optional<DestinationRule> rule = policy.destinationRule(host);
    TrafficPolicy base = rule.map(DestinationRule::trafficPolicy).orElse(TrafficPolicy.EMPTY);
    Optional<ServiceEntry> entry = policy.serviceEntry(host);
    PolicyModel.ServicePort entryPort = entry.map(ServiceEntries::port).orElse(null);
    int callPort = entryPort != null ? entryPort.number() : 0; // a ServiceEntry host is called on its port
    if (entryPort != null) {
      base = base.forPort(callPort);
    }
    if (base.tlsFiles() != null && base.tlsFiles().subjectAltNames().isEmpty() && entry.isPresent()
        && !entry.get().subjectAltNames().isEmpty()) {
      // "If specified, this list overrides the value of subject_alt_names from the ServiceEntry"
      PolicyModel.TlsFiles f = base.tlsFiles();
      base = new TrafficPolicy(base.loadBalancer(), base.connectionPool(), base.outlierDetection(), base.circuitBreaker(),
          base.tls(), base.hash(), base.locality(), new PolicyModel.TlsFiles(f.mode(), f.clientCertificate(),
          f.privateKey(), f.caCertificates(), f.sni(), entry.get().subjectAltNames(), f.insecureSkipVerify()),
          base.portLevel());
    }
    if (base.tls() == null && entry.map(ServiceEntry::external).orElse(false)) {
      // a destination outside the mesh has no mesh certificate: plaintext unless the rule says otherwise
      base = new TrafficPolicy(base.loadBalancer(), base.connectionPool(), base.outlierDetection(), base.circuitBreaker(),
          ClientTls.DISABLE, base.hash(), base.locality(), base.tlsFiles(), base.portLevel());
    }
    Metrics.Owner meters = mesh.metrics().owner();
    Map<String, SubsetRuntime> next = new LinkedHashMap<>();
    List<Subset> defined = new ArrayList<>();
    defined.add(new Subset("", Map.of(), TrafficPolicy.EMPTY));
    defined.addAll(rule.map(DestinationRule::subsets).orElse(List.of()));
    for (Subset s : defined) {
      TrafficPolicy all = base.forSubset(s.trafficPolicy(), callPort);
      next.put(s.name(), reuseOrCreate(meters, s.name(), s.labels(), defaults.resolve(all), locality(all, policy)));
      // routes naming destination.port take that port's portLevelSettings: a runtime of its own
      for (int port : base.portsWithSettings(s.trafficPolicy())) {
        TrafficPolicy p = base.forSubset(s.trafficPolicy(), port);
        next.put(s.name() + "@" + port, reuseOrCreate(meters, s.name() + "@" + port, s.labels(), defaults.resolve(p),
            locality(p, policy)));
      }
    }
    Map<String, SubsetRuntime> previous = subsets;
    subsets = next;
    for (SubsetRuntime old : previous.values()) {
      if (next.get(old.name()) != old) {
        old.unregisterBreaker(mesh.breakers());
      }
    }
    for (String name : next.keySet()) {
      registerGauges(meters, name);
    }
    registryErrors = meters.registryErrors(service);
    mesh.metrics().replace(subsetMeters, meters);
    subsetMeters = meters;
  }

  /**
   * This workload's labels when locality balancing applies to a destination with traffic policy
   * {@code p} (its {@code localityLbSetting}, or the outlier detection its rule configures), else null.
   */
  private static Map<String, String> locality(TrafficPolicy p, PolicySet policy) {
    return Localities.applies(p.locality(), p.outlierDetection() != null) ? policy.client().labels() : null;
  }

  private SubsetRuntime reuseOrCreate(Metrics.Owner meters, String name, Map<String, String> labels, TrafficPolicy resolved,
      Map<String, String> localityOf) {
    SubsetRuntime old = subsets.get(name);
    io.micrometer.core.instrument.Counter ejections = meters.ejections(service, name);
    if (old != null && old.sameDefinition(labels, resolved, localityOf)) {
      return old;
    }
    SubsetRuntime s = new SubsetRuntime(service, name, labels, resolved, mesh.clock(), ejections, localityOf,
        mesh.breakers());
    s.setMembers(endpoints);
    return s;
  }

  void rebuildRoutes(PolicySet policy) {
    Defaults defaults = mesh.defaults();
    Optional<VirtualService> vs = policy.virtualService(host);
    List<CompiledRoute> compiled = new ArrayList<>();
    Metrics.Owner meters = mesh.metrics().owner();
    if (vs.isEmpty()) {
      RoutePolicy rp = new RoutePolicy("default", defaults.timeout().toNanos(), RetryPolicy.NONE, FaultPolicy.NONE);
      compiled.add(new CompiledRoute(List.of(), policy.client(), List.of(List.of(target(meters, rp, host, "",
          RouteActions.NONE))), List.of(100), mesh.random()));
    } else {
      for (HttpRoute r : vs.get().http()) {
        if (r.gatewayOnly()) {
          continue; // never taken by this client, and its destinations are not checked for it
        }
        Duration timeout = r.timeout().isZero() ? defaults.timeout() : r.timeout();
        RoutePolicy rp = new RoutePolicy(r.name(), timeout.toNanos(), r.retries(), r.fault());
        List<RouteActions.Mirror> mirrors = new ArrayList<>();
        // a mirrored copy is sent once: the route's timeout, no retries, no fault
        RoutePolicy mirrorPolicy = new RoutePolicy(r.name(), timeout.toNanos(), RetryPolicy.NONE, FaultPolicy.NONE);
        for (Mirror m : r.mirrors()) {
          mirrors.add(new RouteActions.Mirror(target(meters, mirrorPolicy, m.destination().host(),
              m.destination().subset(), RouteActions.NONE), m.percent()));
        }
        int rows = Math.max(1, r.matches().size());
        List<List<Target>> targets = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
          RequestMatch match = r.matches().isEmpty() ? null : r.matches().get(i);
          List<Target> row = new ArrayList<>();
          List<Destination> dests = r.route().isEmpty() ? List.of(SELF) : r.route();
          for (Destination d : dests) {
            RouteActions actions = new RouteActions(r.rewrite(), prefixLength(match), r.redirect(), r.directResponse(),
                d.requestHeaders(), r.requestHeaders(), d.responseHeaders(), r.responseHeaders(), mirrors, r.cors());
            row.add(target(meters, rp, d == SELF ? host : d.host(), d.subset(), d.port(), actions));
          }
          targets.add(row);
        }
        List<Integer> weights = new ArrayList<>();
        for (Destination d : r.route().isEmpty() ? List.of(SELF) : r.route()) {
          weights.add(d.weight());
        }
        compiled.add(new CompiledRoute(r.matches(), policy.client(), targets, weights, mesh.random()));
      }
    }
    routes = compiled.toArray(new CompiledRoute[0]);
    mesh.metrics().replace(routeMeters, meters);
    routeMeters = meters;
  }

  /** The destination of a route that sends nowhere (a redirect or direct response): its own host, never used. */
  private static final Destination SELF = new Destination("", "", 0, 100, HeaderOps.NONE, HeaderOps.NONE, null);

  /**
   * How much of the path a {@code rewrite.uri} replaces after {@code match}: the matched prefix;
   * the whole path after an exact or regex match (-1); {@code /} when the match names no uri, as
   * Envoy's route then matches prefix {@code /}.
   */
  private static int prefixLength(RequestMatch match) {
    StringMatch uri = match == null ? null : match.uri();
    if (uri == null) {
      return 1;
    }
    return uri.kind() == StringMatch.Kind.PREFIX ? uri.value().length() : -1;
  }

  /** The destinations this runtime's routes send to (itself included). */
  Set<String> destinations() {
    Set<String> out = new java.util.HashSet<>();
    for (CompiledRoute r : routes) {
      for (Target t : r.targets()) {
        out.add(t.destination().host());
        for (RouteActions.Mirror m : t.actions().mirrors()) {
          out.add(m.target().destination().host());
        }
      }
    }
    return out;
  }

  private Target target(Metrics.Owner meters, RoutePolicy rp, String destination, String subsetName,
      RouteActions actions) {
    return target(meters, rp, destination, subsetName, 0, actions);
  }

  private Target target(Metrics.Owner meters, RoutePolicy rp, String destination, String subsetName, int port,
      RouteActions actions) {
    ServiceRuntime dest = destination.equals(host) ? this : mesh.runtimeLocked(destination);
    SubsetRuntime s = port != 0 && dest.subsets.containsKey(subsetName + "@" + port)
        ? dest.subsets.get(subsetName + "@" + port) : dest.subsets.get(subsetName);
    if (s == null) {
      // a subset no DestinationRule defines (Istio accepts it; the policy set logged it): it selects no
      // endpoint, so calls routed to it fail with NO_ENDPOINTS until a rule defines it
      s = new SubsetRuntime(dest.service, subsetName, Map.of(UNDEFINED_SUBSET_LABEL, subsetName),
          mesh.defaults().resolve(TrafficPolicy.EMPTY), mesh.clock(), meters.ejections(dest.service, subsetName));
    }
    return new Target(rp, s, dest, meters, actions);
  }

  // ---- gauges ---------------------------------------------------------------------------

  /**
   * The subset's gauges read the destination's runtime in force through the mesh, not this one: a
   * gauge registered by a runtime since released (idle, then used again) stays registered while
   * another owner holds it, and Micrometer keeps the first registration of an id.
   */
  private void registerGauges(Metrics.Owner meters, String subsetName) {
    String tag = subsetName.isEmpty() ? "all" : subsetName;
    String svc = host;
    for (boolean ejected : new boolean[] {false, true}) {
      meters.gauge(Metrics.ENDPOINTS, "Endpoints of a destination subset, healthy or ejected", mesh, m -> {
            SubsetRuntime s = m.subsetInForce(svc, subsetName);
            return s == null ? 0 : s.count(ejected);
          }, "service", service, "subset", tag, "state", ejected ? "ejected" : "healthy");
    }
    for (CircuitBreaker.State st : new CircuitBreaker.State[] {
        CircuitBreaker.State.CLOSED, CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN}) {
      meters.gauge(Metrics.BREAKER_STATE, "1 when the subset's circuit breaker is in this state", mesh, m -> {
            SubsetRuntime s = m.subsetInForce(svc, subsetName);
            return s != null && s.breaker() != null && s.breaker().getState() == st ? 1 : 0;
          }, "service", service, "subset", tag, "state", st.name().toLowerCase(Locale.ROOT));
    }
  }

  @Override
  public String toString() {
    return "ServiceRuntime[" + host + ", " + endpoints.size() + " endpoints, subsets " + subsets.keySet() + "]";
  }
}
