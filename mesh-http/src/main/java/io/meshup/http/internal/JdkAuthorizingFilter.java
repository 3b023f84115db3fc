package io.meshup.http.internal;

import io.meshup.core.internal.tls.TlsPeers;
import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Authorizes each exchange of a JDK {@code HttpServer} against the mesh's policies in force before
 * the context's handler runs; a refused one is answered per {@link Denials} and goes no further.
 * One per server; thread-safe.
 */
final class JdkAuthorizingFilter extends Filter {
  private final InboundAuthorizer authorizer;

  JdkAuthorizingFilter(InboundAuthorizer authorizer) {
    this.authorizer = authorizer;
  }

  /** The caller's verified identity, or null on a plaintext exchange. */
  static WorkloadIdentity caller(HttpExchange exchange) {
    return exchange instanceof HttpsExchange https ? TlsPeers.identityOf(https.getSSLSession()) : null;
  }

  @Override
  public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
    String path = exchange.getRequestURI().getRawPath();
    InboundAuthorizer.Decision d = authorizer.authorize(caller(exchange), path == null || path.isEmpty() ? "/" : path,
        exchange.getRequestMethod());
    if (d.allowed()) {
      chain.doFilter(exchange);
      return;
    }
    try (exchange) {
      byte[] body = Denials.body(d);
      exchange.getResponseHeaders().set("Content-Type", Denials.CONTENT_TYPE);
      exchange.getResponseHeaders().set(Denials.POLICY_HEADER, d.policy());
      exchange.getResponseHeaders().set(Denials.RULE_HEADER, d.rule());
      if (exchange.getRequestMethod().equals("HEAD")) {
        exchange.sendResponseHeaders(Denials.status(d), -1);
        return;
      }
      exchange.sendResponseHeaders(Denials.status(d), body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public String description() {
    return "MeshUp authorization (AuthorizationPolicy, PeerAuthentication, intentions)";
  }
}
