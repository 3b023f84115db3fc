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
 * @param headersTimeout how long an HTTP attempt may wait for response headers when nothing shorter
 *     bounds it; zero for no bound
 * @param idleTimeout how long a destination no call used (and no policy names) keeps its state:
 *     registry watch, connections, meters; zero to keep it forever
 * @param discoveryTimeout how long a call with no deadline waits for the registry's first answer
 *     about its destination before failing; zero not to wait
 * @param emptyEndpointsGrace how long the last known endpoints keep serving when the registry,
 *     having listed some, answers with none (a reset or restarted agent, gRFC A53's case); zero to
 *     apply an empty answer at once
 */
public record Defaults(TrafficPolicy trafficPolicy, Duration timeout, Duration retryBudgetTtl,
    double retryBudgetPercent, double retryBudgetMinPerSecond, Duration headersTimeout, Duration idleTimeout,
    Duration discoveryTimeout, Duration emptyEndpointsGrace) {
  /** How long an idle destination keeps its state by default: 5 minutes. */
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
  /** How long a call without a deadline waits for the registry's first answer by default: 10 s. */
  public static final Duration DEFAULT_DISCOVERY_TIMEOUT = Duration.ofSeconds(10);
  /** How long an empty answer is held off by default: 30 s. */
  public static final Duration DEFAULT_EMPTY_ENDPOINTS_GRACE = Duration.ofSeconds(30);

  /** MeshUp's built-ins (DESIGN.md): peak EWMA, no pool limit, 5 consecutive failures, 20 % + 10/s over 10 s. */
  public static final Defaults BUILT_IN = new Defaults(
      new TrafficPolicy(BalancerKind.PEAK_EWMA, null, PolicyModel.OutlierDetection.DEFAULT,
          PolicyModel.CircuitBreaker.DEFAULT, io.meshup.core.route.ClientTls.AUTO),
      Duration.ZERO, Duration.ofSeconds(10), 0.2, 10, io.meshup.core.call.CallEngine.DEFAULT_HEADERS_TIMEOUT,
      DEFAULT_IDLE_TIMEOUT, DEFAULT_DISCOVERY_TIMEOUT, DEFAULT_EMPTY_ENDPOINTS_GRACE);

  /** Fills what {@code p} leaves unset from these defaults and then the built-ins. */
  public TrafficPolicy resolve(TrafficPolicy p) {
    return p.inherit(trafficPolicy).inherit(BUILT_IN.trafficPolicy);
  }
}
