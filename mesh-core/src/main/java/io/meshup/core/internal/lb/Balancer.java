package io.meshup.core.internal.lb;

import io.meshup.core.internal.policy.PolicyModel.BalancerKind;
import io.meshup.core.internal.routing.EndpointState;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks one endpoint of a subset. Implementations are thread-safe, lock-free and allocation-free,
 * and cost the same for 10 or 10,000 endpoints: they draw, they do not scan.
 *
 * <p>Every candidate has a {@linkplain #rank rank}, lower is better: an endpoint the call has
 * already tried, one that is ejected (unless the subset is in panic), one the transport cannot
 * reach, and one still connecting each rank worse than a ready one. A balancer picks among the
 * best-ranked candidates it finds by its own rule; it never returns none while the subset has
 * members: when nothing better is in reach it routes to any endpoint rather than to none.
 */
public abstract class Balancer {
  /** Decay time of the peak-EWMA latency estimate: 10 s. */
  public static final double EWMA_TAU_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
  /** Random draws before falling back to a walk. */
  static final int DRAWS = 4;
  /** Endpoints walked after the draws. */
  static final int WALK = 64;

  static final int TRIED = 8;
  static final int EJECTED = 4;
  static final int UNREACHABLE = 2;
  static final int CONNECTING = 1;

  /**
   * Chooses an endpoint.
   *
   * @param members the subset's endpoints, never empty
   * @param tried endpoints this call tried already, or null
   * @param now the current monotonic time in nanos
   * @param panic true when fewer than half the subset is healthy: ejections are then ignored
   * @return the chosen endpoint
   */
  public abstract EndpointState pick(EndpointState[] members, Tried tried, long now, boolean panic);

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

  /** How good a candidate is for this call, 0 best; see the class comment. Lifts an expired ejection. */
  static int rank(EndpointState e, Tried tried, long now, boolean panic) {
    int r = 0;
    if (tried != null && tried.contains(e)) {
      r += TRIED;
    }
    if (!e.isAvailable(now) && !panic) {
      r += EJECTED;
    }
    if (e.unreachable(now)) {
      r += UNREACHABLE;
    } else if (e.connecting()) {
      r += CONNECTING;
    }
    return r;
  }

  /** A uniformly random best-ranked endpoint within the draws and a bounded walk. */
  static EndpointState randomBest(EndpointState[] m, Tried tried, long now, boolean panic) {
    int n = m.length;
    if (n == 1) {
      m[0].isAvailable(now); // lifts an expired ejection; a lone endpoint is used regardless
      return m[0];
    }
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    for (int i = 0; i < DRAWS; i++) {
      EndpointState e = m[rnd.nextInt(n)];
      if (rank(e, tried, now, panic) == 0) {
        return e;
      }
    }
    return walk(m, rnd.nextInt(n), tried, now, panic);
  }

  /** Walks from {@code start}, returning the first rank-0 endpoint or the best-ranked one seen. */
  static EndpointState walk(EndpointState[] m, int start, Tried tried, long now, boolean panic) {
    int n = m.length;
    int limit = Math.min(n, WALK);
    EndpointState best = null;
    int bestRank = Integer.MAX_VALUE;
    for (int i = 0; i < limit; i++) {
      EndpointState e = m[(start + i) % n];
      int r = rank(e, tried, now, panic);
      if (r == 0) {
        return e;
      }
      if (r < bestRank) {
        best = e;
        bestRank = r;
      }
    }
    return best;
  }
}
