package io.meshup.core.internal.routing;

import io.meshup.core.internal.policy.PolicyModel;
import io.meshup.core.internal.policy.PolicyModel.BalancerKind;
import io.meshup.core.internal.policy.PolicyModel.TrafficPolicy;
import java.time.Duration;

/**
 * The mesh-wide defaults a DestinationRule refines: balancer, pool, outlier detection, breaker,
 * route timeout and retry budget.
 *
 * @param trafficPolicy defaults for every destination; unset members take MeshUp's built-ins
 * @param timeout route timeout when a route sets none; zero for none
 * @param retryBudgetTtl window of the retry budget
 * @param retryBudgetPercent share of requests that may be retried, 0..1
 * @param retryBudgetMinPerSecond retries always allowed per second
 */
public record Defaults(TrafficPolicy trafficPolicy, Duration timeout, Duration retryBudgetTtl,
    double retryBudgetPercent, double retryBudgetMinPerSecond) {
  /** MeshUp's built-ins (DESIGN.md): peak EWMA, no pool limit, 5 consecutive failures, 20 % + 10/s over 10 s. */
  public static final Defaults BUILT_IN = new Defaults(
      new TrafficPolicy(BalancerKind.PEAK_EWMA, null, PolicyModel.OutlierDetection.DEFAULT,
          PolicyModel.CircuitBreaker.DEFAULT, io.meshup.core.route.ClientTls.AUTO),
      Duration.ZERO, Duration.ofSeconds(10), 0.2, 10);

  /** Fills what {@code p} leaves unset from these defaults and then the built-ins. */
  public TrafficPolicy resolve(TrafficPolicy p) {
    return p.inherit(trafficPolicy).inherit(BUILT_IN.trafficPolicy);
  }
}
