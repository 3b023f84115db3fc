package io.meshup.core.internal.routing;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.MeshClock;
import io.meshup.core.internal.lb.Balancer;
import io.meshup.core.internal.policy.PolicyModel;
import io.meshup.core.internal.policy.PolicyModel.ConnectionPool;
import io.meshup.core.internal.policy.PolicyModel.OutlierDetection;
import io.meshup.core.route.ClientTls;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.internal.policy.PolicyModel.TrafficPolicy;
import io.meshup.core.internal.resilience.Breakers;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.micrometer.core.instrument.Counter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One destination subset of one service (or all its endpoints): its members, circuit breaker,
 * concurrency limit, balancer and outlier detection. Lives across routing-table swaps as long as
 * its definition (labels and traffic policy) does not change, so the breaker keeps its window.
 *
 * <p>Thread-safe. The request-path methods are lock-free and allocation-free; {@link #setMembers}
 * runs on the control path.
 */
public final class SubsetRuntime {
  private static final Logger log = LoggerFactory.getLogger(SubsetRuntime.class);
  /** Latency fed to the balancer for an overloaded answer: one second, "slow, not fast". */
  static final long OVERLOAD_PENALTY_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** Longest ejection, as Envoy's default max_ejection_time. */
  static final long MAX_EJECTION_NANOS = TimeUnit.SECONDS.toNanos(300);
  private static final int MAX_SCHEDULE = 4096;
  private static final long PANIC_RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  private final String service;
  private final String name;
  private final Map<String, String> labels;
  private final TrafficPolicy policy;
  private final MeshClock clock;
  private final CircuitBreaker breaker;
  private final Balancer balancer;
  private final OutlierDetection outlier;
  private final int ejectAfter;
  private final int maxRequests;
  /** Envoy's bound on HTTP/1.1 requests: each needs a connection (maxConnections) or waits (http1MaxPendingRequests). */
  private final int maxHttp1Requests;
  /** {@code http.maxRetries}: retries in flight at once to this subset. */
  private final int maxRetries;
  private final AtomicInteger retriesActive = new AtomicInteger();
  private final long slowCallNanos;
  private final AtomicInteger active = new AtomicInteger();
  private volatile long panicCheckedAt;
  private volatile boolean panic;
  private final Counter ejections;
  private final String description;
  private final ConnectionSettings connectionSettings;
  private volatile Members members = Members.EMPTY;

  /** This workload's labels (its locality), when locality balancing applies to the subset; else null. */
  private final Map<String, String> localityOf;

  SubsetRuntime(String service, String name, Map<String, String> labels, TrafficPolicy resolved,
      MeshClock clock, Counter ejections) {
    this(service, name, labels, resolved, clock, ejections, null, null);
  }

  /**
   * @param localityOf this workload's labels when locality load balancing applies (the rule's
   *     {@code localityLbSetting} or its outlier detection, as Istio decides), else null
   * @param breakers where the subset's breaker is kept (when not null) until {@link #unregisterBreaker}
   */
  SubsetRuntime(String service, String name, Map<String, String> labels, TrafficPolicy resolved,
      MeshClock clock, Counter ejections, Map<String, String> localityOf,
      io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry breakers) {
    this.localityOf = localityOf;
    this.service = service;
    this.name = name;
    this.labels = Map.copyOf(labels);
    this.policy = resolved;
    this.clock = clock;
    this.description = name.isEmpty() ? service : service + " subset " + name;
    this.breaker = Breakers.create(description, resolved.circuitBreaker(), clock, breakers);
    this.balancer = Balancer.of(resolved.loadBalancer(), resolved.hash());
    this.outlier = resolved.outlierDetection();
    int e = outlier.consecutiveErrors();
    if (outlier.consecutiveGatewayErrors() > 0) {
      e = e == 0 ? outlier.consecutiveGatewayErrors() : Math.min(e, outlier.consecutiveGatewayErrors());
    }
    this.ejectAfter = e;
    this.maxRequests = resolved.connectionPool() == null ? Integer.MAX_VALUE : resolved.connectionPool().maxRequests();
    this.maxHttp1Requests = resolved.connectionPool() == null ? Integer.MAX_VALUE
        : (int) Math.min(Integer.MAX_VALUE, (long) resolved.connectionPool().maxConnections()
            + resolved.connectionPool().maxPendingRequests());
    this.maxRetries = resolved.connectionPool() == null ? Integer.MAX_VALUE : resolved.connectionPool().maxRetries();
    this.slowCallNanos = resolved.circuitBreaker().slowCallDurationThreshold().toNanos();
    this.ejections = ejections;
    ConnectionPool pool = resolved.connectionPool();
    ClientTls tls = resolved.tls() == null ? ClientTls.AUTO : resolved.tls();
    io.meshup.core.route.TlsOrigination origination = origination(resolved.tlsFiles());
    this.connectionSettings = pool == null ? new ConnectionSettings(null, null, null, 0, tls, origination, false)
        : new ConnectionSettings(pool.connectTimeout(), pool.idleTimeout(), pool.tcpKeepalive(),
            pool.maxRequestsPerConnection(), tls, origination, pool.h2Upgrade());
  }

  /** The TLS a {@code tls} of mode SIMPLE or MUTUAL asks the transport to originate, or null. */
  private static io.meshup.core.route.TlsOrigination origination(PolicyModel.TlsFiles f) {
    if (f == null) {
      return null;
    }
    return new io.meshup.core.route.TlsOrigination(f.mode().equals("MUTUAL"), path(f.clientCertificate()),
        path(f.privateKey()), path(f.caCertificates()), f.sni(), f.subjectAltNames(), f.insecureSkipVerify());
  }

  private static java.nio.file.Path path(String p) {
    return p == null ? null : java.nio.file.Path.of(p);
  }

  ConnectionSettings connectionSettings() {
    return connectionSettings;
  }

  /** True when this runtime was built from the same definition, so it may be kept. */
  boolean sameDefinition(Map<String, String> otherLabels, TrafficPolicy otherPolicy, Map<String, String> otherLocality) {
    return labels.equals(otherLabels) && policy.equals(otherPolicy) && java.util.Objects.equals(localityOf, otherLocality);
  }

  public String service() {
    return service;
  }

  public String name() {
    return name;
  }

  public String description() {
    return description;
  }

  public CircuitBreaker breaker() {
    return breaker;
  }

  /** Takes this subset's breaker out of {@code breakers}, unless another has taken its name since. */
  void unregisterBreaker(io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry breakers) {
    if (breaker != null && breakers != null
        && breakers.find(breaker.getName()).filter(b -> b == breaker).isPresent()) {
      breakers.remove(breaker.getName());
    }
  }

  /** The subset's labels. */
  public Map<String, String> labels() {
    return labels;
  }

  /** The balancer's kind, as the DestinationRule names it. */
  public String balancerName() {
    return String.valueOf(policy.loadBalancer());
  }

  /** The members in force (snapshot). */
  public List<EndpointState> memberStates() {
    return List.of(members.unique);
  }

  /** Logical calls holding a permit of this subset now. */
  public int inFlight() {
    return active.get();
  }

  boolean selects(Map<String, String> endpointLabels) {
    for (Map.Entry<String, String> l : labels.entrySet()) {
      if (!l.getValue().equals(endpointLabels.get(l.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** Replaces the members with those of {@code all} that this subset's labels select. */
  void setMembers(List<EndpointState> all) {
    List<EndpointState> mine = new ArrayList<>();
    for (EndpointState s : all) {
      if (selects(s.endpoint().labels())) {
        mine.add(s);
      }
    }
    Members m = Members.of(mine);
    if (localityOf != null && m.unique.length > 1) {
      m = m.with(Localities.of(policy.locality(), localityOf, m.unique));
    }
    members = m;
    panicCheckedAt = 0;
  }

  EndpointState[] members() {
    return members.unique;
  }

  MeshClock clock() {
    return clock;
  }

  /** Logical calls in flight (holding a permit). */
  int active() {
    return active.get();
  }

  // ---- request path ---------------------------------------------------------------------

  /**
   * Asks for a logical call's permit: the concurrency limit, then the breaker. The breaker
   * decides on logical calls, so a call holds one permit through all its attempts.
   *
   * @return null when permitted, otherwise why not
   */
  Rejection tryAcquire() {
    return tryAcquire(false);
  }

  /**
   * As {@link #tryAcquire()}; an HTTP/1.1 call ({@code http1}) is also bounded by
   * {@code maxConnections + http1MaxPendingRequests}, as Envoy's connection and pending-request
   * circuit breakers bound it (MeshUp queues nothing: what Envoy would queue past the pending bound
   * it refuses at once).
   */
  Rejection tryAcquire(boolean http1) {
    if (active.incrementAndGet() > (http1 ? Math.min(maxRequests, maxHttp1Requests) : maxRequests)) {
      active.decrementAndGet();
      return Rejection.OVERFLOW;
    }
    if (breaker != null && !breaker.tryAcquirePermission()) {
      active.decrementAndGet();
      return Rejection.CIRCUIT_OPEN;
    }
    return null;
  }

  /** Takes one of {@code http.maxRetries}; false when that many retries are in flight. */
  boolean tryRetryPermit() {
    if (maxRetries == Integer.MAX_VALUE) {
      return true;
    }
    if (retriesActive.incrementAndGet() > maxRetries) {
      retriesActive.decrementAndGet();
      return false;
    }
    return true;
  }

  /** Returns a permit of {@link #tryRetryPermit}. */
  void retryDone() {
    if (maxRetries != Integer.MAX_VALUE) {
      retriesActive.decrementAndGet();
    }
  }

  /** Returns a permit that ends without an outcome worth recording. */
  void release() {
    active.decrementAndGet();
    if (breaker != null) {
      breaker.releasePermission();
    }
  }

  /**
   * Records how a logical call ended (after its replays and retries) and returns its permit. For a
   * stream, {@code nanos} is the time to the response headers, never its lifetime.
   */
  void callEnded(long nanos, Outcome outcome) {
    active.decrementAndGet();
    if (breaker == null) {
      return;
    }
    switch (outcome) {
      case SUCCESS:
      case CLIENT_ERROR:
        breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
        break;
      case OVERLOAD:
        breaker.onSuccess(Math.max(nanos, slowCallNanos + 1), TimeUnit.NANOSECONDS);
        break;
      case FAILURE:
      case TIMEOUT:
        breaker.onError(nanos, TimeUnit.NANOSECONDS, Breakers.FAILURE);
        break;
      default: // CANCELLED: says nothing about the destination
        breaker.releasePermission();
        break;
    }
  }

  /**
   * Picks an endpoint with the subset's balancer: one not yet tried by this call, not ejected,
   * reachable and ready when such is in reach; with fewer than half the subset healthy (panic, as
   * Envoy's default threshold) ejections are ignored.
   *
   * @return null when the subset has no member
   */
  EndpointState pick(io.meshup.core.internal.lb.Tried tried, long now) {
    Members m = members;
    if (m.unique.length == 0) {
      return null;
    }
    if (m.localities != null) {
      return balancer.pick(m.localities.choose(now, java.util.concurrent.ThreadLocalRandom.current().nextInt(100)),
          tried, now, panic(m, now));
    }
    return balancer.pick(balancer.wantsSchedule() ? m.schedule : m.unique, tried, now, panic(m, now));
  }

  /** As {@link #pick(io.meshup.core.internal.lb.Tried, long)} for a request whose hash key hashed to {@code hash}. */
  EndpointState pick(io.meshup.core.internal.lb.Tried tried, long now, long hash) {
    Members m = members;
    if (m.unique.length == 0) {
      return null;
    }
    EndpointState[] candidates = m.localities != null ? m.localities.choose(now, (int) Long.remainderUnsigned(hash, 100))
        : balancer.wantsSchedule() ? m.schedule : m.unique;
    return balancer.pick(candidates, tried, now, panic(m, now), hash);
  }

  /** The consistent hash settings of this subset's balancer, or null when it does not hash. */
  io.meshup.core.internal.policy.PolicyModel.HashPolicy hashPolicy() {
    return policy.loadBalancer() == io.meshup.core.internal.policy.PolicyModel.BalancerKind.RING_HASH ? policy.hash() : null;
  }

  /** True when more than half the members are ejected; recounted at most every 100 ms. */
  private boolean panic(Members m, long now) {
    if (ejectAfter == 0) {
      return false;
    }
    long checked = panicCheckedAt;
    if (checked != 0 && now - checked < PANIC_RECHECK_NANOS) {
      return panic;
    }
    int ejected = 0;
    for (EndpointState s : m.unique) {
      if (s.isEjected(now)) {
        ejected++;
      }
    }
    boolean p = ejected * 2 > m.unique.length;
    panic = p;
    panicCheckedAt = now == 0 ? 1 : now;
    return p;
  }

  /**
   * Records how one attempt on {@code ep} ended, for the balancer and outlier detection;
   * {@code nanos} is its latency (for a stream, to the response headers).
   */
  void attemptEnded(EndpointState ep, long now, long nanos, Outcome outcome, boolean unresponsive) {
    ep.finished();
    switch (outcome) {
      case SUCCESS:
      case CLIENT_ERROR:
        balancer.observe(ep, now, nanos);
        ep.succeeded();
        break;
      case OVERLOAD:
        balancer.observe(ep, now, Math.max(nanos, OVERLOAD_PENALTY_NANOS));
        break;
      case FAILURE:
      case TIMEOUT:
        balancer.observeFailure(ep, now, nanos);
        int streak = ep.failed();
        if (ejectAfter > 0 && (streak >= ejectAfter || ep.probing() || unresponsive)) {
          maybeEject(ep, now);
        }
        break;
      default: // CANCELLED: says nothing about the endpoint
        break;
    }
  }

  private void maybeEject(EndpointState ep, long now) {
    EndpointState[] m = members.unique;
    int allowed = outlier.maxEjectionPercent() == 0 ? 0
        : Math.max(1, m.length * outlier.maxEjectionPercent() / 100);
    synchronized (this) {
      if (ep.isEjected(now)) {
        return;
      }
      int ejected = 0;
      for (EndpointState s : m) {
        if (s.isEjected(now)) {
          ejected++;
        }
      }
      if (ejected >= allowed) {
        log.debug("{}: not ejecting {}: {} of {} endpoints already ejected (maxEjectionPercent {})",
            description, ep, ejected, m.length, outlier.maxEjectionPercent());
        return;
      }
      long duration = ep.eject(now, outlier.baseEjectionTime().toNanos(), MAX_EJECTION_NANOS);
      panicCheckedAt = 0;
      ejections.increment();
      log.info("{}: ejected endpoint {} for {} ms after {} consecutive failures",
          description, ep, TimeUnit.NANOSECONDS.toMillis(duration), ejectAfter);
    }
  }

  // ---- gauges ---------------------------------------------------------------------------

  int count(boolean ejected) {
    long now = clock.nanoTime();
    int n = 0;
    for (EndpointState s : members.unique) {
      if (s.isEjected(now) == ejected) {
        n++;
      }
    }
    return n;
  }

  /** The members, and a schedule repeating each by its weight for weight-blind balancers. */
  static final class Members {
    static final Members EMPTY = new Members(new EndpointState[0], new EndpointState[0], null);
    final EndpointState[] unique;
    final EndpointState[] schedule;
    /** The locality groups the pick chooses among first, or null. */
    final Localities localities;

    private Members(EndpointState[] unique, EndpointState[] schedule, Localities localities) {
      this.unique = unique;
      this.schedule = schedule;
      this.localities = localities;
    }

    Members with(Localities l) {
      return new Members(unique, schedule, l);
    }

    static Members of(List<EndpointState> list) {
      EndpointState[] unique = list.toArray(new EndpointState[0]);
      int gcd = 0;
      long total = 0;
      for (EndpointState s : unique) {
        gcd = gcd(gcd, s.endpoint().weight());
        total += s.endpoint().weight();
      }
      if (unique.length == 0 || total == unique.length) {
        return new Members(unique, unique, null);
      }
      total /= gcd;
      double scale = total > MAX_SCHEDULE ? (double) MAX_SCHEDULE / total : 1;
      List<EndpointState> sched = new ArrayList<>();
      for (EndpointState s : unique) {
        long copies = Math.max(1, Math.round(s.endpoint().weight() / gcd * scale));
        for (long i = 0; i < copies; i++) {
          sched.add(s);
        }
      }
      java.util.Collections.shuffle(sched, new java.util.Random(sched.size()));
      return new Members(unique, sched.toArray(new EndpointState[0]), null);
    }

    private static int gcd(int a, int b) {
      return b == 0 ? a : gcd(b, a % b);
    }
  }
}
