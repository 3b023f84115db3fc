package io.meshup.http.internal;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.meshup.core.PathNormalization;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.http.RequestTargets;
import io.meshup.core.internal.tls.TlsPeers;
import io.meshup.core.route.InboundAuthorizer;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Normalizes and authorizes each exchange of a JDK {@code HttpServer} against the mesh's policies
 * in force before the context's handler runs. The method must be in upper case and the target
 * must normalize ({@link RequestTargets}), else 400. The path authorized is the one the handler
 * sees: when normalization changed it, the handler gets an exchange whose request URI is the
 * normalized path (and the original query), dispatched to the context that path belongs to by the
 * JDK's own rule (the longest context path its decoded form starts with), whichever context the
 * JDK picked from the raw target. With NONE, a path whose decoded form would pick another context
 * than the path as written is refused with 400, since the JDK dispatches on the decoded form. A
 * refused exchange is answered per {@link Denials} and goes no further. One per server;
 * thread-safe.
 */
final class JdkAuthorizingFilter extends Filter {
  private final InboundAuthorizer authorizer;
  private final RequestTargets targets;
  private final JdkContexts contexts = new JdkContexts();
  private final MeterRegistry meters;
  private final io.meshup.core.route.InboundTelemetry telemetry;

  JdkAuthorizingFilter(InboundAuthorizer authorizer, RequestTargets targets, MeterRegistry meters,
      io.meshup.core.route.InboundTelemetry telemetry) {
    this.authorizer = authorizer;
    this.targets = targets;
    this.meters = meters;
    this.telemetry = telemetry;
  }

  private static final io.meshup.core.route.InboundTelemetry.Headers<HttpExchange> HEADERS =
      new io.meshup.core.route.InboundTelemetry.Headers<>() {
        @Override
        public Iterable<String> names(HttpExchange e) {
          return e.getRequestHeaders().keySet();
        }

        @Override
        public String get(HttpExchange e, String name) {
          return e.getRequestHeaders().getFirst(name);
        }
      };

  /** The contexts of the server this filter guards; the server adds each one it creates. */
  JdkContexts contexts() {
    return contexts;
  }

  /** The caller's verified identity, or null on a plaintext exchange. */
  static WorkloadIdentity caller(HttpExchange exchange) {
    return exchange instanceof HttpsExchange https ? TlsPeers.identityOf(https.getSSLSession()) : null;
  }

  /**
   * Times the exchange in {@code mesh.server.requests} (and, with a tracer, a SERVER span current
   * while the handler runs), refused or not; an exchange whose handler answers only after returning
   * (or one held for an external authorizer) counts when the filter returns, with status
   * {@code other}.
   */
  @Override
  public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
    io.meshup.core.route.InboundTelemetry.Call call = telemetry.begin(false, exchange.getRequestMethod(), exchange,
        HEADERS, caller(exchange));
    try (io.opentelemetry.context.Scope s = call.makeCurrent()) {
      authorize(exchange, chain);
    } finally {
      call.end(Math.max(exchange.getResponseCode(), 0));
    }
  }

  private void authorize(HttpExchange exchange, Chain chain) throws IOException {
    if (exchange instanceof HttpsExchange https && TlsPeers.refusedWithoutCertificate(https.getSSLSession(), meters)) {
      answer(exchange, 401, "meshup: the TLS client presented no certificate; mutual TLS requires one\n", true);
      return;
    }
    String method = exchange.getRequestMethod();
    URI uri = exchange.getRequestURI();
    String target = uri.toString();
    String path;
    try {
      targets.checkMethod(method);
      path = targets.path(target);
    } catch (RequestTargets.Refused r) {
      badRequest(exchange, r.reason().message());
      return;
    }
    HttpExchange seen = exchange;
    HttpContext context = exchange.getHttpContext();
    boolean rewritten = path != target && (uri.isAbsolute() || !path.equals(uri.getRawPath()));
    if (rewritten) {
      HttpContext expected = contexts.find(decoded(path));
      if (expected == null) {
        answer(exchange, 404, "meshup: no context for " + path + "\n", false);
        return;
      }
      String query = uri.getRawQuery();
      seen = NormalizedExchange.of(exchange, URI.create(query == null ? path : path + "?" + query), expected);
      context = expected;
    } else if (targets.mode() == PathNormalization.NONE && path.indexOf('%') >= 0
        && contexts.find(decoded(path)) != contexts.find(path)) {
      targets.refuse(RequestTargets.Reason.AMBIGUOUS);
      badRequest(exchange, RequestTargets.Reason.AMBIGUOUS.message());
      return;
    }
    InboundAuthorizer.Decision d = authorizer.authorize(new JdkRequest(exchange, path, uri.getRawQuery()));
    if (d.kind() == InboundAuthorizer.Kind.PENDING) {
      // an external authorizer decides: this dispatcher thread goes on; the exchange goes on
      // (or is refused) on the thread that delivers the answer
      HttpExchange held = seen;
      HttpContext heldContext = context;
      d.pending().whenComplete((f, error) -> {
        try {
          finish(exchange, held, heldContext, chain, f != null ? f : Denials.UNDECIDED);
        } catch (IOException | RuntimeException e) {
          exchange.close();
        }
      });
      return;
    }
    finish(exchange, seen, context, chain, d);
  }

  private void finish(HttpExchange exchange, HttpExchange seen, HttpContext context, Chain chain,
      InboundAuthorizer.Decision d) throws IOException {
    if (d.allowed()) {
      if (!d.requestHeadersToSet().isEmpty() || !d.requestHeadersToRemove().isEmpty()) {
        com.sun.net.httpserver.Headers h = new com.sun.net.httpserver.Headers();
        h.putAll(seen.getRequestHeaders());
        for (String r : d.requestHeadersToRemove()) {
          h.remove(r);
        }
        for (java.util.Map.Entry<String, String> e : d.requestHeadersToSet()) {
          h.set(e.getKey(), e.getValue());
        }
        seen = NormalizedExchange.of(seen, seen.getRequestURI(), context, h);
      }
      if (context != exchange.getHttpContext()) {
        new Chain(filtersAfterThis(context), context.getHandler()).doFilter(seen);
      } else {
        chain.doFilter(seen);
      }
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
      for (java.util.Map.Entry<String, String> h : d.responseHeaders()) {
        exchange.getResponseHeaders().add(h.getKey(), h.getValue());
      }
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

  /** What the authorizer reads of a JDK exchange; read only while it decides. */
  private static final class JdkRequest implements InboundAuthorizer.Request {
    private final HttpExchange exchange;
    private final String path;
    private final String query;
    private final WorkloadIdentity caller;

    JdkRequest(HttpExchange exchange, String path, String query) {
      this.exchange = exchange;
      this.path = path;
      this.query = query;
      this.caller = JdkAuthorizingFilter.caller(exchange);
    }

    @Override public WorkloadIdentity caller() { return caller; }
    @Override public String path() { return path; }
    @Override public String method() { return exchange.getRequestMethod(); }
    @Override public String query() { return query; }

    @Override
    public String header(String name) {
      List<String> all = exchange.getRequestHeaders().get(name);
      if (all == null || all.isEmpty()) {
        return null;
      }
      return all.size() == 1 ? all.get(0) : String.join(",", all);
    }

    @Override
    public List<String> headerNames() {
      return exchange.getRequestHeaders().keySet().stream().map(k -> k.toLowerCase(java.util.Locale.ROOT)).toList();
    }

    @Override public java.net.InetAddress sourceAddress() { return exchange.getRemoteAddress().getAddress(); }
    @Override public int sourcePort() { return exchange.getRemoteAddress().getPort(); }
    @Override public java.net.InetAddress destinationAddress() { return exchange.getLocalAddress().getAddress(); }
    @Override public int destinationPort() { return exchange.getLocalAddress().getPort(); }

    @Override
    public String serverName() {
      return exchange instanceof HttpsExchange https ? TlsPeers.serverName(https.getSSLSession()) : null;
    }

    @Override public String scheme() { return exchange instanceof HttpsExchange ? "https" : "http"; }
    @Override public String protocol() { return exchange.getProtocol(); }
  }

  /** The filters of {@code context} that come after this one (those its creator added). */
  private List<Filter> filtersAfterThis(HttpContext context) {
    List<Filter> all = context.getFilters();
    int i = all.indexOf(this);
    return i < 0 ? all : all.subList(i + 1, all.size());
  }

  /** The path as the JDK's dispatcher sees it: percent-decoded. */
  private static String decoded(String path) {
    return path.indexOf('%') < 0 ? path : URI.create(path).getPath();
  }

  private static void badRequest(HttpExchange exchange, String message) throws IOException {
    answer(exchange, 400, message + "\n", true);
  }

  /** Answers and, when {@code close}, ends the connection (the rest of what it sent is not read). */
  static void answer(HttpExchange exchange, int status, String message, boolean close) throws IOException {
    try (exchange) {
      byte[] body = message.getBytes(StandardCharsets.UTF_8);
      if (close) {
        exchange.getResponseHeaders().set("Connection", "close");
      } else if (!drain(exchange.getRequestBody())) {
        exchange.getResponseHeaders().set("Connection", "close");
      }
      exchange.getResponseHeaders().set("Content-Type", Denials.CONTENT_TYPE);
      if (exchange.getRequestMethod().equals("HEAD")) {
        exchange.sendResponseHeaders(status, -1);
        return;
      }
      exchange.sendResponseHeaders(status, body.length);
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
    return "MeshUp path normalization and authorization (AuthorizationPolicy, PeerAuthentication, intentions)";
  }
}
