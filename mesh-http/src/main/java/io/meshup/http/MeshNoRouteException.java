package io.meshup.http;

import java.io.IOException;

/**
 * No route of the destination's VirtualService matches the request; nothing was sent. The message
 * names the service, method and path, for example
 * {@code meshup: no route of service payments matches GET /refunds/7}.
 */
public final class MeshNoRouteException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String service;
  private final String path;

  public MeshNoRouteException(String service, String method, String path) {
    super("meshup: no route of service " + service + " matches " + method + " " + path);
    this.service = service;
    this.path = path;
  }

  /** The destination service. */
  public String service() {
    return service;
  }

  /** The request path that matched no route. */
  public String path() {
    return path;
  }
}
