package io.meshup.core.internal.routing;

import io.meshup.core.Endpoint;
import io.meshup.core.route.EndpointHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live state of one endpoint of one service: requests in flight, peak-EWMA latency, outlier
 * ejection, and how the transport's connection to it is doing. Survives routing-table swaps (keyed
 * by endpoint id), so a policy change does not reset what the balancer has learned. Thread-safe;
 * no method blocks.
 */
public final class EndpointState implements EndpointHandle {
  private static final Logger log = LoggerFactory.getLogger(EndpointState.class);
  /**
   * A latency estimate older than this is stale: the endpoint gets the next pick as a probe when
   * nothing is in flight on it, and the probe's latency replaces the estimate. So an endpoint that
   * once answered slowly (a pause, a freeze) is tried again within seconds instead of waiting for
   * its worst sample to decay, and a new endpoint is tried at once.
   */
  static final long STALE_NANOS = TimeUnit.SECONDS.toNanos(2);
  /** How long an endpoint that refused a connection is avoided when others are available. */
  static final long UNREACHABLE_NANOS = TimeUnit.SECONDS.toNanos(1);

  private static final EndpointHandle.Connectivity[] CONNECTIVITY = EndpointHandle.Connectivity.values();

  private final Endpoint endpoint;
  private final String service;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger consecutiveFailures = new AtomicInteger();
  private final AtomicLong ejectedUntil = new AtomicLong(); // 0 = not ejected
  private volatile boolean probing;
  private volatile boolean removed;
  private volatile int connectivity; // ordinal of Connectivity
  private volatile long unreachableUntil; // 0 = reachable
  private List<Runnable> onRemoved; // guarded by this
  private int ejections; // guarded by this

  // Peak EWMA: written under 'this' (a few arithmetic operations, never held across I/O), read
  // without a lock. A reader may pair a new estimate with an old stamp for an instant; the cost
  // is then off by one decay step, which a balancer's comparison tolerates.
  private volatile double ewmaNanos;
  private volatile long ewmaStamp;
  private volatile boolean observed;
  private boolean warmedUp;

  EndpointState(Endpoint endpoint, String service, long nowNanos, long initialRttNanos) {
    this.endpoint = endpoint;
    this.service = service;
    this.ewmaNanos = initialRttNanos;
    this.ewmaStamp = nowNanos;
  }

  @Override
  public Endpoint endpoint() {
    return endpoint;
  }

  @Override
  public String service() {
    return service;
  }

  @Override
  public boolean isRemoved() {
    return removed;
  }

  @Override
  public void onRemoved(Runnable action) {
    synchronized (this) {
      if (!removed) {
        if (onRemoved == null) {
          onRemoved = new ArrayList<>(1);
        }
        onRemoved.add(action);
        return;
      }
    }
    run(action);
  }

  @Override
  public void reportConnectivity(Connectivity state) {
    connectivity = state.ordinal();
    if (state == Connectivity.READY) {
      unreachableUntil = 0;
    }
  }

  /** The connectivity the transport last reported. */
  public Connectivity connectivity() {
    return CONNECTIVITY[connectivity];
  }

  /** Marks the endpoint gone from the registry and runs the removal actions. */
  void markRemoved() {
    List<Runnable> actions;
    synchronized (this) {
      if (removed) {
        return;
      }
      removed = true;
      actions = onRemoved;
      onRemoved = null;
    }
    if (actions != null) {
      for (Runnable a : actions) {
        run(a);
      }
    }
  }

  private void run(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException | Error e) {
      log.warn("A removal action for endpoint {} of {} failed", endpoint.id(), service, e);
    }
  }

  public int inFlight() {
    return inFlight.get();
  }

  void started() {
    inFlight.incrementAndGet();
  }

  void finished() {
    inFlight.decrementAndGet();
  }

  /**
   * True unless ejected; an ejection that has run out is lifted here, lazily, and the endpoint
   * gets one probe: its next failure ejects it again at once.
   */
  public boolean isAvailable(long now) {
    long until = ejectedUntil.get();
    if (until == 0) {
      return true;
    }
    if (now - until < 0) {
      return false;
    }
    if (ejectedUntil.compareAndSet(until, 0)) {
      consecutiveFailures.set(0);
      probing = true;
    }
    return true;
  }

  /** The raw peak-EWMA latency estimate, in nanos (not decayed to now). */
  public double ewmaNanos() {
    return ewmaNanos;
  }

  /** When the ejection in force ends (mesh clock nanos), or 0 when not ejected. */
  public long ejectedUntil() {
    return ejectedUntil.get();
  }

  /** Consecutive failed attempts. */
  public int consecutiveFailures() {
    return consecutiveFailures.get();
  }

  /** How many times outlier detection ejected this endpoint (less one per successful probe). */
  public synchronized int ejections() {
    return ejections;
  }

  public boolean isEjected(long now) {
    long until = ejectedUntil.get();
    return until != 0 && now - until < 0;
  }

  /**
   * True when picks should avoid this endpoint if another can be had: the transport reports its
   * connection failing, or it refused a connection moments ago.
   */
  public boolean unreachable(long now) {
    if (connectivity == Connectivity.TRANSIENT_FAILURE.ordinal()) {
      return true;
    }
    long until = unreachableUntil;
    return until != 0 && now - until < 0;
  }

  /** True while the transport is still opening a connection (a pick prefers a ready endpoint). */
  public boolean connecting() {
    return connectivity == Connectivity.CONNECTING.ordinal();
  }

  /** Notes that a connection to this endpoint could not be made. */
  void connectFailed(long now) {
    long until = now + UNREACHABLE_NANOS;
    unreachableUntil = until == 0 ? 1 : until;
  }

  // ---- outlier detection (called by the subset) -----------------------------------------

  int failed() {
    return consecutiveFailures.incrementAndGet();
  }

  /** A healthy answer: resets the failure streak; a successful probe shortens the next ejection. */
  void succeeded() {
    if (consecutiveFailures.get() != 0) {
      consecutiveFailures.set(0);
    }
    if (probing) {
      probing = false;
      synchronized (this) {
        if (ejections > 0) {
          ejections--;
        }
      }
    }
  }

  boolean probing() {
    return probing;
  }

  /** Ejects until {@code now + base * ejections} (capped); returns the ejection time in nanos. */
  synchronized long eject(long now, long baseNanos, long maxNanos) {
    ejections++;
    probing = false;
    long duration = Math.min(saturatedMultiply(baseNanos, ejections), maxNanos);
    long until = now + duration;
    ejectedUntil.set(until == 0 ? 1 : until);
    return duration;
  }

  private static long saturatedMultiply(long a, long b) {
    long hi = Math.multiplyHigh(a, b);
    long lo = a * b;
    return hi == 0 && lo >= 0 ? lo : Long.MAX_VALUE;
  }

  // ---- peak EWMA (called by balancers) --------------------------------------------------

  /** The decayed latency estimate at {@code now}, as Finagle and Linkerd compute it. */
  public double cost(long now, double tauNanos) {
    double ewma = ewmaNanos;
    long elapsed = now - ewmaStamp;
    return elapsed > 0 ? ewma * decay(elapsed / tauNanos) : ewma;
  }

  /**
   * True when the latency estimate says little any more: nothing was observed for
   * {@link #STALE_NANOS}, or nothing at all. Such an endpoint with nothing in flight is worth a
   * probe.
   */
  public boolean stale(long now) {
    return !observed || now - ewmaStamp > STALE_NANOS;
  }

  /**
   * {@code exp(-x)} for {@code x >= 0}: a Taylor polynomial where the elapsed time is a small part
   * of the decay time (the common case between requests; error below 1e-8), {@link Math#exp} beyond.
   */
  static double decay(double x) {
    if (x < 0.01) {
      return 1 - x + x * x / 2 - x * x * x / 6;
    }
    return Math.exp(-x);
  }

  /**
   * Starts a new endpoint's estimate at its peers' ({@code nanos}), as if observed now, so it takes
   * a fair share of calls from its first pick rather than one call at a time as a probe. Its own
   * first sample is still skipped (see {@link #observe}).
   */
  void seed(long now, double nanos) {
    synchronized (this) {
      ewmaNanos = nanos;
      ewmaStamp = now;
      observed = true;
    }
  }

  /**
   * Feeds one latency: the estimate jumps to a higher value at once and decays towards lower ones;
   * after a stale spell the sample replaces the estimate. The first sample of an endpoint is
   * skipped: it carries one-time costs (class loading, first frames on a new connection) that would
   * otherwise stand as a peak and starve the endpoint under light load.
   */
  public void observe(long now, long rttNanos, double tauNanos) {
    synchronized (this) {
      if (!warmedUp) {
        warmedUp = true;
        return;
      }
      long elapsed = Math.max(now - ewmaStamp, 0);
      double ewma = ewmaNanos;
      if (!observed || elapsed > STALE_NANOS) {
        ewmaNanos = rttNanos;
      } else {
        double w = decay(elapsed / tauNanos);
        ewmaNanos = rttNanos > ewma ? rttNanos : ewma * w + rttNanos * (1 - w);
      }
      ewmaStamp = now;
      observed = true;
    }
  }

  /**
   * Feeds one failed attempt: the estimate takes the attempt's latency when that is higher, and
   * otherwise stays where it has decayed to, so a failure never makes an endpoint look faster (a
   * fast-failing endpoint does not attract traffic) nor parks it behind an arbitrary penalty
   * (failures are the outlier detector's and the breaker's business).
   */
  public void observeFailure(long now, long rttNanos, double tauNanos) {
    synchronized (this) {
      warmedUp = true;
      double decayed = cost(now, tauNanos);
      ewmaNanos = Math.max(rttNanos, decayed);
      ewmaStamp = now;
      observed = true;
    }
  }

  @Override
  public String toString() {
    return endpoint.id();
  }
}
