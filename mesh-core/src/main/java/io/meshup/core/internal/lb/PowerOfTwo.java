package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Power of two choices: draw two distinct available endpoints, keep the cheaper. With peak EWMA
 * the cost is the decayed latency estimate times (requests in flight + 1), as in Finagle and
 * Linkerd, and costs within 20 % of each other count as a tie that the random draw settles;
 * otherwise it is requests in flight + 1 alone (least request). Costs are divided by the endpoint
 * weight.
 */
final class PowerOfTwo extends Balancer {
  /** Decay time of the latency estimate: 10 s. */
  static final double TAU_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** Peak EWMA costs within this factor of each other are a tie. */
  static final double TIE = 1.2;

  private final boolean peakEwma;

  PowerOfTwo(boolean peakEwma) {
    this.peakEwma = peakEwma;
  }

  @Override
  public EndpointState pick(EndpointState[] m, EndpointState avoid, long now) {
    int n = m.length;
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    EndpointState a = null;
    EndpointState b = null;
    if (n <= 8) {
      // few endpoints: look at all of them in a random rotation, so both choices are found surely
      int start = rnd.nextInt(n);
      for (int i = 0; i < n && b == null; i++) {
        EndpointState e = m[(start + i) % n];
        if (e != avoid && e.isAvailable(now)) {
          if (a == null) {
            a = e;
          } else {
            b = e;
          }
        }
      }
    } else {
      for (int t = 0; t < 2 * DRAWS && b == null; t++) {
        EndpointState e = m[rnd.nextInt(n)];
        if (e != avoid && e != a && e.isAvailable(now)) {
          if (a == null) {
            a = e;
          } else {
            b = e;
          }
        }
      }
    }
    if (a == null) {
      return walk(m, rnd.nextInt(n), avoid, now);
    }
    if (b == null) {
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
    double pending = e.inFlight() + 1;
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
