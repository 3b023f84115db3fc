package io.meshup.http.internal;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.tls.TlsPeers;
import io.meshup.core.route.InboundAuthorizer;
import java.io.IOException;
import java.io.InputStream;
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
      // Read the refused request's body before answering: the JDK server would otherwise drain it
      // after the response, and a client that stopped sending once it saw the answer leaves that
      // drain swallowing its next request on the connection. Past the limit the connection closes.
      if (!drain(exchange.getRequestBody())) {
        exchange.getResponseHeaders().set("Connection", "close");
      }
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

  /** How much of a refused request's body is read before answering; past it the connection closes. */
  static final long DRAIN_LIMIT = 1 << 20;

  /** Reads and drops the body up to {@link #DRAIN_LIMIT}; true when it ended within it. */
  private static boolean drain(InputStream in) throws IOException {
    byte[] buf = new byte[8192];
    long total = 0;
    for (int n; (n = in.read(buf)) >= 0; ) {
      total += n;
      if (total > DRAIN_LIMIT) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String description() {
    return "MeshUp authorization (AuthorizationPolicy, PeerAuthentication, intentions)";
  }
}
