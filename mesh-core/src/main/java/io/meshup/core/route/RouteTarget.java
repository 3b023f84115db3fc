package io.meshup.core.route;

/**
 * One weighted destination of a route: a subset of a service, with the route's policy attached.
 * The call engine runs every attempt against it; transports see it to describe a call and to open
 * connections with its settings.
 *
 * <p>Thread-safe; immutable.
 */
public interface RouteTarget {
  /** The route this target belongs to. */
  RoutePolicy route();

  /** The destination service. */
  String service();

  /** The subset name, or empty for all endpoints of the service. */
  String subset();

  /** How the transport should open connections to this destination's endpoints. */
  ConnectionSettings connectionSettings();

  /** A description for errors, such as {@code payments subset v2}. */
  String describe();
}
