package io.meshup.core.route;

import java.util.Set;

/**
 * A route's retry settings, from Istio's {@code HTTPRetry}.
 *
 * @param attempts retries after the first try (0 disables route retries)
 * @param perTryTimeoutNanos the timeout of each try, or 0 for none beyond the route timeout
 * @param retryOn the conditions, Istio names ({@code 5xx}, {@code connect-failure},
 *     {@code unavailable}, ...)
 */
public record RetryPolicy(int attempts, long perTryTimeoutNanos, Set<String> retryOn) {
  /** No route retries (calls that never reached a server are still retried transparently). */
  public static final RetryPolicy NONE = new RetryPolicy(0, 0, Set.of());

  /** Copies. */
  public RetryPolicy {
    retryOn = Set.copyOf(retryOn);
  }

  /** True when {@code condition} (an Istio retryOn name) is configured. */
  public boolean retriesOn(String condition) {
    return retryOn.contains(condition);
  }
}
