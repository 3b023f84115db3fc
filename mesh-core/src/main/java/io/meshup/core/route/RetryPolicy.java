package io.meshup.core.route;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * A route's retry settings, from Istio's {@code HTTPRetry}. Immutable.
 *
 * <p>{@code retryOn} holds Envoy's condition names ({@code 5xx}, {@code gateway-error},
 * {@code reset}, {@code connect-failure}, {@code refused-stream}, {@code retriable-4xx},
 * {@code retriable-status-codes}, and the gRPC ones {@code cancelled}, {@code deadline-exceeded},
 * {@code internal}, {@code resource-exhausted}, {@code unavailable}) and HTTP status codes
 * ({@code "503"}); what each means is decided in one table of the call engine, the same for every
 * transport.
 */
public final class RetryPolicy {
  /** No route retries (calls that never reached a server are still replayed transparently). */
  public static final RetryPolicy NONE = new RetryPolicy(0, 0, Set.of());

  /** Condition bits of {@link #conditions()}. */
  public static final int FIVE_XX = 1;
  public static final int GATEWAY_ERROR = 1 << 1;
  public static final int RESET = 1 << 2;
  public static final int CONNECT_FAILURE = 1 << 3;
  public static final int REFUSED_STREAM = 1 << 4;
  public static final int RETRIABLE_4XX = 1 << 5;
  public static final int RETRIABLE_STATUS_CODES = 1 << 6;
  public static final int CANCELLED = 1 << 7;
  public static final int DEADLINE_EXCEEDED = 1 << 8;
  public static final int INTERNAL = 1 << 9;
  public static final int RESOURCE_EXHAUSTED = 1 << 10;
  public static final int UNAVAILABLE = 1 << 11;
  /** Envoy's {@code reset-before-request}: a reset before the request was sent (retried for any method). */
  public static final int RESET_BEFORE_REQUEST = 1 << 12;
  /** Envoy's {@code http3-post-connect-failure}: MeshUp speaks no HTTP/3, so it never applies. */
  public static final int HTTP3_POST_CONNECT_FAILURE = 1 << 13;

  private static final String[] NAMES = {"5xx", "gateway-error", "reset", "connect-failure", "refused-stream",
      "retriable-4xx", "retriable-status-codes", "cancelled", "deadline-exceeded", "internal",
      "resource-exhausted", "unavailable", "reset-before-request", "http3-post-connect-failure"};

  private final int attempts;
  private final long perTryTimeoutNanos;
  private final Set<String> retryOn;
  private final int conditions;
  private final int[] statusCodes;
  private final boolean remoteLocalities;

  /** As {@link #RetryPolicy(int, long, Set, boolean)}, retrying in the same locality first. */
  public RetryPolicy(int attempts, long perTryTimeoutNanos, Set<String> retryOn) {
    this(attempts, perTryTimeoutNanos, retryOn, false);
  }

  /**
   * @param attempts retries after the first try (0 disables route retries)
   * @param perTryTimeoutNanos the timeout of each try, or 0 for none beyond the route timeout
   * @param retryOn the conditions: Envoy names and HTTP status codes
   * @param remoteLocalities Istio's {@code retryRemoteLocalities}: retries may go to other localities
   * @throws IllegalArgumentException for a name that is neither
   */
  public RetryPolicy(int attempts, long perTryTimeoutNanos, Set<String> retryOn, boolean remoteLocalities) {
    this.remoteLocalities = remoteLocalities;
    this.attempts = attempts;
    this.perTryTimeoutNanos = perTryTimeoutNanos;
    this.retryOn = Set.copyOf(new LinkedHashSet<>(retryOn));
    int mask = 0;
    int[] codes = new int[retryOn.size()];
    int n = 0;
    for (String c : retryOn) {
      int bit = bit(c);
      if (bit != 0) {
        mask |= bit;
      } else if (isStatusCode(c)) {
        codes[n++] = Integer.parseInt(c);
      } else {
        throw new IllegalArgumentException("'" + c + "' is not a retry condition");
      }
    }
    this.conditions = mask;
    this.statusCodes = Arrays.copyOf(codes, n);
    Arrays.sort(statusCodes);
  }

  /** The bit of a condition name, or 0 when it is none of Envoy's names MeshUp knows. */
  public static int bit(String condition) {
    String c = condition.toLowerCase(Locale.ROOT);
    for (int i = 0; i < NAMES.length; i++) {
      if (NAMES[i].equals(c)) {
        return 1 << i;
      }
    }
    return 0;
  }

  /** True for a three-digit HTTP status code such as {@code 503}. */
  public static boolean isStatusCode(String condition) {
    if (condition.length() != 3) {
      return false;
    }
    for (int i = 0; i < 3; i++) {
      char ch = condition.charAt(i);
      if (ch < '0' || ch > '9') {
        return false;
      }
    }
    int v = Integer.parseInt(condition);
    return v >= 100 && v <= 599;
  }

  /** The condition names MeshUp knows. */
  public static Set<String> conditionNames() {
    return Set.of(NAMES);
  }

  /** Retries after the first try. */
  public int attempts() {
    return attempts;
  }

  /** The timeout of each try, or 0 for none beyond the route's. */
  public long perTryTimeoutNanos() {
    return perTryTimeoutNanos;
  }

  /** Whether retries may go to endpoints of other localities ({@code retryRemoteLocalities}). */
  public boolean remoteLocalities() {
    return remoteLocalities;
  }

  /** The conditions as written. */
  public Set<String> retryOn() {
    return retryOn;
  }

  /** The named conditions as bits ({@link #FIVE_XX}...). */
  public int conditions() {
    return conditions;
  }

  /** True when any of the condition bits in {@code mask} is configured. */
  public boolean any(int mask) {
    return (conditions & mask) != 0;
  }

  /** True when {@code condition} (an Envoy name) is configured. */
  public boolean retriesOn(String condition) {
    int bit = bit(condition);
    return bit != 0 && (conditions & bit) != 0;
  }

  /** True when the HTTP status was listed as a code in {@code retryOn}. */
  public boolean listsStatus(int status) {
    return Arrays.binarySearch(statusCodes, status) >= 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RetryPolicy r && r.attempts == attempts && r.perTryTimeoutNanos == perTryTimeoutNanos
        && r.retryOn.equals(retryOn) && r.remoteLocalities == remoteLocalities;
  }

  @Override
  public int hashCode() {
    return Objects.hash(attempts, perTryTimeoutNanos, retryOn);
  }

  @Override
  public String toString() {
    return "RetryPolicy[attempts=" + attempts + ", perTryTimeoutNanos=" + perTryTimeoutNanos + ", retryOn=" + retryOn + "]";
  }
}
