package io.meshup.core.internal.policy;

import io.meshup.core.route.ClientTls;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.BalancerKind;
import io.meshup.core.internal.policy.PolicyModel.CircuitBreaker;
import io.meshup.core.internal.policy.PolicyModel.ConnectionPool;
import io.meshup.core.internal.policy.PolicyModel.Destination;
import io.meshup.core.internal.policy.PolicyModel.DestinationRule;
import io.meshup.core.internal.policy.PolicyModel.HttpRoute;
import io.meshup.core.internal.policy.PolicyModel.OutlierDetection;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import io.meshup.core.internal.policy.PolicyModel.RequestAuthentication;
import io.meshup.core.internal.policy.PolicyModel.RequestMatch;
import io.meshup.core.internal.policy.PolicyModel.Subset;
import io.meshup.core.internal.policy.PolicyModel.TrafficPolicy;
import io.meshup.core.internal.policy.PolicyModel.VirtualService;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.RetryPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads Istio-style policy documents. Every field of Istio's API that MeshUp does not implement is
 * rejected by name; nothing is silently ignored. Stateless and thread-safe.
 */
public final class PolicyParser {
  private static final Set<String> API_VERSIONS = Set.of(
      "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3");

  static final Set<String> GRPC_CODES = Set.of("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED");

  /** API versions of the security documents: AuthorizationPolicy, PeerAuthentication, RequestAuthentication. */
  private static final Set<String> SECURITY_API_VERSIONS = Set.of("security.istio.io/v1", "security.istio.io/v1beta1");

  /** A parsed document: exactly one member is set. */
  public record Document(VirtualService virtualService, DestinationRule destinationRule,
      AuthorizationPolicy authorizationPolicy, PeerAuthentication peerAuthentication,
      RequestAuthentication requestAuthentication) {}

  /** Parses one document; {@code doc.source()} names its file or key. */
  public Document parse(ConfigNode doc) {
    doc.keys("apiVersion", "kind", "metadata", "spec");
    String kind = doc.required("kind").string();
    String apiVersion = doc.required("apiVersion").string();
    ConfigNode meta = doc.required("metadata").keys("name", "namespace", "labels", "annotations");
    String name = meta.required("name").nonEmpty();
    String origin = doc.source() + ": " + label(kind) + " " + label(name);
    ConfigNode d = doc.relabel(origin);
    Set<String> versions;
    switch (kind) {
      case "VirtualService":
      case "DestinationRule":
        versions = API_VERSIONS;
        break;
      case "AuthorizationPolicy":
      case "PeerAuthentication":
      case "RequestAuthentication":
        versions = SECURITY_API_VERSIONS;
        break;
      default:
        throw d.get("kind").error(ConfigNode.quote(kind) + " is not a supported kind; expected VirtualService, DestinationRule,"
            + " AuthorizationPolicy, PeerAuthentication or RequestAuthentication");
    }
    if (!versions.contains(apiVersion)) {
      String group = versions == SECURITY_API_VERSIONS ? "security.istio.io" : "networking.istio.io";
      String hint = apiVersion.startsWith(group + "/") ? "" : "; " + kind + " belongs to API group " + group
          + " (Istio itself refuses this version for it): write 'apiVersion: " + group + "/v1'";
      throw d.get("apiVersion").error(ConfigNode.quote(apiVersion) + " is not supported for " + label(kind)
          + hint + "; expected one of " + new java.util.TreeSet<>(versions));
    }
    switch (kind) {
      case "VirtualService":
        return new Document(virtualService(name, origin, d.required("spec")), null, null, null, null);
      case "DestinationRule":
        return new Document(null, destinationRule(name, origin, d.required("spec")), null, null, null);
      case "AuthorizationPolicy":
        return new Document(null, null, AuthzParser.authorizationPolicy(name, origin, d.get("metadata"), spec(d)), null, null);
      case "RequestAuthentication":
        return new Document(null, null, null, null, AuthzParser.requestAuthentication(name, origin, d.get("metadata"), spec(d)));
      default:
        return new Document(null, null, null, AuthzParser.peerAuthentication(name, origin, d.get("metadata"), spec(d)), null);
    }
  }

  /** A security document's spec: absent or empty ({@code spec: {}}) means every field unset, as in Istio. */
  private static ConfigNode spec(ConfigNode d) {
    ConfigNode spec = d.get("spec");
    return spec.isNull() ? d.without("apiVersion", "kind", "metadata", "spec") : spec;
  }

  // ---- VirtualService -------------------------------------------------------------------

  private VirtualService virtualService(String name, String origin, ConfigNode spec) {
    spec.unsupported("tcp", "MeshUp routes HTTP and gRPC requests only")
        .unsupported("tls", "MeshUp routes HTTP and gRPC requests only")
        .unsupported("exportTo", "visibility across namespaces does not apply in-process")
        .keys("hosts", "gateways", "http");
    List<String> hosts = new ArrayList<>();
    for (ConfigNode h : spec.required("hosts").items()) {
      hosts.add(host(h));
    }
    if (hosts.isEmpty()) {
      throw spec.get("hosts").error("must list at least one host");
    }
    for (ConfigNode g : spec.get("gateways").items()) {
      if (!"mesh".equals(g.string())) {
        throw g.error("gateway " + ConfigNode.quote(g.string()) + " is not supported; MeshUp applies VirtualServices to the mesh only (gateways: [mesh])");
      }
    }
    List<HttpRoute> routes = new ArrayList<>();
    List<ConfigNode> http = spec.required("http").items();
    for (int i = 0; i < http.size(); i++) {
      routes.add(httpRoute(http.get(i), i));
    }
    if (routes.isEmpty()) {
      throw spec.get("http").error("must hold at least one route");
    }
    return new VirtualService(name, origin, List.copyOf(hosts), List.copyOf(routes));
  }

  private HttpRoute httpRoute(ConfigNode r, int index) {
    r.unsupported("redirect", "redirects are not implemented")
        .unsupported("rewrite", "rewrites are not implemented")
        .unsupported("mirror", "mirroring is not implemented")
        .unsupported("mirrorPercentage", "mirroring is not implemented")
        .unsupported("mirrors", "mirroring is not implemented")
        .unsupported("corsPolicy", "CORS is the server's concern")
        .unsupported("headers", "header manipulation is not implemented")
        .unsupported("delegate", "delegation is not implemented")
        .unsupported("directResponse", "direct responses are not implemented")
        .keys("name", "match", "route", "timeout", "retries", "fault");
    String name = r.has("name") ? r.get("name").nonEmpty() : "http[" + index + "]";
    List<RequestMatch> matches = new ArrayList<>();
    for (ConfigNode m : r.get("match").items()) {
      matches.add(match(m));
    }
    List<Destination> dests = new ArrayList<>();
    List<ConfigNode> route = r.required("route").items();
    for (ConfigNode d : route) {
      dests.add(destination(d, route.size()));
    }
    if (dests.isEmpty()) {
      throw r.get("route").error("must hold at least one destination");
    }
    int sum = 0;
    for (Destination d : dests) {
      sum += d.weight();
    }
    if (sum != 100) {
      throw r.get("route").error("weights sum to " + sum + "; they must sum to 100");
    }
    Duration timeout = r.get("timeout").duration(Duration.ZERO);
    if (timeout.isNegative()) {
      throw r.get("timeout").error("must not be negative");
    }
    RetryPolicy retries = retries(r.get("retries"));
    FaultPolicy fault = fault(r.get("fault"));
    return new HttpRoute(name, List.copyOf(matches), List.copyOf(dests), timeout, retries, fault);
  }

  private RequestMatch match(ConfigNode m) {
    m.unsupported("queryParams", "query parameter matching is not implemented")
        .unsupported("authority", "authority matching is not implemented")
        .unsupported("scheme", "scheme matching is not implemented")
        .unsupported("port", "port matching is not implemented")
        .unsupported("sourceLabels", "the caller's labels are not known in-process")
        .unsupported("sourceNamespace", "the caller's namespace is not known in-process")
        .unsupported("gateways", "MeshUp applies to the mesh only")
        .unsupported("statPrefix", "stat prefixes are Envoy's")
        .keys("name", "uri", "method", "headers", "withoutHeaders", "ignoreUriCase");
    boolean ignoreCase = m.get("ignoreUriCase").bool(false);
    StringMatch uri = m.has("uri") ? stringMatch(m.get("uri"), ignoreCase) : null;
    StringMatch method = m.has("method") ? stringMatch(m.get("method"), false) : null;
    return new RequestMatch(uri, method, headers(m.get("headers")), headers(m.get("withoutHeaders")));
  }

  private Map<String, StringMatch> headers(ConfigNode h) {
    Map<String, StringMatch> out = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : h.entries().entrySet()) {
      String name = e.getKey().toLowerCase(java.util.Locale.ROOT);
      if (name.isEmpty()) {
        throw e.getValue().error("header name must not be empty");
      }
      out.put(name, stringMatch(e.getValue(), false));
    }
    return Map.copyOf(out);
  }

  private StringMatch stringMatch(ConfigNode n, boolean ignoreCase) {
    n.keys("exact", "prefix", "regex");
    if (n.entries().size() != 1) {
      throw n.error("must set exactly one of exact, prefix or regex");
    }
    Map.Entry<String, ConfigNode> e = n.entries().entrySet().iterator().next();
    String value = e.getValue().string();
    switch (e.getKey()) {
      case "exact":
        return new StringMatch(StringMatch.Kind.EXACT, value, ignoreCase);
      case "prefix":
        return new StringMatch(StringMatch.Kind.PREFIX, value, ignoreCase);
      default:
        try {
          return new StringMatch(StringMatch.Kind.REGEX, value, ignoreCase);
        } catch (IllegalArgumentException ex) {
          throw e.getValue().error(ConfigNode.quote(value) + " is not a valid regular expression: " + ex.getMessage());
        }
    }
  }

  private Destination destination(ConfigNode d, int siblings) {
    d.unsupported("headers", "header manipulation is not implemented").keys("destination", "weight");
    ConfigNode dest = d.required("destination").keys("host", "subset", "port");
    String host = host(dest.required("host"));
    String subset = dest.has("subset") ? dest.get("subset").nonEmpty() : "";
    if (dest.has("port")) {
      dest.get("port").keys("number").required("number").integer(1, 65535);
    }
    int weight = (int) d.get("weight").integer(0, 100, siblings == 1 ? 100 : -1);
    if (weight < 0) {
      throw d.get("weight").error("is required when a route has more than one destination");
    }
    return new Destination(host, subset, weight, d);
  }

  private RetryPolicy retries(ConfigNode r) {
    if (r.isNull()) {
      return RetryPolicy.NONE;
    }
    r.unsupported("retryRemoteLocalities", "localities are not modelled")
        .unsupported("retryIgnorePreviousHosts", "MeshUp always prefers another endpoint on retry")
        .unsupported("backoff", "the backoff is fixed: 25 ms base, jittered, exponential")
        .keys("attempts", "perTryTimeout", "retryOn");
    int attempts = (int) r.required("attempts").integer(0, 10);
    long perTry = r.get("perTryTimeout").positiveDuration(Duration.ZERO).toNanos();
    Set<String> on = new LinkedHashSet<>();
    if (r.has("retryOn")) {
      for (String c : r.get("retryOn").string().split(",")) {
        String cond = c.trim();
        if (cond.isEmpty()) {
          continue;
        }
        if (RetryPolicy.bit(cond) == 0 && !RetryPolicy.isStatusCode(cond)) {
          throw r.get("retryOn").error(ConfigNode.quote(cond) + " is not a supported retry condition; expected HTTP"
              + " status codes (such as 503) and some of " + new java.util.TreeSet<>(RetryPolicy.conditionNames()));
        }
        on.add(cond);
      }
    } else {
      on.addAll(List.of("connect-failure", "refused-stream", "unavailable", "cancelled"));
    }
    return new RetryPolicy(attempts, perTry, on);
  }

  private FaultPolicy fault(ConfigNode f) {
    if (f.isNull()) {
      return FaultPolicy.NONE;
    }
    f.keys("delay", "abort");
    long delay = 0;
    double delayPct = 0;
    if (f.has("delay")) {
      ConfigNode d = f.get("delay").unsupported("exponentialDelay", "only fixedDelay is implemented")
          .keys("fixedDelay", "percentage", "percent");
      delay = d.required("fixedDelay").positiveDuration().toNanos();
      delayPct = percentage(d);
    }
    int httpStatus = 0;
    String grpcStatus = null;
    double abortPct = 0;
    if (f.has("abort")) {
      ConfigNode a = f.get("abort").unsupported("http2Error", "HTTP/2 errors are not injected")
          .keys("httpStatus", "grpcStatus", "percentage");
      if (a.has("httpStatus") == a.has("grpcStatus")) {
        throw a.error("must set exactly one of httpStatus or grpcStatus");
      }
      if (a.has("httpStatus")) {
        httpStatus = (int) a.get("httpStatus").integer(200, 599);
      } else {
        grpcStatus = a.get("grpcStatus").string().trim().toUpperCase(java.util.Locale.ROOT);
        if (!GRPC_CODES.contains(grpcStatus)) {
          throw a.get("grpcStatus").error(ConfigNode.quote(grpcStatus) + " is not a gRPC status code name");
        }
      }
      abortPct = percentage(a);
    }
    return new FaultPolicy(delay, delayPct, httpStatus, grpcStatus, abortPct);
  }

  private static double percentage(ConfigNode n) {
    if (n.has("percentage")) {
      return n.get("percentage").keys("value").required("value").decimal(0, 100);
    }
    if (n.has("percent")) {
      return n.get("percent").integer(0, 100);
    }
    return 100;
  }

  // ---- DestinationRule ------------------------------------------------------------------

  private DestinationRule destinationRule(String name, String origin, ConfigNode spec) {
    spec.unsupported("exportTo", "visibility across namespaces does not apply in-process")
        .unsupported("workloadSelector", "MeshUp applies rules to the calling service itself")
        .keys("host", "trafficPolicy", "subsets");
    String host = host(spec.required("host"));
    TrafficPolicy tp = trafficPolicy(spec.get("trafficPolicy"));
    List<Subset> subsets = new ArrayList<>();
    Set<String> names = new LinkedHashSet<>();
    for (ConfigNode s : spec.get("subsets").items()) {
      s.keys("name", "labels", "trafficPolicy");
      String sn = s.required("name").nonEmpty();
      if (!names.add(sn)) {
        throw s.get("name").error("subset " + ConfigNode.quote(sn) + " is defined twice");
      }
      Map<String, String> labels = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> e : s.get("labels").entries().entrySet()) {
        labels.put(e.getKey(), e.getValue().string());
      }
      subsets.add(new Subset(sn, Map.copyOf(labels), trafficPolicy(s.get("trafficPolicy"))));
    }
    return new DestinationRule(name, origin, host, tp, List.copyOf(subsets));
  }

  /** Reads a {@code trafficPolicy}; also used for the bootstrap's {@code defaults}. */
  public TrafficPolicy trafficPolicy(ConfigNode t) {
    if (t.isNull()) {
      return TrafficPolicy.EMPTY;
    }
    t.unsupported("portLevelSettings", "per-port settings are not implemented")
        .unsupported("tunnel", "tunnels are not implemented")
        .unsupported("proxyProtocol", "the PROXY protocol does not apply in-process")
        .keys("loadBalancer", "connectionPool", "outlierDetection", "circuitBreaker", "tls");
    return new TrafficPolicy(
        t.has("loadBalancer") ? loadBalancer(t.get("loadBalancer")) : null,
        t.has("connectionPool") ? connectionPool(t.get("connectionPool")) : null,
        t.has("outlierDetection") ? outlierDetection(t.get("outlierDetection")) : null,
        t.has("circuitBreaker") ? circuitBreaker(t.get("circuitBreaker")) : null,
        t.has("tls") ? clientTls(t.get("tls")) : null);
  }

  /** Reads {@code trafficPolicy.tls}: the mesh's own mutual TLS, or none. */
  private static ClientTls clientTls(ConfigNode tls) {
    String own = "MeshUp clients present the mesh's certificates (mode ISTIO_MUTUAL) or none (DISABLE)";
    tls.unsupported("clientCertificate", own)
        .unsupported("privateKey", own)
        .unsupported("caCertificates", own)
        .unsupported("caCrl", own)
        .unsupported("credentialName", own)
        .unsupported("subjectAltNames", "the server is checked by the destination's SPIFFE ID")
        .unsupported("sni", "the server is checked by the destination's SPIFFE ID; SNI is not sent")
        .unsupported("insecureSkipVerify", "the server is always verified")
        .keys("mode");
    String mode = tls.required("mode").oneOf("DISABLE", "ISTIO_MUTUAL", "SIMPLE", "MUTUAL");
    switch (mode) {
      case "DISABLE":
        return ClientTls.DISABLE;
      case "ISTIO_MUTUAL":
        return ClientTls.ISTIO_MUTUAL;
      default:
        throw tls.get("mode").error(mode + " is not supported; " + own);
    }
  }

  private static BalancerKind loadBalancer(ConfigNode lb) {
    lb.unsupported("consistentHash", "ring hash balancing is not implemented yet")
        .unsupported("localityLbSetting", "localities are not modelled")
        .unsupported("warmupDurationSecs", "slow start is not implemented")
        .unsupported("warmup", "slow start is not implemented")
        .keys("simple");
    String s = lb.required("simple").oneOf("PEAK_EWMA", "LEAST_REQUEST", "LEAST_CONN", "ROUND_ROBIN", "RANDOM", "UNSPECIFIED");
    switch (s) {
      case "LEAST_REQUEST":
      case "LEAST_CONN":
        return BalancerKind.LEAST_REQUEST;
      case "ROUND_ROBIN":
        return BalancerKind.ROUND_ROBIN;
      case "RANDOM":
        return BalancerKind.RANDOM;
      default:
        return BalancerKind.PEAK_EWMA;
    }
  }

  private static ConnectionPool connectionPool(ConfigNode cp) {
    cp.keys("tcp", "http");
    ConfigNode tcp = cp.get("tcp");
    ConfigNode http = cp.get("http");
    if (!tcp.isNull()) {
      tcp.unsupported("maxConnectionDuration", "connection lifetime limits are not implemented")
          .unsupported("idleTimeout", "set connectionPool.http.idleTimeout instead")
          .keys("maxConnections", "connectTimeout", "tcpKeepalive");
    }
    if (!http.isNull()) {
      http.unsupported("useClientProtocol", "the client protocol is the transport's")
          .unsupported("maxConcurrentStreams", "stream limits are the server's")
          .keys("http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout",
              "h2UpgradePolicy");
    }
    boolean h2Upgrade = false;
    if (http.has("h2UpgradePolicy")) {
      String p = http.get("h2UpgradePolicy").string();
      switch (p) {
        case "UPGRADE":
          h2Upgrade = true;
          break;
        case "DEFAULT":
        case "DO_NOT_UPGRADE":
          break;
        default:
          throw http.get("h2UpgradePolicy").error("'" + p + "' is not one of DEFAULT, DO_NOT_UPGRADE, UPGRADE");
      }
    }
    int max = Integer.MAX_VALUE;
    Duration keepalive = null;
    Duration keepaliveTimeout = null;
    if (tcp.has("tcpKeepalive")) {
      // HTTP/2 pings stand for TCP probes: the first after 'time' without reads, and the
      // connection closes when none is answered within interval x probes
      ConfigNode ka = tcp.get("tcpKeepalive").keys("time", "interval", "probes");
      keepalive = ka.get("time").positiveDuration(null);
      Duration interval = ka.get("interval").positiveDuration(null);
      long probes = ka.get("probes").integer(1, 1000, 9);
      if (interval != null) {
        keepaliveTimeout = interval.multipliedBy(probes);
      }
    }
    return new ConnectionPool(
        (int) http.get("http2MaxRequests").integer(1, max, max),
        (int) http.get("http1MaxPendingRequests").integer(1, max, max),
        (int) http.get("maxRetries").integer(0, max, max),
        (int) tcp.get("maxConnections").integer(1, max, max),
        (int) http.get("maxRequestsPerConnection").integer(0, max, 0),
        tcp.get("connectTimeout").positiveDuration(null),
        http.get("idleTimeout").positiveDuration(null),
        keepalive, keepaliveTimeout, h2Upgrade);
  }

  private static OutlierDetection outlierDetection(ConfigNode od) {
    od.unsupported("splitExternalLocalOriginErrors", "local-origin errors are not tracked apart")
        .unsupported("consecutiveLocalOriginFailures", "local-origin errors are not tracked apart")
        .unsupported("minHealthPercent", "MeshUp routes to all endpoints only when none is healthy (panic)")
        .keys("consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent");
    OutlierDetection d = OutlierDetection.DEFAULT;
    if (od.has("consecutiveErrors") && od.has("consecutive5xxErrors")) {
      throw od.get("consecutiveErrors").error("set consecutive5xxErrors only; consecutiveErrors is its deprecated name");
    }
    int consecutive = (int) (od.has("consecutiveErrors") ? od.get("consecutiveErrors").integer(0, 1_000_000)
        : od.get("consecutive5xxErrors").integer(0, 1_000_000, d.consecutiveErrors()));
    return new OutlierDetection(consecutive,
        (int) od.get("consecutiveGatewayErrors").integer(0, 1_000_000, 0),
        od.get("interval").positiveDuration(d.interval()),
        od.get("baseEjectionTime").positiveDuration(d.baseEjectionTime()),
        (int) od.get("maxEjectionPercent").integer(0, 100, d.maxEjectionPercent()));
  }

  private static CircuitBreaker circuitBreaker(ConfigNode cb) {
    cb.keys("enabled", "failureRateThreshold", "slowCallRateThreshold", "slowCallDurationThreshold",
        "slidingWindowSize", "minimumNumberOfCalls", "waitDurationInOpenState", "permittedNumberOfCallsInHalfOpenState");
    CircuitBreaker d = CircuitBreaker.DEFAULT;
    int window = (int) cb.get("slidingWindowSize").integer(1, 100_000, d.slidingWindowSize());
    int minCalls = (int) cb.get("minimumNumberOfCalls").integer(1, 100_000, Math.min(d.minimumNumberOfCalls(), window));
    if (minCalls > window) {
      throw cb.get("minimumNumberOfCalls").error(minCalls + " is larger than slidingWindowSize " + window);
    }
    return new CircuitBreaker(cb.get("enabled").bool(true),
        (float) cb.get("failureRateThreshold").decimal(1, 100, d.failureRateThreshold()),
        (float) cb.get("slowCallRateThreshold").decimal(1, 100, d.slowCallRateThreshold()),
        cb.get("slowCallDurationThreshold").positiveDuration(d.slowCallDurationThreshold()),
        window, minCalls,
        cb.get("waitDurationInOpenState").positiveDuration(d.waitDurationInOpenState()),
        (int) cb.get("permittedNumberOfCallsInHalfOpenState").integer(1, 10_000, d.permittedNumberOfCallsInHalfOpenState()));
  }

  /** A document's kind or name as its origin shows it: cut to a readable length. */
  private static String label(String s) {
    return s.length() <= 80 ? s : s.substring(0, 80) + "...";
  }

  /**
   * A host as a service name: {@code payments}, or the first label of a DNS-style name such as
   * {@code payments.prod.svc.cluster.local}. Wildcards are rejected.
   */
  static String host(ConfigNode h) {
    String s = h.nonEmpty().trim();
    if (s.contains("*")) {
      throw h.error("wildcard host " + ConfigNode.quote(s) + " is not supported; name the destination service");
    }
    int dot = s.indexOf('.');
    return dot > 0 ? s.substring(0, dot) : s;
  }
}
