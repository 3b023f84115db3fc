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

  ServiceRuntime(String service, MeshRuntime mesh) {
    this.service = service;
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
      return mesh.runtime(service).select(request);
    }
    CompiledRoute[] rs = routes;
    for (CompiledRoute r : rs) {
      if (r.matches(request)) {
        return r.pick();
      }
    }
    return null;
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
      EndpointState fresh = new EndpointState(e, service, now, INITIAL_RTT_NANOS);
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
    Optional<DestinationRule> rule = policy.destinationRule(service);
    TrafficPolicy base = rule.map(DestinationRule::trafficPolicy).orElse(TrafficPolicy.EMPTY);
    Metrics.Owner meters = mesh.metrics().owner();
    Map<String, SubsetRuntime> next = new LinkedHashMap<>();
    next.put("", reuseOrCreate(meters, "", Map.of(), defaults.resolve(base)));
    for (Subset s : rule.map(DestinationRule::subsets).orElse(List.of())) {
      next.put(s.name(), reuseOrCreate(meters, s.name(), s.labels(), defaults.resolve(s.trafficPolicy().inherit(base))));
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

  private SubsetRuntime reuseOrCreate(Metrics.Owner meters, String name, Map<String, String> labels, TrafficPolicy resolved) {
    SubsetRuntime old = subsets.get(name);
    io.micrometer.core.instrument.Counter ejections = meters.ejections(service, name);
    if (old != null && old.sameDefinition(labels, resolved)) {
      return old;
    }
    SubsetRuntime s = new SubsetRuntime(service, name, labels, resolved, mesh.clock(), ejections, mesh.breakers());
    s.setMembers(endpoints);
    return s;
  }

  void rebuildRoutes(PolicySet policy) {
    Defaults defaults = mesh.defaults();
    Optional<VirtualService> vs = policy.virtualService(service);
    List<CompiledRoute> compiled = new ArrayList<>();
    Metrics.Owner meters = mesh.metrics().owner();
    if (vs.isEmpty()) {
      RoutePolicy rp = new RoutePolicy("default", defaults.timeout().toNanos(), RetryPolicy.NONE, FaultPolicy.NONE);
      compiled.add(new CompiledRoute(List.of(), List.of(target(meters, rp, service, "")), List.of(100)));
    } else {
      for (HttpRoute r : vs.get().http()) {
        Duration timeout = r.timeout().isZero() ? defaults.timeout() : r.timeout();
        RoutePolicy rp = new RoutePolicy(r.name(), timeout.toNanos(), r.retries(), r.fault());
        List<Target> targets = new ArrayList<>();
        List<Integer> weights = new ArrayList<>();
        for (Destination d : r.route()) {
          targets.add(target(meters, rp, d.host(), d.subset()));
          weights.add(d.weight());
        }
        compiled.add(new CompiledRoute(r.matches(), targets, weights));
      }
    }
    routes = compiled.toArray(new CompiledRoute[0]);
    mesh.metrics().replace(routeMeters, meters);
    routeMeters = meters;
  }

  /** The destinations this runtime's routes send to (itself included). */
  Set<String> destinations() {
    Set<String> out = new java.util.HashSet<>();
    for (CompiledRoute r : routes) {
      for (Target t : r.targets()) {
        out.add(t.service());
      }
    }
    return out;
  }

  private Target target(Metrics.Owner meters, RoutePolicy rp, String host, String subsetName) {
    ServiceRuntime dest = host.equals(service) ? this : mesh.runtimeLocked(host);
    SubsetRuntime s = dest.subsets.get(subsetName);
    if (s == null) {
      throw new IllegalStateException("subset '" + subsetName + "' of " + host + " vanished during compile");
    }
    return new Target(rp, s, dest, meters);
  }

  // ---- gauges ---------------------------------------------------------------------------

  /**
   * The subset's gauges read the destination's runtime in force through the mesh, not this one: a
   * gauge registered by a runtime since released (idle, then used again) stays registered while
   * another owner holds it, and Micrometer keeps the first registration of an id.
   */
  private void registerGauges(Metrics.Owner meters, String subsetName) {
    String tag = subsetName.isEmpty() ? "all" : subsetName;
    String svc = service;
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
    return "ServiceRuntime[" + service + ", " + endpoints.size() + " endpoints, subsets " + subsets.keySet() + "]";
  }
}
