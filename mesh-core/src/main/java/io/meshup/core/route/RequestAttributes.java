package io.meshup.core.route;

/**
 * What routing looks at in a request. A transport adapts its own request type to this view
 * without copying; a gRPC call's path is {@code /package.Service/Method} and its method {@code POST}.
 *
 * <p>Implementations are used by one thread at a time and only during {@link ServiceRouter#select}.
 */
public interface RequestAttributes {
  /** The request path without query string, for example {@code /charges/42}. Never null. */
  String path();

  /** The HTTP method in upper case, for example {@code GET}. Never null. */
  String method();

  /**
   * The first value of a header.
   *
   * @param lowerCaseName the header name in lower case
   * @return the value, or null when the request has no such header
   */
  String header(String lowerCaseName);
}
