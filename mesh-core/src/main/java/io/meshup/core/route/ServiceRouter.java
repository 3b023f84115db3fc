package io.meshup.core.route;

/**
 * The routing entry point for one destination service: first matching route wins, then one
 * random draw over the route's cumulative weights picks a target.
 *
 * <p>Thread-safe and non-blocking: reads one immutable routing table through a volatile
 * reference; policy and endpoint updates swap that table whole.
 */
public interface ServiceRouter {
  /** The logical name of the destination service. */
  String service();

  /**
   * Chooses the route and the weighted target for a request.
   *
   * @return the target, or null when no route of this service's VirtualService matches
   */
  RouteTarget select(RequestAttributes request);
}
