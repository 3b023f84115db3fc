package io.meshup.core.internal.lb;

import io.meshup.core.internal.policy.PolicyModel.BalancerKind;
import io.meshup.core.internal.routing.EndpointState;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks one endpoint of a subset. Implementations are thread-safe, lock-free and allocation-free,
 * and cost the same for 10 or 10,000 endpoints: they draw, they do not scan.
 *
 * <p>Ejected endpoints are skipped; when every draw lands on an ejected endpoint, a bounded walk
 * looks for a healthy one, and when none is found the pick goes to any endpoint (panic), never
 * to none.
 */
public abstract class Balancer {
  /** Random draws before falling back to a walk. */
  static final int DRAWS = 4;
  /** Endpoints walked after the draws before panicking. */
  static final int WALK = 64;

  /**
   * Chooses an endpoint.
   *
   * @param members the subset's endpoints, never empty
   * @param avoid an endpoint to avoid when another is available, or null
   * @param now the current monotonic time in nanos
   * @return the chosen endpoint
   */
  public abstract EndpointState pick(EndpointState[] members, EndpointState avoid, long now);

  /**
   * True when the balancer wants the weighted schedule (each endpoint repeated by its weight)
   * rather than the plain member list; weight-aware balancers take the plain list.
   */
  public boolean wantsSchedule() {
    return true;
  }

  /** Records a finished attempt (latency-aware balancers learn from it). */
  public void observe(EndpointState endpoint, long now, long rttNanos) {}

  /** Records a failed attempt (latency-aware balancers must not take it for a fast answer). */
  public void observeFailure(EndpointState endpoint, long now, long rttNanos) {}

  /** Creates the balancer of the given kind. */
  public static Balancer of(BalancerKind kind) {
    switch (kind) {
      case ROUND_ROBIN:
        return new RoundRobin();
      case LEAST_REQUEST:
        return new PowerOfTwo(false);
      case RANDOM:
        return new RandomPick();
      default:
        return new PowerOfTwo(true);
    }
  }

  /** A uniformly random available endpoint other than {@code avoid} when possible. */
  static EndpointState randomAvailable(EndpointState[] m, EndpointState avoid, long now) {
    int n = m.length;
    if (n == 1) {
      m[0].isAvailable(now); // lifts an expired ejection; a lone endpoint is used regardless
      return m[0];
    }
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    for (int i = 0; i < DRAWS; i++) {
      EndpointState e = m[rnd.nextInt(n)];
      if (e != avoid && e.isAvailable(now)) {
        return e;
      }
    }
    return walk(m, rnd.nextInt(n), avoid, now);
  }

  /** Walks from {@code start} for a healthy endpoint; panics to any endpoint when none is found. */
  static EndpointState walk(EndpointState[] m, int start, EndpointState avoid, long now) {
    int n = m.length;
    int limit = Math.min(n, WALK);
    EndpointState fallback = null;
    for (int i = 0; i < limit; i++) {
      EndpointState e = m[(start + i) % n];
      if (e.isAvailable(now)) {
        if (e != avoid) {
          return e;
        }
        fallback = e;
      }
    }
    if (fallback != null) {
      return fallback;
    }
    return m[start]; // panic: nothing healthy in reach, route to all rather than to none
  }
}
