package io.meshup.core.route;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A route's fault injection, from Istio's {@code HTTPFaultInjection}.
 *
 * @param delayNanos delay to add before sending, or 0
 * @param delayPercent share of requests delayed, 0..100
 * @param abortHttpStatus HTTP status of an injected abort, or 0
 * @param abortGrpcStatus gRPC status name of an injected abort (for example {@code UNAVAILABLE}), or null
 * @param abortPercent share of requests aborted, 0..100
 */
public record FaultPolicy(long delayNanos, double delayPercent, int abortHttpStatus,
    String abortGrpcStatus, double abortPercent) {
  /** No fault. */
  public static final FaultPolicy NONE = new FaultPolicy(0, 0, 0, null, 0);

  /** Draws whether this request is delayed. */
  public boolean drawDelay() {
    return delayNanos > 0 && draw(delayPercent);
  }

  /** Draws whether this request is aborted. */
  public boolean drawAbort() {
    return abortPercent > 0 && draw(abortPercent);
  }

  private static boolean draw(double percent) {
    return percent >= 100 || ThreadLocalRandom.current().nextDouble() * 100 < percent;
  }
}
