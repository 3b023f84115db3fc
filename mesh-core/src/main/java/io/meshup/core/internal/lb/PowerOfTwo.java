package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Power of two choices: draw two distinct candidates, keep the better-ranked one and, between
 * equals, the cheaper. With peak EWMA the cost is the decayed latency estimate times (requests in
 * flight + 1), as in Finagle and Linkerd, and costs within 20 % of each other count as a tie that
 * the random draw settles; otherwise it is requests in flight + 1 alone (least request). Costs are
 * divided by the endpoint weight. An endpoint with nothing in flight whose estimate is
 * {@linkplain EndpointState#stale stale} costs nothing: it gets the pick as a probe, so a recovered
 * or new endpoint is tried within seconds.
 */
final class PowerOfTwo extends Balancer {
  /** Decay time of the latency estimate. */
  static final double TAU_NANOS = EWMA_TAU_NANOS;
  /** Peak EWMA costs within this factor of each other are a tie. */
  static final double TIE = 1.2;

  private final boolean peakEwma;

  PowerOfTwo(boolean peakEwma) {
    this.peakEwma = peakEwma;
  }

  @Override
  public EndpointState pick(EndpointState[] m, Tried tried, long now, boolean panic) {
    int n = m.length;
    if (n == 1) {
      m[0].isAvailable(now);
      return m[0];
    }
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    EndpointState a = null;
    EndpointState b = null;
    int ra = Integer.MAX_VALUE;
    int rb = Integer.MAX_VALUE;
    if (n <= 8) {
      // few endpoints: rank all of them in a random rotation and keep the two best, so both
      // choices are found surely; the rotation breaks ties between equal ranks at random
      int start = rnd.nextInt(n);
      for (int i = 0; i < n; i++) {
        EndpointState e = m[(start + i) % n];
        int r = rank(e, tried, now, panic);
        if (r < ra) {
          b = a;
          rb = ra;
          a = e;
          ra = r;
        } else if (r < rb) {
          b = e;
          rb = r;
        }
        if (rb == 0) {
          break;
        }
      }
    } else {
      for (int t = 0; t < 2 * DRAWS && rb != 0; t++) {
        EndpointState e = m[rnd.nextInt(n)];
        if (e == a) {
          continue;
        }
        int r = rank(e, tried, now, panic);
        if (r < ra) {
          b = a;
          rb = ra;
          a = e;
          ra = r;
        } else if (r < rb) {
          b = e;
          rb = r;
        }
      }
      if (ra != 0) {
        return walk(m, rnd.nextInt(n), tried, now, panic);
      }
    }
    if (b == null || rb > ra) {
      return a;
    }
    double ca = cost(a, now);
    double cb = cost(b, now);
    if (peakEwma && ca <= cb * TIE && cb <= ca * TIE) {
      // near-equal costs are a tie, won by the random first draw: otherwise, at light load (nothing
      // pending), the endpoint that was a little faster lately takes the calls in bursts and its
      // server queues them (measured: +0.2 ms at p99 against round robin, jmh/README.md)
      return a;
    }
    return ca <= cb ? a : b;
  }

  private double cost(EndpointState e, long now) {
    int inFlight = e.inFlight();
    if (peakEwma && inFlight == 0 && e.stale(now)) {
      return 0;
    }
    double pending = inFlight + 1;
    double c = peakEwma ? e.cost(now, TAU_NANOS) * pending : pending;
    return c / e.endpoint().weight();
  }

  @Override
  public void observe(EndpointState endpoint, long now, long rttNanos) {
    if (peakEwma) {
      endpoint.observe(now, rttNanos, TAU_NANOS);
    }
  }

  @Override
  public void observeFailure(EndpointState endpoint, long now, long rttNanos) {
    if (peakEwma) {
      endpoint.observeFailure(now, rttNanos, TAU_NANOS);
    }
  }

  @Override
  public boolean wantsSchedule() {
    return false;
  }
}
