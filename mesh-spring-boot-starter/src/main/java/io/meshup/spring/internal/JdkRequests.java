package io.meshup.spring.internal;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;

/**
 * Spring's request parts as a {@code java.net.http} request for {@code MeshHttpClient}, and the
 * JDK's response headers as Spring's, for the blocking and the reactive adapters alike. Stateless.
 */
public final class JdkRequests {
  /** Headers the JDK client sets itself and refuses from callers. */
  private static final Set<String> RESTRICTED = Set.of("connection", "content-length", "expect", "host", "upgrade");

  private JdkRequests() {}

  /**
   * The request to send: the body is buffered (so a retry or a replay can send it again), the
   * headers the JDK client sets itself are left out.
   *
   * @param timeout the request's own timeout, or null for none (the route timeout still applies)
   */
  public static HttpRequest request(HttpMethod method, URI uri, HttpHeaders headers, byte[] body, Duration timeout) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri)
        .method(method.name(), body == null || body.length == 0
            ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    for (Map.Entry<String, List<String>> h : headers.headerSet()) {
      if (RESTRICTED.contains(h.getKey().toLowerCase(Locale.ROOT))) {
        continue;
      }
      for (String v : h.getValue()) {
        b.header(h.getKey(), v);
      }
    }
    if (timeout != null) {
      b.timeout(timeout);
    }
    return b.build();
  }

  /** The response's headers as Spring's (HTTP/2 pseudo-headers left out). */
  public static HttpHeaders headers(HttpResponse<?> response) {
    HttpHeaders out = new HttpHeaders();
    for (Map.Entry<String, List<String>> h : response.headers().map().entrySet()) {
      if (!h.getKey().startsWith(":")) {
        out.addAll(h.getKey(), h.getValue());
      }
    }
    return out;
  }
}
