package io.meshup.core.internal.routing;

import io.meshup.core.MeshClock;
import io.meshup.core.MeshConfigException;
import io.meshup.core.internal.authz.InboundPolicy;
import io.meshup.core.internal.authz.Workload;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.policy.Hosts;
import io.meshup.core.internal.policy.PolicyModel.ServiceEntry;
import io.meshup.core.internal.policy.PolicySet;
import io.meshup.core.spi.ServiceRegistry;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh's control plane inside the process: policy sources, the registry watches and one
 * {@link ServiceRuntime} per destination. Every control operation runs under one lock (they are
 * rare and short); the request path never takes it.
 */
public final class MeshRuntime implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MeshRuntime.class);

  private final MeshClock clock;
  private final Metrics metrics;
  private final Defaults defaults;
  private final ServiceRegistry registry;
  private final Object lock = new Object();
  private final Map<String, ServiceRuntime> runtimes = new ConcurrentHashMap<>();
  private volatile boolean closed;
  /** The denial counters of the inbound policy in force; guarded by lock. */
  private Metrics.Owner inboundMeters;
  private final LinkedHashMap<String, List<ConfigNode>> sources = new LinkedHashMap<>();
  private final String service;
  private volatile PolicySet policy = PolicySet.EMPTY;
  private volatile InboundPolicy inbound = InboundPolicy.EMPTY;
  private final Workload workload;
  private final ScheduledExecutorService scheduler;
  private final java.util.function.Consumer<InboundPolicy> compiled;
  private final PolicySet.Client client;
  private final Hosts hosts;
  private final java.util.function.LongBinaryOperator random;
  /** What each policy source last sent, accepted or not, by source name; guarded by lock. */
  private final Map<String, SourceHistory> history = new LinkedHashMap<>();
  private final io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry breakers;

  /**
   * The last accepted and the last rejected update of one policy source (wall-clock millis, 0 for
   * never) and the rejection's error.
   */
  public record SourceHistory(long lastAcceptedMillis, long lastRejectedMillis, String lastError) {}

  /**
   * A runtime whose inbound policy is compiled from each policy set for {@code workload}, its
   * meters owned by the policy in force (they go when it is replaced), and handed to
   * {@code compiled} before it is put in force (a throw refuses it).
   */
  public MeshRuntime(String service, MeshClock clock, Metrics metrics, Defaults defaults, ServiceRegistry registry,
      Workload workload, java.util.function.Consumer<InboundPolicy> compiled, ScheduledExecutorService scheduler) {
    this(service, clock, metrics, defaults, registry, workload, compiled, scheduler, null,
        io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry.ofDefaults());
  }

  /**
   * As above, drawing route weights with {@code random} (a long in [origin, bound); null for
   * {@link java.util.concurrent.ThreadLocalRandom}), with the destinations' circuit breakers kept in
   * {@code breakers} while they are in force.
   */
  public MeshRuntime(String service, MeshClock clock, Metrics metrics, Defaults defaults, ServiceRegistry registry,
      Workload workload, java.util.function.Consumer<InboundPolicy> compiled, ScheduledExecutorService scheduler,
      java.util.function.LongBinaryOperator random, io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry breakers) {
    this.breakers = breakers;
    this.scheduler = scheduler;
    this.random = random != null ? random
        : (origin, bound) -> java.util.concurrent.ThreadLocalRandom.current().nextLong(origin, bound);
    this.client = new PolicySet.Client(workload.namespace(), workload.labels(),
        workload.rootNamespace() == null ? Workload.DEFAULT_ROOT_NAMESPACE : workload.rootNamespace());
    this.hosts = new Hosts(workload.namespace());
    this.service = service;
    this.clock = clock;
    this.metrics = metrics;
    this.defaults = defaults;
    this.registry = registry;
    this.workload = workload;
    this.compiled = compiled;
  }

  public MeshClock clock() {
    return clock;
  }

  /** The registry holding the circuit breakers of the subsets in force. */
  public io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry breakers() {
    return breakers;
  }

  /** What each policy source last sent, accepted or not (snapshot, in precedence order). */
  public Map<String, SourceHistory> sourceHistory() {
    synchronized (lock) {
      Map<String, SourceHistory> out = new LinkedHashMap<>();
      for (String name : sources.keySet()) {
        out.put(name, history.getOrDefault(name, new SourceHistory(0, 0, null)));
      }
      history.forEach(out::putIfAbsent);
      return out;
    }
  }

  /** The destinations the mesh holds state for (snapshot). */
  public List<ServiceRuntime> destinations() {
    return new ArrayList<>(runtimes.values());
  }

  public Metrics metrics() {
    return metrics;
  }

  public Defaults defaults() {
    return defaults;
  }

  public ServiceRegistry registry() {
    return registry;
  }

  public PolicySet policy() {
    return policy;
  }

  /** How names and hosts map for this workload's namespace. */
  public Hosts hosts() {
    return hosts;
  }

  /** Draws a long in [origin, bound): route weights and mirror shares. */
  java.util.function.LongBinaryOperator random() {
    return random;
  }

  /** What this service's servers accept, compiled from the policy in force. */
  public InboundPolicy inbound() {
    return inbound;
  }

  /**
   * Fixes the precedence of policy sources, lowest first, before any is applied; sources not
   * named rank after these, in the order they first deliver documents.
   */
  public void orderSources(List<String> names) {
    synchronized (lock) {
      for (String n : names) {
        sources.putIfAbsent(n, List.of());
      }
    }
  }

  /** Source names in precedence order, lowest first, with their document counts. */
  public Map<String, Integer> sources() {
    synchronized (lock) {
      Map<String, Integer> out = new LinkedHashMap<>();
      sources.forEach((k, v) -> out.put(k, v.size()));
      return out;
    }
  }

  /**
   * The runtime of a destination, created (and its registry watch started) on first use:
   * {@code name} is a host in full or a client's short name (see {@link Hosts#clientHost}).
   */
  public ServiceRuntime runtime(String name) {
    ServiceRuntime r = runtimes.get(name);
    if (r != null) {
      return r;
    }
    String host = hosts.clientHost(name);
    r = runtimes.get(host);
    if (r != null) {
      return r;
    }
    synchronized (lock) {
      return runtimeLocked(host);
    }
  }

  /** The subset of the destination's runtime in force, or null when there is none (gauges read it). */
  SubsetRuntime subsetInForce(String host, String subset) {
    ServiceRuntime r = runtimes.get(host);
    return r == null ? null : r.subset(subset).orElse(null);
  }

  ServiceRuntime runtimeLocked(String host) {
    ServiceRuntime r = runtimes.get(host);
    if (r != null) {
      return r;
    }
    if (closed) {
      throw new IllegalStateException("meshup: the mesh of " + this.service + " is closed");
    }
    r = new ServiceRuntime(host, this);
    runtimes.put(host, r);
    r.rebuildSubsets(policy);
    java.util.Optional<ServiceEntry> entry = policy.serviceEntry(host);
    if (entry.isPresent()) {
      r.serviceEntry(entry.get());
      r.updateEndpoints(ServiceEntries.endpoints(entry.get(), host));
      r.rebuildRoutes(policy);
      return r;
    }
    ServiceRuntime rt = r;
    String service = r.service();
    r.watch(registry.watch(service, new ServiceRegistry.EndpointListener() {
      @Override
      public void onEndpoints(List<io.meshup.core.Endpoint> endpoints) {
        synchronized (lock) {
          if (rt.released()) {
            return;
          }
          rt.updateEndpoints(endpoints);
        }
        runAll(rt.takeDiscoveryWaiters());
        int failed = rt.registryAnswered();
        if (failed > 0) {
          log.info("{}: the registry answers again ({} endpoints) after {} failed refreshes", service,
              endpoints.size(), failed);
        }
        log.debug("{}: {} endpoints", service, endpoints.size());
      }

      @Override
      public void onError(Throwable error) {
        rt.discoveryFailed(error);
        runAll(rt.takeDiscoveryWaiters());
        // one line per outage, not one per failed refresh (3,000 destinations would flood the log)
        if (rt.registryFailed(error) == 1) {
          log.warn("{}: registry refresh failed, keeping the last {} endpoints: {}", service,
              rt.endpoints().size(), error.toString());
        } else {
          log.debug("{}: registry refresh failed again: {}", service, error.toString());
        }
      }
    }));
    r.rebuildRoutes(policy);
    return r;
  }

  /**
   * Replaces the documents of one policy source and applies the whole set, or rejects it whole.
   * Sources apply in the order they were first added; for one host, a later source's document
   * replaces an earlier one's.
   *
   * @throws MeshConfigException when the merged set is invalid; the previous policy keeps serving
   */
  public void updatePolicySource(String source, List<ConfigNode> docs) {
    updatePolicySources(Map.of(source, docs));
  }

  /**
   * Replaces the documents of several policy sources at once and applies the whole set, or rejects
   * it whole (the documents in force at start, whatever order their files and sources come in).
   * Sources not seen before rank after the known ones, in the map's order.
   *
   * @throws MeshConfigException when the merged set is invalid; the previous policy keeps serving
   */
  public void updatePolicySources(Map<String, List<ConfigNode>> changed) {
    List<ServiceRegistry.Watch> stale = new ArrayList<>();
    try {
      updateLocked(changed, stale);
    } finally {
      closeAll(stale);
    }
  }

  private void updateLocked(Map<String, List<ConfigNode>> changed, List<ServiceRegistry.Watch> stale) {
    String source = String.join(", ", changed.keySet());
    synchronized (lock) {
      LinkedHashMap<String, List<ConfigNode>> next = new LinkedHashMap<>(sources);
      changed.forEach((k, v) -> next.put(k, List.copyOf(v)));
      PolicySet set;
      InboundPolicy in;
      Metrics.Owner meters = metrics.owner();
      try {
        set = PolicySet.of(new ArrayList<>(next.entrySet()).stream()
            .map(e -> new PolicySet.Source(e.getKey(), e.getValue())).toList(), registry::isKnown, client);
        in = InboundPolicy.compile(set, workload.withMeters(meters::authzDenials, meters::hold));
        compiled.accept(in);
      } catch (MeshConfigException e) {
        metrics.discard(meters);
        // each source counted and recorded; the one error logged once, naming them all
        changed.keySet().forEach(k -> recordRejection(k, e));
        log.error("Rejected policy from {}; the last good policy keeps serving: {}", source, e.getMessage());
        throw e;
      }
      sources.clear();
      sources.putAll(next);
      policy = set;
      inbound = in;
      metrics.replace(inboundMeters, meters);
      inboundMeters = meters;
      // a destination whose ServiceEntry came, went or changed is built afresh (routers held by
      // clients follow it)
      for (java.util.Iterator<ServiceRuntime> it = runtimes.values().iterator(); it.hasNext(); ) {
        ServiceRuntime r = it.next();
        if (!java.util.Objects.equals(r.serviceEntry(), set.serviceEntry(r.host()).orElse(null))) {
          it.remove();
          stale.add(r.release());
        }
      }
      for (String host : set.hosts()) {
        runtimeLocked(host);
      }
      for (ServiceRuntime r : runtimes.values()) {
        r.rebuildSubsets(set);
      }
      for (ServiceRuntime r : runtimes.values()) {
        r.rebuildRoutes(set);
      }
      long now = clock.currentTimeMillis();
      for (String k : changed.keySet()) {
        metrics.policyUpdate(k, true);
        SourceHistory h = history.get(k);
        history.put(k, new SourceHistory(now, h == null ? 0 : h.lastRejectedMillis(), h == null ? null : h.lastError()));
      }
      log.info("Applied policy from {}: {} documents in force ({})", source, set.origins().size(), set.origins());
    }
  }

  /** Counts and logs a rejected update of {@code source}; the policy in force is unchanged. */
  public void rejected(String source, MeshConfigException e) {
    recordRejection(source, e);
    log.error("Rejected policy from {}; the last good policy keeps serving: {}", source, e.getMessage());
  }

  /** Counts the rejection of {@code source} and keeps it in the source's history. */
  private void recordRejection(String source, MeshConfigException e) {
    metrics.policyUpdate(source, false);
    synchronized (lock) {
      SourceHistory h = history.get(source);
      history.put(source, new SourceHistory(h == null ? 0 : h.lastAcceptedMillis(), clock.currentTimeMillis(),
          e.getMessage()));
    }
  }

  /**
   * Releases the destinations no call has used for {@code idleNanos} and no policy names: their
   * registry watches, endpoints (and so the transports' connections) and meters go, and a later
   * call creates them afresh. Keeps every destination a route of another destination in use sends
   * to. Returns how many were released.
   */
  public int releaseIdle(long idleNanos) {
    List<ServiceRegistry.Watch> watches = new ArrayList<>();
    int released = releaseIdle(idleNanos, watches);
    closeAll(watches);
    return released;
  }

  private int releaseIdle(long idleNanos, List<ServiceRegistry.Watch> watches) {
    synchronized (lock) {
      if (closed) {
        return 0;
      }
      long now = clock.nanoTime();
      PolicySet p = policy;
      java.util.Set<String> keep = new java.util.HashSet<>(p.hosts());
      for (ServiceRuntime r : runtimes.values()) {
        if (now - r.lastUsed() <= idleNanos || r.active() > 0) {
          keep.add(r.host());
          keep.addAll(r.destinations());
        }
      }
      int released = 0;
      for (java.util.Iterator<ServiceRuntime> it = runtimes.values().iterator(); it.hasNext(); ) {
        ServiceRuntime r = it.next();
        if (!keep.contains(r.host())) {
          it.remove();
          watches.add(r.release());
          released++;
        }
      }
      if (released > 0) {
        log.debug("Released {} idle destinations; {} remain", released, runtimes.size());
      }
      return released;
    }
  }

  /** How many destinations the mesh holds state for (for tests and the admin view). */
  public int destinationCount() {
    return runtimes.size();
  }

  /**
   * Stops every registry watch and releases every destination: transports close their
   * connections. Called last when the mesh closes, after the drain.
   */
  @Override
  public void close() {
    List<ServiceRegistry.Watch> watches = new ArrayList<>();
    synchronized (lock) {
      closed = true;
      for (ServiceRuntime r : runtimes.values()) {
        watches.add(r.release());
      }
      runtimes.clear();
    }
    closeAll(watches);
  }

  /** Runs {@code task} after {@code delayNanos} on the mesh's scheduler; null when it is shut down. */
  java.util.concurrent.ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    try {
      return scheduler.schedule(task, delayNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      return null;
    }
  }

  /** An empty answer held off since {@code since} for {@code rt} has waited its grace period. */
  void emptyGraceOver(ServiceRuntime rt, long since) {
    synchronized (lock) {
      rt.emptyGraceOver(since);
    }
  }

  /** Lets calls waiting for a registry's first answer go on (outside the lock). */
  private static void runAll(List<Runnable> waiters) {
    for (Runnable w : waiters) {
      try {
        w.run();
      } catch (RuntimeException | Error e) {
        log.warn("A call waiting for the registry's first answer failed to go on", e);
      }
    }
  }

  /** Closes released destinations' watches, outside the lock their listeners take. */
  private static void closeAll(List<ServiceRegistry.Watch> watches) {
    for (ServiceRegistry.Watch w : watches) {
      if (w == null) {
        continue;
      }
      try {
        w.close();
      } catch (RuntimeException e) {
        log.warn("Closing a registry watch failed: {}", e.toString());
      }
    }
  }
}
