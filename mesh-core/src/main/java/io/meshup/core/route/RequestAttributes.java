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

  /** The authority (host and optional port) the request is addressed to; by default its {@code :authority} header. */
  default String authority() {
    String a = header(":authority");
    return a != null ? a : header("host") != null ? header("host") : "";
  }

  /** The scheme, {@code http} or {@code https}; by default {@code http}. */
  default String scheme() {
    return "http";
  }

  /** The port the request is addressed to (its authority's), or 0 when it names none. */
  default int port() {
    String a = authority();
    int colon = a.lastIndexOf(':');
    if (colon < 0 || a.indexOf(']') > colon) {
      return 0;
    }
    try {
      return Integer.parseInt(a.substring(colon + 1));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The raw query string without {@code ?}, or null for none. */
  default String query() {
    return null;
  }

  /** The caller's address, for hashing on the source IP; null when unknown (the client's own address is used). */
  default String sourceAddress() {
    return null;
  }
}
