package io.meshup.core.route;

/**
 * How one attempt against one endpoint ended, as the breaker, the balancer and outlier detection
 * see it. Transports map their statuses here: gRPC {@code UNAVAILABLE}, {@code INTERNAL},
 * {@code UNKNOWN}, {@code DATA_LOSS} and HTTP 5xx, resets and connect failures are {@link #FAILURE};
 * {@code RESOURCE_EXHAUSTED} and HTTP 429 are {@link #OVERLOAD}.
 */
public enum Outcome {
  /** The endpoint answered normally. */
  SUCCESS,
  /** The endpoint answered with an error that is the caller's doing (4xx, INVALID_ARGUMENT...): healthy. */
  CLIENT_ERROR,
  /** The endpoint failed or could not be reached. */
  FAILURE,
  /** The attempt ran past its deadline. */
  TIMEOUT,
  /** The endpoint said it is overloaded: counted as a slow call, not a fast one. */
  OVERLOAD,
  /** The caller gave up; says nothing about the endpoint. */
  CANCELLED;

  /** The lower-case metric tag value. */
  public String tag() {
    return TAGS[ordinal()];
  }

  private static final String[] TAGS = {"success", "client_error", "failure", "timeout", "overload", "cancelled"};
}
