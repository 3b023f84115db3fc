package io.meshup.core.route;

/**
 * One weighted destination of a route: a subset of a service, with the route's policy attached.
 * An attempt goes {@link #tryAcquire()}, {@link #pick}, send, {@link #record}; a caller that got a
 * permit and then could not use it calls {@link #release()} instead of {@link #record}.
 *
 * <p>Thread-safe, non-blocking, allocation-free.
 */
public interface RouteTarget {
  /** The route this target belongs to. */
  RoutePolicy route();

  /** The destination service. */
  String service();

  /** The subset name, or empty for all endpoints of the service. */
  String subset();

  /**
   * Asks the subset's circuit breaker and concurrency limit for a permit.
   *
   * @return null when permitted, otherwise why not (the rejection is counted)
   */
  Rejection tryAcquire();

  /**
   * Picks an endpoint with the subset's load balancer, skipping ejected endpoints unless none is
   * left (panic).
   *
   * @param avoid an endpoint to avoid when another is available (the one a retry failed on), or null
   * @return the endpoint, or null when the subset is empty
   */
  EndpointHandle pick(EndpointHandle avoid);

  /** Marks the start of an attempt on {@code endpoint}; returns the start time for {@link #record}. */
  long begin(EndpointHandle endpoint);

  /** Records how an attempt ended and releases its permit. */
  void record(EndpointHandle endpoint, long startNanos, Outcome outcome);

  /** Returns a permit that was acquired but not used (no endpoint, fault abort). */
  void release();

  /** Counts a rejection without asking for a permit (used for {@link Rejection#NO_ENDPOINTS}). */
  void reject(Rejection rejection);

  /**
   * Asks the destination's retry budget for one retry; counted when granted.
   *
   * @return false when retries are over budget
   */
  boolean tryRetry();

  /** How the transport should open connections to this destination's endpoints. */
  ConnectionSettings connectionSettings();

  /** A description for errors, such as {@code payments subset v2}. */
  String describe();
}
