package io.meshup.spring;

import io.meshup.core.Mesh;
import io.meshup.core.PathNormalization;
import io.meshup.core.identity.SpiffeCertificates;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.http.RequestTargets;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.route.InboundTelemetry;
import io.meshup.http.internal.Denials;
import io.micrometer.core.instrument.Counter;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletMapping;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.MappingMatch;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Authorizes each request of a servlet application (Spring MVC) against the mesh's
 * AuthorizationPolicy, PeerAuthentication and RequestAuthentication documents and Consul intentions
 * in force at that moment, before any other filter or handler sees it: the servlet counterpart of
 * mesh-http's {@code MeshHttpServers} and {@code MeshNettyHttp} adapters, with their rules and
 * answers.
 *
 * <p>The path authorized is the path the handler sees. The raw target ({@code getRequestURI()} and
 * the query) is normalized per {@code mesh.security.pathNormalization} exactly as the mesh's own
 * adapters do ({@code RequestTargets}: encoded slashes, bad escapes, {@code ..} above the root and
 * lower-case methods are refused with 400); when normalization changed it, the request goes on
 * with {@code getRequestURI()}, {@code getRequestURL()}, {@code getServletPath()} and
 * {@code getPathInfo()} giving the normalized path, so Spring MVC matches handlers against what was
 * authorized. Two things a servlet container and Spring MVC remove from a path before they match it,
 * and Istio's normalization keeps, are refused with 400 rather than authorized in a form the handler
 * does not see: path parameters ({@code /admin;x=1}, reason {@code path_parameter}) and, unless the
 * mode merges slashes, empty segments ({@code //admin}, reason {@code empty_segment}); both counted in
 * {@code mesh.server.requests.rejected{reason}}. With {@code NONE} nothing is normalized or refused
 * but invalid escapes (Istio warns that mode is open to CVE-2021-31920).
 *
 * <p>A refusal is answered here as the mesh's adapters answer it (403 or 401, the decision's message
 * as the body, {@code x-meshup-authz-policy} and {@code x-meshup-authz-rule}) and goes no further. A
 * decision an external authorizer must make ({@code CUSTOM}) is awaited on the request's thread (a
 * servlet thread may block; the provider's timeout bounds it). Headers a decision sets or removes
 * (a verified JWT's, claims) are what the handler then reads. The caller is the SPIFFE ID of the
 * client certificate the container verified ({@code jakarta.servlet.request.X509Certificate}),
 * null on plaintext. Every request is timed in {@code mesh.server.requests{protocol=http}}.
 *
 * <p>Register it for REQUEST dispatches, ahead of other filters (the starter does, at
 * {@code Ordered.HIGHEST_PRECEDENCE + 10}). Thread-safe.
 */
public final class MeshAuthorizationFilter implements Filter {
  private static final String CERTIFICATES = "jakarta.servlet.request.X509Certificate";
  private static final InboundTelemetry.Headers<HttpServletRequest> HEADERS = new InboundTelemetry.Headers<>() {
    @Override
    public Iterable<String> names(HttpServletRequest r) {
      return Collections.list(r.getHeaderNames());
    }

    @Override
    public String get(HttpServletRequest r, String name) {
      return r.getHeader(name);
    }
  };

  private final InboundAuthorizer authorizer;
  private final InboundTelemetry telemetry;
  private final RequestTargets targets;
  private final Counter pathParameters;
  private final Counter emptySegments;

  /** A filter authorizing against {@code mesh}'s policies, normalizing per its {@link Mesh#pathNormalization()}. */
  public MeshAuthorizationFilter(Mesh mesh) {
    this.authorizer = mesh.authorizer();
    this.telemetry = mesh.inboundTelemetry();
    this.targets = new RequestTargets(mesh.pathNormalization(), mesh.meterRegistry());
    this.pathParameters = rejected(mesh, "path_parameter");
    this.emptySegments = rejected(mesh, "empty_segment");
  }

  private static Counter rejected(Mesh mesh, String reason) {
    return Counter.builder(RequestTargets.REJECTED)
        .description("Inbound HTTP requests refused with 400 before authorization: ambiguous target or method")
        .baseUnit("requests")
        .tag("reason", reason)
        .register(mesh.meterRegistry());
  }

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    if (!(request instanceof HttpServletRequest req) || !(response instanceof HttpServletResponse res)) {
      chain.doFilter(request, response);
      return;
    }
    WorkloadIdentity caller = caller(req);
    InboundTelemetry.Call call = telemetry.begin(false, req.getMethod(), req, HEADERS, caller);
    boolean async = false;
    try (io.opentelemetry.context.Scope s = call.makeCurrent()) {
      async = authorize(req, res, chain, caller);
    } finally {
      if (async) {
        req.getAsyncContext().addListener(new Ending(call));
      } else {
        call.end(res.getStatus());
      }
    }
  }

  /** Decides and answers or passes the request on; true when the handler went asynchronous. */
  private boolean authorize(HttpServletRequest req, HttpServletResponse res, FilterChain chain, WorkloadIdentity caller)
      throws IOException, ServletException {
    String raw = req.getRequestURI();
    String query = req.getQueryString();
    String path;
    try {
      targets.checkMethod(req.getMethod());
      path = targets.path(query == null ? raw : raw + "?" + query);
    } catch (RequestTargets.Refused r) {
      answer(res, 400, r.reason().message());
      return false;
    }
    if (targets.mode() != PathNormalization.NONE) {
      if (path.indexOf(';') >= 0) {
        pathParameters.increment();
        answer(res, 400, "meshup: path parameters (';') are refused: the servlet container would drop them from the"
            + " path the handler sees");
        return false;
      }
      if (path.contains("//")) {
        emptySegments.increment();
        answer(res, 400, "meshup: empty path segments ('//') are refused: the servlet container would merge them;"
            + " set mesh.security.pathNormalization to MERGE_SLASHES to merge them before authorizing");
        return false;
      }
    }
    HttpServletRequest seen = req;
    if (!path.equals(raw)) {
      seen = Normalized.of(req, path);
      if (seen == null) {
        answer(res, 404, "meshup: no servlet for " + path);
        return false;
      }
    }
    InboundAuthorizer.Decision d = authorizer.authorize(new View(seen, path, query, caller));
    if (d.kind() == InboundAuthorizer.Kind.PENDING) {
      d = await(d);
    }
    if (!d.allowed()) {
      for (Map.Entry<String, String> h : d.responseHeaders()) {
        res.addHeader(h.getKey(), h.getValue());
      }
      res.setHeader(Denials.POLICY_HEADER, d.policy());
      res.setHeader(Denials.RULE_HEADER, d.rule());
      answer(res, Denials.status(d), d.message());
      return false;
    }
    if (!d.requestHeadersToSet().isEmpty() || !d.requestHeadersToRemove().isEmpty()) {
      seen = new Headers(seen, d);
    }
    chain.doFilter(seen, res);
    return req.isAsyncStarted();
  }

  private static InboundAuthorizer.Decision await(InboundAuthorizer.Decision pending) {
    try {
      return pending.pending().toCompletableFuture().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Denials.UNDECIDED;
    } catch (ExecutionException | CompletionException e) {
      return Denials.UNDECIDED;
    }
  }

  private static void answer(HttpServletResponse res, int status, String message) throws IOException {
    byte[] body = (message.endsWith("\n") ? message : message + "\n").getBytes(StandardCharsets.UTF_8);
    res.setStatus(status);
    res.setContentType(Denials.CONTENT_TYPE);
    res.setContentLength(body.length);
    res.getOutputStream().write(body);
    res.flushBuffer();
  }

  /** The caller's SPIFFE identity from the client certificate the container verified; null without one. */
  static WorkloadIdentity caller(HttpServletRequest req) {
    Object certs = req.getAttribute(CERTIFICATES);
    if (certs instanceof X509Certificate[] chain && chain.length > 0) {
      try {
        return SpiffeCertificates.identityOf(chain[0]);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
    return null;
  }

  /** Ends the call's timing when an asynchronous request completes. */
  private record Ending(InboundTelemetry.Call call) implements AsyncListener {
    @Override
    public void onComplete(AsyncEvent e) {
      call.end(((HttpServletResponse) e.getSuppliedResponse()).getStatus());
    }

    @Override
    public void onTimeout(AsyncEvent e) {}

    @Override
    public void onError(AsyncEvent e) {}

    @Override
    public void onStartAsync(AsyncEvent e) {}
  }

  /** What the authorizer reads of a servlet request; read only while it decides. */
  private record View(HttpServletRequest req, String path, String query, WorkloadIdentity caller)
      implements InboundAuthorizer.Request {
    @Override public String method() { return req.getMethod(); }

    @Override
    public String header(String name) {
      Enumeration<String> all = req.getHeaders(name);
      if (all == null || !all.hasMoreElements()) {
        return null;
      }
      String first = all.nextElement();
      if (!all.hasMoreElements()) {
        return first;
      }
      StringBuilder b = new StringBuilder(first);
      while (all.hasMoreElements()) {
        b.append(',').append(all.nextElement());
      }
      return b.toString();
    }

    @Override
    public List<String> headerNames() {
      List<String> out = new ArrayList<>();
      for (Enumeration<String> e = req.getHeaderNames(); e.hasMoreElements(); ) {
        out.add(e.nextElement().toLowerCase(Locale.ROOT));
      }
      return out;
    }

    @Override public InetAddress sourceAddress() { return address(req.getRemoteAddr()); }
    @Override public int sourcePort() { return req.getRemotePort(); }
    @Override public InetAddress destinationAddress() { return address(req.getLocalAddr()); }
    @Override public int destinationPort() { return req.getLocalPort(); }
    @Override public String scheme() { return req.getScheme(); }

    @Override
    public String protocol() {
      String p = req.getProtocol();
      return p != null && p.startsWith("HTTP/2") ? "HTTP/2" : "HTTP/1.1";
    }

    private static InetAddress address(String literal) {
      if (literal == null || literal.isEmpty()) {
        return null;
      }
      try {
        // an IP literal: no name is looked up
        return InetAddress.getByName(literal);
      } catch (UnknownHostException e) {
        return null;
      }
    }
  }

  /** The request as the handler must see it: its path normalized. */
  private static final class Normalized extends HttpServletRequestWrapper {
    private final String uri;
    private final String servletPath;
    private final String pathInfo;

    private Normalized(HttpServletRequest req, String uri, String servletPath, String pathInfo) {
      super(req);
      this.uri = uri;
      this.servletPath = servletPath;
      this.pathInfo = pathInfo;
    }

    /** The request with {@code path} (context path included); null when no servlet mapping of the request takes it. */
    static Normalized of(HttpServletRequest req, String path) {
      String context = req.getContextPath();
      if (!path.startsWith(context + "/") && !path.equals(context)) {
        return null;
      }
      String within = decode(path.substring(context.length()));
      HttpServletMapping mapping = req.getHttpServletMapping();
      MappingMatch match = mapping == null ? null : mapping.getMappingMatch();
      if (match == MappingMatch.DEFAULT || match == null) {
        return new Normalized(req, path, within, null);
      }
      if (match == MappingMatch.PATH) {
        String prefix = req.getServletPath();
        if (within.equals(prefix)) {
          return new Normalized(req, path, prefix, null);
        }
        if (within.startsWith(prefix + "/")) {
          return new Normalized(req, path, prefix, within.substring(prefix.length()));
        }
      }
      return null;
    }

    private static String decode(String rawPath) {
      return rawPath.indexOf('%') < 0 ? rawPath : URI.create(rawPath).getPath();
    }

    @Override public String getRequestURI() { return uri; }
    @Override public String getServletPath() { return servletPath; }
    @Override public String getPathInfo() { return pathInfo; }

    @Override
    public StringBuffer getRequestURL() {
      StringBuffer b = new StringBuffer().append(getScheme()).append("://").append(getServerName());
      int port = getServerPort();
      if (port > 0 && !(port == 80 && "http".equals(getScheme())) && !(port == 443 && "https".equals(getScheme()))) {
        b.append(':').append(port);
      }
      return b.append(uri);
    }
  }

  /** The request with the headers an allowing decision sets or removes. */
  private static final class Headers extends HttpServletRequestWrapper {
    private final Map<String, List<String>> headers = new LinkedHashMap<>();

    Headers(HttpServletRequest req, InboundAuthorizer.Decision d) {
      super(req);
      for (Enumeration<String> names = req.getHeaderNames(); names.hasMoreElements(); ) {
        String n = names.nextElement();
        headers.put(n.toLowerCase(Locale.ROOT), Collections.list(req.getHeaders(n)));
      }
      for (String r : d.requestHeadersToRemove()) {
        headers.remove(r.toLowerCase(Locale.ROOT));
      }
      for (Map.Entry<String, String> e : d.requestHeadersToSet()) {
        headers.put(e.getKey().toLowerCase(Locale.ROOT), List.of(e.getValue()));
      }
    }

    @Override
    public String getHeader(String name) {
      List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
      return v == null || v.isEmpty() ? null : v.get(0);
    }

    @Override
    public Enumeration<String> getHeaders(String name) {
      return Collections.enumeration(headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of()));
    }

    @Override
    public Enumeration<String> getHeaderNames() {
      return Collections.enumeration(headers.keySet());
    }

    @Override
    public long getDateHeader(String name) {
      String v = getHeader(name);
      return v == null ? -1 : super.getDateHeader(name);
    }

    @Override
    public int getIntHeader(String name) {
      String v = getHeader(name);
      return v == null ? -1 : Integer.parseInt(v);
    }
  }
}
