package io.meshup.http;

import io.meshup.core.route.Rejection;
import java.io.IOException;

/**
 * The destination refused a request before any endpoint was tried: its circuit breaker is open,
 * its concurrency limit is reached, or it has no endpoint. The message names the service, the
 * subset, the reason and the route, for example
 * {@code meshup: payments subset v2: circuit breaker is open (route split)}.
 */
public final class MeshUnavailableException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String service;
  private final String subset;
  private final String route;
  private final Rejection rejection;

  /**
   * @param description the destination as {@code RouteTarget.describe()} gives it
   * @param subset the subset name, or empty for all endpoints of the service
   */
  public MeshUnavailableException(String service, String subset, String description, String route, Rejection rejection) {
    super("meshup: " + description + ": " + rejection.reason() + " (route " + route + ")");
    this.service = service;
    this.subset = subset;
    this.route = route;
    this.rejection = rejection;
  }

  /** The destination service. */
  public String service() {
    return service;
  }

  /** The subset name, or empty for all endpoints of the service. */
  public String subset() {
    return subset;
  }

  /** The route that chose the destination. */
  public String route() {
    return route;
  }

  /** Why the destination refused. */
  public Rejection rejection() {
    return rejection;
  }
}
