package io.meshup.core.internal.routing;

import io.meshup.core.Endpoint;
import io.meshup.core.route.EndpointHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The live state of one endpoint of one service: requests in flight, peak-EWMA latency, and
 * outlier ejection. Survives routing-table swaps (keyed by endpoint id), so a policy change does
 * not reset what the balancer has learned. Thread-safe; no method blocks.
 */
public final class EndpointState implements EndpointHandle {
  private final Endpoint endpoint;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger consecutiveFailures = new AtomicInteger();
  private final AtomicLong ejectedUntil = new AtomicLong(); // 0 = not ejected
  private volatile boolean probing;
  private volatile boolean removed;
  private int ejections; // guarded by the detector's lock

  // Peak EWMA: written under 'this' (a few arithmetic operations, never held across I/O), read
  // without a lock. A reader may pair a new estimate with an old stamp for an instant; the cost
  // is then off by one decay step, which a balancer's comparison tolerates.
  private volatile double ewmaNanos;
  private volatile long ewmaStamp;
  private boolean warmedUp;

  EndpointState(Endpoint endpoint, long nowNanos, long initialRttNanos) {
    this.endpoint = endpoint;
    this.ewmaNanos = initialRttNanos;
    this.ewmaStamp = nowNanos;
  }

  @Override
  public Endpoint endpoint() {
    return endpoint;
  }

  @Override
  public boolean isRemoved() {
    return removed;
  }

  /** Marks the endpoint gone from the registry. */
  void markRemoved() {
    removed = true;
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

  public boolean isEjected(long now) {
    long until = ejectedUntil.get();
    return until != 0 && now - until < 0;
  }

  // ---- outlier detection (called by OutlierDetector) -----------------------------------

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
    long duration = Math.min(baseNanos * ejections, maxNanos);
    long until = now + duration;
    ejectedUntil.set(until == 0 ? 1 : until);
    return duration;
  }

  // ---- peak EWMA (called by balancers) --------------------------------------------------

  /** The decayed latency estimate at {@code now}, as Finagle and Linkerd compute it. */
  public double cost(long now, double tauNanos) {
    double ewma = ewmaNanos;
    long elapsed = now - ewmaStamp;
    return elapsed > 0 ? ewma * decay(elapsed / tauNanos) : ewma;
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
   * Feeds one latency: the estimate jumps to a higher value at once and decays towards lower ones.
   * The first sample of an endpoint is skipped: it carries one-time costs (class loading, first
   * frames on a new connection) that would otherwise stand as a peak for tens of seconds and starve
   * the endpoint under light load.
   */
  public void observe(long now, long rttNanos, double tauNanos) {
    synchronized (this) {
      if (!warmedUp) {
        warmedUp = true;
        return;
      }
      long elapsed = Math.max(now - ewmaStamp, 0);
      double w = decay(elapsed / tauNanos);
      double ewma = ewmaNanos;
      ewmaNanos = rttNanos > ewma ? rttNanos : ewma * w + rttNanos * (1 - w);
      ewmaStamp = now;
    }
  }

  /**
   * Feeds one failed attempt: the estimate takes the attempt's latency when that is higher, and
   * otherwise stays where it has decayed to, so a failure never makes an endpoint look faster (a
   * fast-failing endpoint does not attract traffic) nor parks it behind an arbitrary penalty for
   * tens of seconds (failures are the outlier detector's and the breaker's business).
   */
  public void observeFailure(long now, long rttNanos, double tauNanos) {
    synchronized (this) {
      warmedUp = true;
      double decayed = cost(now, tauNanos);
      ewmaNanos = Math.max(rttNanos, decayed);
      ewmaStamp = now;
    }
  }

  @Override
  public String toString() {
    return endpoint.id();
  }
}
