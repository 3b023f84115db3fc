package io.meshup.core.route;

/** Why a destination refused an attempt before any endpoint was tried. */
public enum Rejection {
  /** The subset's circuit breaker is open (or half-open with no trial permit left). */
  CIRCUIT_OPEN("circuit_open", "circuit breaker is open"),
  /** The subset has as many requests in flight as its connection pool allows. */
  OVERFLOW("overflow", "concurrent request limit (connectionPool.http.http2MaxRequests) reached"),
  /** The subset has no endpoint at all. */
  NO_ENDPOINTS("no_endpoints", "no endpoint is registered");

  private final String tag;
  private final String reason;

  Rejection(String tag, String reason) {
    this.tag = tag;
    this.reason = reason;
  }

  /** The lower-case metric tag value. */
  public String tag() {
    return tag;
  }

  /** A human-readable reason. */
  public String reason() {
    return reason;
  }
}
