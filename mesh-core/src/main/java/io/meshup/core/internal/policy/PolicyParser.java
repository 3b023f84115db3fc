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
import io.meshup.core.internal.policy.PolicyModel.Cors;
import io.meshup.core.internal.policy.PolicyModel.Delegate;
import io.meshup.core.internal.policy.PolicyModel.DirectResponse;
import io.meshup.core.internal.policy.PolicyModel.Distribute;
import io.meshup.core.internal.policy.PolicyModel.HashPolicy;
import io.meshup.core.internal.policy.PolicyModel.HeaderOps;
import io.meshup.core.internal.policy.PolicyModel.LocalitySettings;
import io.meshup.core.internal.policy.PolicyModel.Mirror;
import io.meshup.core.internal.policy.PolicyModel.Redirect;
import io.meshup.core.internal.policy.PolicyModel.Rewrite;
import io.meshup.core.internal.policy.PolicyModel.ServiceEntry;
import io.meshup.core.internal.policy.PolicyModel.ServicePort;
import io.meshup.core.internal.policy.PolicyModel.TlsFiles;
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

  /** Kinds of networking.istio.io that cannot apply in-process, with the reason. */
  private static final Map<String, String> OUT_OF_REACH = Map.of(
      "Gateway", "a Gateway configures a standalone ingress or egress proxy; MeshUp runs inside each client."
          + " The source holding it is refused whole, its other documents too (on an update the last good policy"
          + " keeps serving): keep Gateways out of MeshUp's sources (a VirtualService bound only to gateways loads"
          + " on its own and applies to those gateways alone)",
      "Sidecar", "a Sidecar configures a proxy's listeners and egress visibility; MeshUp has no proxy (use exportTo"
          + " on the documents to limit what this workload sees)",
      "EnvoyFilter", "an EnvoyFilter patches Envoy's own configuration; MeshUp runs no Envoy",
      "WorkloadEntry", "a WorkloadEntry adds a workload to the cluster's registry; register it in MeshUp's registry"
          + " (Consul, etcd, static) or list it as a ServiceEntry endpoint",
      "WorkloadGroup", "a WorkloadGroup is a template for WorkloadEntries, which MeshUp does not read",
      "ProxyConfig", "a ProxyConfig tunes Envoy processes; MeshUp runs no Envoy",
      "Telemetry", "Telemetry configures Envoy's metrics, logs and traces; MeshUp's meters are configured in the"
          + " application (docs/metrics.md)",
      "WasmPlugin", "a WasmPlugin extends Envoy; MeshUp runs no Envoy");

  /** A parsed document: exactly one member is set. */
  public record Document(VirtualService virtualService, DestinationRule destinationRule,
      AuthorizationPolicy authorizationPolicy, PeerAuthentication peerAuthentication,
      RequestAuthentication requestAuthentication, ServiceEntry serviceEntry) {
    Document(VirtualService v, DestinationRule d, AuthorizationPolicy a, PeerAuthentication p, RequestAuthentication r) {
      this(v, d, a, p, r, null);
    }
  }

  private final String namespace;

  /** A reader for a workload in namespace {@code default}. */
  public PolicyParser() {
    this("default");
  }

  /** A reader for a workload in {@code namespace}: documents without {@code metadata.namespace} are in it. */
  public PolicyParser(String namespace) {
    this.namespace = namespace;
  }

  /** Parses one document; {@code doc.source()} names its file or key. */
  public Document parse(ConfigNode doc) {
    // kubectl get -o yaml output carries status and server-set metadata: read and left alone
    doc.keys("apiVersion", "kind", "metadata", "spec", "status");
    String kind = doc.required("kind").string();
    String apiVersion = doc.required("apiVersion").string();
    ConfigNode meta = doc.required("metadata").keys("name", "namespace", "labels", "annotations", "resourceVersion",
        "uid", "generation", "creationTimestamp", "managedFields", "selfLink", "finalizers", "ownerReferences",
        "deletionTimestamp", "deletionGracePeriodSeconds", "generateName");
    String name = meta.required("name").nonEmpty();
    String origin = doc.source() + ": " + label(kind) + " " + label(name);
    ConfigNode d = doc.relabel(origin);
    Set<String> versions;
    switch (kind) {
      case "VirtualService":
      case "DestinationRule":
      case "ServiceEntry":
        versions = API_VERSIONS;
        break;
      case "AuthorizationPolicy":
      case "PeerAuthentication":
      case "RequestAuthentication":
        versions = SECURITY_API_VERSIONS;
        break;
      default:
        if (OUT_OF_REACH.containsKey(kind)) {
          throw d.get("kind").error(ConfigNode.quote(kind) + " is not supported by MeshUp: " + OUT_OF_REACH.get(kind));
        }
        throw d.get("kind").error(ConfigNode.quote(kind) + " is not a supported kind; expected VirtualService, DestinationRule,"
            + " ServiceEntry, AuthorizationPolicy, PeerAuthentication or RequestAuthentication");
    }
    if (!versions.contains(apiVersion)) {
      String group = versions == SECURITY_API_VERSIONS ? "security.istio.io" : "networking.istio.io";
      String hint = apiVersion.startsWith(group + "/") ? "" : "; " + kind + " belongs to API group " + group
          + " (Istio itself refuses this version for it): write 'apiVersion: " + group + "/v1'";
      throw d.get("apiVersion").error(ConfigNode.quote(apiVersion) + " is not supported for " + label(kind)
          + hint + "; expected one of " + new java.util.TreeSet<>(versions));
    }
    String ns = meta.has("namespace") ? meta.get("namespace").nonEmpty().trim() : null;
    switch (kind) {
      case "VirtualService":
        return new Document(virtualService(name, origin, ns, d.required("spec")), null, null, null, null);
      case "DestinationRule":
        return new Document(null, destinationRule(name, origin, ns, d.required("spec")), null, null, null);
      case "ServiceEntry":
        return new Document(null, null, null, null, null, serviceEntry(name, origin, ns, d.required("spec")));
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

  /** {@code exportTo}: absent or {@code *} for all namespaces; {@code .} is the document's own. */
  private Set<String> exportTo(ConfigNode list, String docNamespace) {
    Set<String> out = new LinkedHashSet<>();
    for (ConfigNode n : list.items()) {
      String v = n.nonEmpty().trim();
      if (v.equals("~")) {
        throw n.error("'~' (exported to no namespace) is not supported: such a document applies to nobody; remove it");
      }
      out.add(v.equals(".") ? (docNamespace == null ? namespace : docNamespace) : v);
    }
    return out.isEmpty() || out.contains("*") ? Set.of("*") : Set.copyOf(out);
  }

  // ---- VirtualService -------------------------------------------------------------------

  private VirtualService virtualService(String name, String origin, String ns, ConfigNode spec) {
    spec.unsupported("tcp", "MeshUp routes HTTP and gRPC requests; opaque TCP connections do not pass through it")
        .unsupported("tls", "MeshUp routes HTTP and gRPC requests; SNI routing of TLS it does not terminate does"
            + " not pass through it")
        .keys("hosts", "gateways", "http", "exportTo");
    List<String> hosts = new ArrayList<>();
    for (ConfigNode h : spec.get("hosts").items()) {
      String host = new Hosts(namespace).fqdn(h.nonEmpty(), ns);
      if (host.indexOf('*', 1) >= 0 || (host.startsWith("*") && !host.equals("*") && !host.startsWith("*."))) {
        throw h.error("wildcard host " + ConfigNode.quote(host) + " is not valid; a wildcard is '*' or a prefix '*.'");
      }
      hosts.add(host);
    }
    boolean mesh = includesMesh(spec.get("gateways"), true);
    List<HttpRoute> routes = new ArrayList<>();
    List<ConfigNode> http = spec.get("http").items();
    for (int i = 0; i < http.size(); i++) {
      routes.add(httpRoute(http.get(i), i, ns, mesh));
    }
    // a match's own gateways override the VirtualService's: one naming mesh brings it to the mesh
    boolean meshRoutes = routes.stream().anyMatch(r -> r.matches().stream().anyMatch(RequestMatch::mesh));
    mesh = mesh || meshRoutes;
    if (routes.isEmpty()) {
      throw spec.get("http").error("must hold at least one route (MeshUp reads the http routes only)");
    }
    return new VirtualService(name, origin, ns, List.copyOf(hosts), mesh, exportTo(spec.get("exportTo"), ns),
        List.copyOf(routes));
  }

  /** Whether a {@code gateways} list names the mesh ({@code absent} when it is missing or empty). */
  private static boolean includesMesh(ConfigNode gateways, boolean absent) {
    List<ConfigNode> items = gateways.items();
    if (items.isEmpty()) {
      return absent;
    }
    for (ConfigNode g : items) {
      if ("mesh".equals(g.nonEmpty().trim())) {
        return true;
      }
    }
    return false;
  }

  private HttpRoute httpRoute(ConfigNode r, int index, String ns, boolean vsMesh) {
    r.unsupported("rateLimit", "not part of Istio's released API")
        .keys("name", "match", "route", "timeout", "retries", "fault", "rewrite", "headers", "redirect",
            "directResponse", "delegate", "mirror", "mirrorPercentage", "mirrorPercent", "mirror_percent", "mirrors",
            "corsPolicy");
    String name = r.has("name") ? r.get("name").nonEmpty() : "http[" + index + "]";
    List<RequestMatch> matches = new ArrayList<>();
    for (ConfigNode m : r.get("match").items()) {
      matches.add(match(m, vsMesh));
    }
    if (matches.isEmpty() && !vsMesh) {
      // the route belongs to the VirtualService's gateways only: a match the mesh never meets
      matches.add(new RequestMatch(null, null, null, null, null, Map.of(), Map.of(), Map.of(), 0, Map.of(), null, false));
    }
    int actions = (r.has("route") ? 1 : 0) + (r.has("redirect") ? 1 : 0) + (r.has("directResponse") ? 1 : 0)
        + (r.has("delegate") ? 1 : 0);
    if (actions != 1) {
      throw r.error("must set exactly one of route, redirect, directResponse or delegate");
    }
    List<Destination> dests = new ArrayList<>();
    List<ConfigNode> route = r.get("route").items();
    for (ConfigNode d : route) {
      dests.add(destination(d, route.size(), ns));
    }
    if (r.has("route") && dests.isEmpty()) {
      throw r.get("route").error("must hold at least one destination");
    }
    long total = dests.stream().mapToLong(Destination::weight).sum();
    if (dests.size() > 1 && total == 0) {
      throw r.get("route").error("every weight is 0; at least one destination must have a weight");
    }
    if (total > Integer.MAX_VALUE) {
      throw r.get("route").error("weights sum to " + total + "; at most " + Integer.MAX_VALUE + ", as Istio allows");
    }
    Duration timeout = r.get("timeout").duration(Duration.ZERO);
    if (timeout.isNegative()) {
      throw r.get("timeout").error("must not be negative");
    }
    RetryPolicy retries = retries(r.get("retries"));
    FaultPolicy fault = fault(r.get("fault"));
    HeaderOps[] headers = headers(r.get("headers"));
    Rewrite rewrite = rewrite(r.get("rewrite"));
    if (rewrite != null && (r.has("redirect") || r.has("directResponse"))) {
      throw r.get("rewrite").error("cannot be used with redirect or directResponse, as Istio says");
    }
    Redirect redirect = redirect(r.get("redirect"));
    DirectResponse direct = directResponse(r.get("directResponse"));
    Delegate delegate = null;
    if (r.has("delegate")) {
      ConfigNode dn = r.get("delegate").keys("name", "namespace");
      delegate = new Delegate(dn.required("name").nonEmpty(), dn.has("namespace") ? dn.get("namespace").nonEmpty() : ns);
    }
    List<Mirror> mirrors = new ArrayList<>();
    if (r.has("mirror")) {
      double pct = 100;
      if (r.has("mirrorPercentage")) {
        pct = r.get("mirrorPercentage").keys("value").required("value").decimal(0, 100);
      } else if (r.has("mirrorPercent") || r.has("mirror_percent")) {
        pct = (r.has("mirrorPercent") ? r.get("mirrorPercent") : r.get("mirror_percent")).integer(0, 100);
      }
      mirrors.add(new Mirror(mirrorDestination(r.get("mirror"), ns), pct));
    } else if (r.has("mirrorPercentage") || r.has("mirrorPercent")) {
      throw r.get(r.has("mirrorPercentage") ? "mirrorPercentage" : "mirrorPercent").error("is set without mirror");
    }
    for (ConfigNode m : r.get("mirrors").items()) {
      m.keys("destination", "percentage");
      double pct = m.has("percentage") ? m.get("percentage").keys("value").required("value").decimal(0, 100) : 100;
      mirrors.add(new Mirror(mirrorDestination(m.required("destination"), ns), pct));
    }
    return new HttpRoute(name, List.copyOf(matches), List.copyOf(dests), timeout, retries, fault, rewrite, headers[0],
        headers[1], redirect, direct, List.copyOf(mirrors), delegate, cors(r.get("corsPolicy")), r);
  }

  private Cors cors(ConfigNode c) {
    if (c.isNull()) {
      return null;
    }
    c.keys("allowOrigins", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials",
        "unmatchedPreflights");
    List<StringMatch> origins = new ArrayList<>();
    boolean any = false;
    for (ConfigNode o : c.get("allowOrigins").items()) {
      origins.add(stringMatch(o, false, false));
    }
    for (ConfigNode o : c.get("allowOrigin").items()) {
      String v = o.nonEmpty();
      if (v.equals("*")) {
        any = true;
      } else {
        origins.add(new StringMatch(StringMatch.Kind.EXACT, v, false));
      }
    }
    List<String> methods = new ArrayList<>();
    c.get("allowMethods").items().forEach(m -> methods.add(m.nonEmpty()));
    List<String> allowHeaders = new ArrayList<>();
    c.get("allowHeaders").items().forEach(m -> allowHeaders.add(m.nonEmpty()));
    List<String> expose = new ArrayList<>();
    c.get("exposeHeaders").items().forEach(m -> expose.add(m.nonEmpty()));
    Boolean credentials = c.has("allowCredentials") ? c.get("allowCredentials").bool(false) : null;
    boolean forward = !c.has("unmatchedPreflights")
        || c.get("unmatchedPreflights").oneOf("UNSPECIFIED", "FORWARD", "IGNORE").equals("FORWARD")
        || c.get("unmatchedPreflights").string().equals("UNSPECIFIED");
    return new Cors(List.copyOf(origins), any, List.copyOf(methods), List.copyOf(allowHeaders), List.copyOf(expose),
        c.get("maxAge").duration(null), credentials, forward);
  }

  private Destination mirrorDestination(ConfigNode dest, String ns) {
    dest.keys("host", "subset", "port");
    String host = destinationHost(dest.required("host"), ns);
    int port = dest.has("port") ? (int) dest.get("port").keys("number").required("number").integer(1, 65535) : 0;
    return new Destination(host, dest.has("subset") ? dest.get("subset").nonEmpty() : "", port, 100, HeaderOps.NONE,
        HeaderOps.NONE, dest.rebase(dest.source(), dest.path().isEmpty() ? "" : parentPath(dest.path())));
  }

  /** The path above the last key: where a destination's own node is found by reference errors. */
  private static String parentPath(String path) {
    int dot = path.lastIndexOf('.');
    return dot < 0 ? "" : path.substring(0, dot);
  }

  /** {@code headers}: {@code request} and {@code response} operations. */
  private static HeaderOps[] headers(ConfigNode h) {
    if (h.isNull()) {
      return new HeaderOps[] {HeaderOps.NONE, HeaderOps.NONE};
    }
    h.keys("request", "response");
    return new HeaderOps[] {headerOps(h.get("request")), headerOps(h.get("response"))};
  }

  private static HeaderOps headerOps(ConfigNode ops) {
    if (ops.isNull()) {
      return HeaderOps.NONE;
    }
    ops.keys("set", "add", "remove");
    Map<String, String> set = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : ops.get("set").entries().entrySet()) {
      set.put(headerName(e.getKey(), e.getValue()), e.getValue().string());
    }
    Map<String, String> add = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : ops.get("add").entries().entrySet()) {
      add.put(headerName(e.getKey(), e.getValue()), e.getValue().string());
    }
    List<String> remove = new ArrayList<>();
    for (ConfigNode n : ops.get("remove").items()) {
      remove.add(headerName(n.nonEmpty(), n));
    }
    return new HeaderOps(Map.copyOf(set), Map.copyOf(add), List.copyOf(remove));
  }

  private static String headerName(String name, ConfigNode where) {
    String n = name.trim().toLowerCase(java.util.Locale.ROOT);
    if (n.isEmpty() || n.startsWith(":") || n.equals("host")) {
      throw where.error("header " + ConfigNode.quote(name) + " cannot be changed here"
          + (n.isEmpty() ? "" : "; set the authority with rewrite.authority"));
    }
    for (int i = 0; i < n.length(); i++) {
      char c = n.charAt(i);
      if (c <= ' ' || c >= 127 || "\"(),/:;<=>?@[\\]{}".indexOf(c) >= 0) {
        throw where.error("header name " + ConfigNode.quote(name) + " is not a valid HTTP header name");
      }
    }
    return n;
  }

  private Rewrite rewrite(ConfigNode r) {
    if (r.isNull()) {
      return null;
    }
    r.keys("uri", "authority", "uriRegexRewrite");
    String uri = r.has("uri") ? r.get("uri").string() : null;
    String authority = r.has("authority") ? r.get("authority").nonEmpty() : null;
    StringMatch regex = null;
    String replacement = null;
    if (r.has("uriRegexRewrite")) {
      if (uri != null) {
        throw r.get("uriRegexRewrite").error("cannot be set with uri; set one of them");
      }
      ConfigNode x = r.get("uriRegexRewrite").keys("match", "rewrite");
      String pattern = x.required("match").nonEmpty();
      try {
        regex = new StringMatch(StringMatch.Kind.REGEX, pattern, false);
      } catch (IllegalArgumentException ex) {
        throw x.get("match").error(ConfigNode.quote(pattern) + " is not a valid regular expression: " + ex.getMessage());
      }
      replacement = x.required("rewrite").string();
    }
    if (uri == null && authority == null && regex == null) {
      throw r.error("must set uri, authority or uriRegexRewrite");
    }
    return new Rewrite(uri, authority, regex, replacement);
  }

  private static Redirect redirect(ConfigNode r) {
    if (r.isNull()) {
      return null;
    }
    r.keys("uri", "authority", "port", "derivePort", "scheme", "redirectCode");
    int code = (int) r.get("redirectCode").integer(300, 399, 301);
    String derive = r.has("derivePort") ? r.get("derivePort").oneOf("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT") : null;
    if (derive != null && r.has("port")) {
      throw r.get("derivePort").error("cannot be set with port; set one of them");
    }
    return new Redirect(r.has("uri") ? r.get("uri").nonEmpty() : null, r.has("authority") ? r.get("authority").nonEmpty() : null,
        (int) r.get("port").integer(1, 65535, 0), derive, r.has("scheme") ? r.get("scheme").nonEmpty() : null, code);
  }

  private static DirectResponse directResponse(ConfigNode r) {
    if (r.isNull()) {
      return null;
    }
    r.keys("status", "body");
    int status = (int) r.required("status").integer(200, 599);
    byte[] body = null;
    if (r.has("body")) {
      ConfigNode b = r.get("body").keys("string", "bytes");
      if (b.has("string") == b.has("bytes")) {
        throw b.error("must set exactly one of string or bytes");
      }
      if (b.has("string")) {
        body = b.get("string").string().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      } else {
        try {
          body = java.util.Base64.getDecoder().decode(b.get("bytes").string().trim());
        } catch (IllegalArgumentException e) {
          throw b.get("bytes").error("is not base64: " + e.getMessage());
        }
      }
      if (body.length > 1 << 20) {
        throw b.error("is " + body.length + " bytes; at most 1 MiB");
      }
    }
    return new DirectResponse(status, body);
  }

  private RequestMatch match(ConfigNode m, boolean vsMesh) {
    m.keys("name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "port",
            "sourceLabels", "sourceNamespace", "ignoreUriCase", "statPrefix", "gateways");
    boolean ignoreCase = m.get("ignoreUriCase").bool(false);
    StringMatch uri = m.has("uri") ? stringMatch(m.get("uri"), ignoreCase, false) : null;
    StringMatch scheme = m.has("scheme") ? stringMatch(m.get("scheme"), false, false) : null;
    StringMatch method = m.has("method") ? stringMatch(m.get("method"), false, false) : null;
    StringMatch authority = m.has("authority") ? stringMatch(m.get("authority"), false, false) : null;
    Map<String, String> sourceLabels = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : m.get("sourceLabels").entries().entrySet()) {
      sourceLabels.put(e.getKey(), e.getValue().string());
    }
    return new RequestMatch(m.has("name") ? m.get("name").string() : null, uri, scheme, method, authority,
        headers(m.get("headers"), true), headers(m.get("withoutHeaders"), true), queryParams(m.get("queryParams")),
        (int) m.get("port").integer(1, 65535, 0), Map.copyOf(sourceLabels),
        m.has("sourceNamespace") ? m.get("sourceNamespace").nonEmpty() : null, includesMesh(m.get("gateways"), vsMesh));
  }

  private Map<String, StringMatch> headers(ConfigNode h, boolean lowerCase) {
    Map<String, StringMatch> out = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : h.entries().entrySet()) {
      String name = lowerCase ? e.getKey().toLowerCase(java.util.Locale.ROOT) : e.getKey();
      if (name.isEmpty()) {
        throw e.getValue().error("header name must not be empty");
      }
      out.put(name, stringMatch(e.getValue(), false, true));
    }
    return Map.copyOf(out);
  }

  private Map<String, StringMatch> queryParams(ConfigNode q) {
    Map<String, StringMatch> out = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : q.entries().entrySet()) {
      if (e.getKey().isEmpty()) {
        throw e.getValue().error("query parameter name must not be empty");
      }
      out.put(e.getKey(), stringMatch(e.getValue(), false, true));
    }
    return Map.copyOf(out);
  }

  /**
   * Istio's StringMatch: exactly one of exact, prefix or regex; with {@code presence} allowed, an
   * empty value ({@code {}} or nothing) means the header or parameter is present, as Istio has it.
   */
  private StringMatch stringMatch(ConfigNode n, boolean ignoreCase, boolean presence) {
    if (presence && (n.isNull() || (n.kind() == ConfigNode.Kind.MAP && n.entries().isEmpty()))) {
      return StringMatch.ANY_PRESENT;
    }
    n.keys("exact", "prefix", "regex");
    if (n.entries().size() != 1) {
      throw n.error("must set exactly one of exact, prefix or regex");
    }
    Map.Entry<String, ConfigNode> e = n.entries().entrySet().iterator().next();
    String value = e.getValue().isNull() ? "" : e.getValue().string();
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

  private Destination destination(ConfigNode d, int siblings, String ns) {
    d.keys("destination", "weight", "headers");
    ConfigNode dest = d.required("destination").keys("host", "subset", "port");
    String host = destinationHost(dest.required("host"), ns);
    String subset = dest.has("subset") ? dest.get("subset").nonEmpty() : "";
    int port = 0;
    if (dest.has("port")) {
      port = (int) dest.get("port").keys("number").required("number").integer(1, 65535);
    }
    // Istio: a destination gets weight / (sum of weights); a lone one gets all traffic
    int weight = (int) d.get("weight").integer(0, Integer.MAX_VALUE, siblings == 1 ? 100 : 0);
    if (siblings == 1) {
      weight = 100;
    }
    HeaderOps[] headers = headers(d.get("headers"));
    return new Destination(host, subset, port, weight, headers[0], headers[1], d);
  }

  private String destinationHost(ConfigNode h, String ns) {
    String host = new Hosts(namespace).fqdn(h.nonEmpty(), ns);
    if (Hosts.isWildcard(host)) {
      throw h.error("wildcard host " + ConfigNode.quote(host) + " cannot be a destination; name the service");
    }
    return host;
  }

  private RetryPolicy retries(ConfigNode r) {
    if (r.isNull()) {
      return RetryPolicy.NONE;
    }
    r.unsupported("backoff", "not part of Istio's released API; the backoff is Envoy's: 25 ms base, jittered, exponential")
        .keys("attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities", "retryIgnorePreviousHosts");
    // Istio: MUST BE >= 0; 0 disables retries (the total is 1 + attempts)
    int attempts = (int) r.get("attempts").integer(0, Integer.MAX_VALUE, 0);
    long perTry = r.get("perTryTimeout").positiveDuration(Duration.ZERO).toNanos();
    boolean remote = r.get("retryRemoteLocalities").bool(false);
    if (!r.get("retryIgnorePreviousHosts").bool(true)) {
      throw r.get("retryIgnorePreviousHosts").error("false is not supported: MeshUp's retries always prefer an endpoint"
          + " not tried yet (Istio's default, true)");
    }
    Set<String> on = new LinkedHashSet<>();
    if (r.has("retryOn")) {
      for (String c : r.get("retryOn").string().split(",")) {
        String cond = c.trim();
        if (cond.isEmpty()) {
          continue;
        }
        if (RetryPolicy.bit(cond) == 0 && !RetryPolicy.isStatusCode(cond)) {
          throw r.get("retryOn").error(ConfigNode.quote(cond) + " is not a retry condition Envoy documents; expected HTTP"
              + " status codes (such as 503) and some of " + new java.util.TreeSet<>(RetryPolicy.conditionNames()));
        }
        on.add(cond.toLowerCase(java.util.Locale.ROOT));
      }
    } else {
      // Istio's default retryOn
      on.addAll(List.of("connect-failure", "refused-stream", "unavailable", "cancelled", "503"));
    }
    return new RetryPolicy(attempts, perTry, on, remote);
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
    return 0; // Istio: "If left unspecified, no request will be delayed" (aborted)
  }

  // ---- DestinationRule ------------------------------------------------------------------

  private DestinationRule destinationRule(String name, String origin, String ns, ConfigNode spec) {
    spec.keys("host", "trafficPolicy", "subsets", "exportTo", "workloadSelector");
    Map<String, String> selector = null;
    if (spec.has("workloadSelector")) {
      selector = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> e : spec.get("workloadSelector").keys("matchLabels").get("matchLabels")
          .entries().entrySet()) {
        selector.put(e.getKey(), e.getValue().string());
      }
      selector = Map.copyOf(selector);
    }
    String host = new Hosts(namespace).fqdn(spec.required("host").nonEmpty(), ns);
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
    return new DestinationRule(name, origin, ns, host, exportTo(spec.get("exportTo"), ns), tp, List.copyOf(subsets),
        selector);
  }

  /** Reads a {@code trafficPolicy}; also used for the bootstrap's {@code defaults}. */
  public TrafficPolicy trafficPolicy(ConfigNode t) {
    if (t.isNull()) {
      return TrafficPolicy.EMPTY;
    }
    t.unsupported("tunnel", "it tunnels TCP over HTTP CONNECT through a proxy; MeshUp's calls go to the endpoint")
        .unsupported("proxyProtocol", "the PROXY protocol header is for proxies; a MeshUp client is the caller itself")
        .unsupported("retryBudget", "set mesh.defaults.retryBudget: MeshUp keeps one retry budget per destination")
        .keys("loadBalancer", "connectionPool", "outlierDetection", "circuitBreaker", "tls", "portLevelSettings");
    Map<Integer, TrafficPolicy> ports = new LinkedHashMap<>();
    for (ConfigNode p : t.get("portLevelSettings").items()) {
      p.unsupported("tunnel", "it tunnels TCP over HTTP CONNECT; MeshUp's calls go to the endpoint")
          .keys("port", "loadBalancer", "connectionPool", "outlierDetection", "tls");
      int port = (int) p.required("port").keys("number").required("number").integer(1, 65535);
      if (ports.containsKey(port)) {
        throw p.get("port").error("port " + port + " has settings twice");
      }
      ports.put(port, policyOf(p, Map.of()));
    }
    return policyOf(t, Map.copyOf(ports));
  }

  private TrafficPolicy policyOf(ConfigNode t, Map<Integer, TrafficPolicy> ports) {
    BalancerKind lb = null;
    HashPolicy hash = null;
    LocalitySettings locality = null;
    if (t.has("loadBalancer")) {
      ConfigNode l = t.get("loadBalancer");
      l.unsupported("warmupDurationSecs", "slow start of new endpoints is not implemented")
          .unsupported("warmup", "slow start of new endpoints is not implemented")
          .keys("simple", "consistentHash", "localityLbSetting");
      if (l.has("simple") && l.has("consistentHash")) {
        throw l.error("set one of simple or consistentHash");
      }
      if (l.has("consistentHash")) {
        hash = consistentHash(l.get("consistentHash"));
        lb = BalancerKind.RING_HASH;
      } else if (l.has("simple")) {
        lb = loadBalancer(l);
      }
      if (l.has("localityLbSetting")) {
        locality = locality(l.get("localityLbSetting"));
      }
    }
    TlsFiles files = null;
    ClientTls tls = null;
    if (t.has("tls")) {
      files = tlsFiles(t.get("tls"));
      tls = files != null ? ClientTls.DISABLE : clientTls(t.get("tls"));
    }
    return new TrafficPolicy(lb, t.has("connectionPool") ? connectionPool(t.get("connectionPool")) : null,
        t.has("outlierDetection") ? outlierDetection(t.get("outlierDetection")) : null,
        t.has("circuitBreaker") ? circuitBreaker(t.get("circuitBreaker")) : null, tls, hash, locality, files, ports);
  }

  private static HashPolicy consistentHash(ConfigNode c) {
    c.keys("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName", "ringHash", "maglev",
        "minimumRingSize");
    int keys = (c.has("httpHeaderName") ? 1 : 0) + (c.has("httpCookie") ? 1 : 0)
        + (c.get("useSourceIp").bool(false) ? 1 : 0) + (c.has("httpQueryParameterName") ? 1 : 0);
    if (keys != 1) {
      throw c.error("must set exactly one hash key: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName");
    }
    if (c.has("ringHash") && c.has("maglev")) {
      throw c.error("set one of ringHash or maglev");
    }
    if (c.has("minimumRingSize") && (c.has("ringHash") || c.has("maglev"))) {
      throw c.get("minimumRingSize").error("is deprecated; set ringHash.minimumRingSize (it cannot be set with ringHash or maglev)");
    }
    long ring = 1024;
    boolean maglev = false;
    if (c.has("minimumRingSize")) {
      ring = c.get("minimumRingSize").integer(1, 8_388_608);
    }
    if (c.has("ringHash")) {
      ring = c.get("ringHash").keys("minimumRingSize").get("minimumRingSize").integer(1, 8_388_608, 1024);
    }
    if (c.has("maglev")) {
      maglev = true;
      ring = c.get("maglev").keys("tableSize").get("tableSize").integer(1, 5_000_011, 65_537);
      if (!isPrime(ring)) {
        throw c.get("maglev").get("tableSize").error(ring + " is not a prime number; Maglev's table size must be prime");
      }
    }
    String cookie = null;
    Duration ttl = null;
    String path = null;
    if (c.has("httpCookie")) {
      ConfigNode k = c.get("httpCookie").unsupported("attributes", "cookie attributes beyond path and ttl are not set")
          .keys("name", "path", "ttl");
      cookie = k.required("name").nonEmpty();
      path = k.has("path") ? k.get("path").nonEmpty() : null;
      ttl = k.get("ttl").duration(null);
    }
    return new HashPolicy(c.has("httpHeaderName") ? c.get("httpHeaderName").nonEmpty().toLowerCase(java.util.Locale.ROOT) : null,
        cookie, ttl, path, c.get("useSourceIp").bool(false),
        c.has("httpQueryParameterName") ? c.get("httpQueryParameterName").nonEmpty() : null, maglev, ring);
  }

  private static boolean isPrime(long n) {
    if (n < 2) {
      return false;
    }
    for (long d = 2; d * d <= n; d++) {
      if (n % d == 0) {
        return false;
      }
    }
    return true;
  }

  private static LocalitySettings locality(ConfigNode l) {
    l.keys("distribute", "failover", "failoverPriority", "enabled");
    List<Distribute> distribute = new ArrayList<>();
    for (ConfigNode d : l.get("distribute").items()) {
      d.keys("from", "to");
      Map<String, Integer> to = new LinkedHashMap<>();
      int sum = 0;
      for (Map.Entry<String, ConfigNode> e : d.required("to").entries().entrySet()) {
        int w = (int) e.getValue().integer(0, 100);
        to.put(e.getKey(), w);
        sum += w;
      }
      if (sum != 100) {
        throw d.get("to").error("weights sum to " + sum + "; Istio requires them to sum to 100");
      }
      distribute.add(new Distribute(d.required("from").nonEmpty(), Map.copyOf(to)));
    }
    Map<String, String> failover = new LinkedHashMap<>();
    for (ConfigNode f : l.get("failover").items()) {
      f.keys("from", "to");
      String from = f.required("from").nonEmpty();
      String to = f.required("to").nonEmpty();
      if (from.equals(to)) {
        throw f.error("from and to are the same region " + ConfigNode.quote(from));
      }
      failover.put(from, to);
    }
    if (!distribute.isEmpty() && !failover.isEmpty()) {
      throw l.error("set one of distribute or failover, as Istio requires");
    }
    List<String> priority = new ArrayList<>();
    for (ConfigNode p : l.get("failoverPriority").items()) {
      priority.add(p.nonEmpty());
    }
    return new LocalitySettings(l.get("enabled").bool(true), List.copyOf(distribute), Map.copyOf(failover),
        List.copyOf(priority));
  }

  /**
   * {@code tls} modes SIMPLE and MUTUAL: TLS originated to a destination outside the mesh, with
   * certificates from files; null for the mesh's own modes (DISABLE, ISTIO_MUTUAL).
   */
  private static TlsFiles tlsFiles(ConfigNode tls) {
    tls.unsupported("credentialName", "it names a Kubernetes secret, which only a gateway's Envoy reads; give the"
            + " files with clientCertificate, privateKey and caCertificates")
        .unsupported("caCrl", "certificate revocation lists are not checked")
        .keys("mode", "clientCertificate", "privateKey", "caCertificates", "sni", "subjectAltNames",
            "insecureSkipVerify");
    String mode = tls.required("mode").oneOf("DISABLE", "ISTIO_MUTUAL", "SIMPLE", "MUTUAL");
    if (mode.equals("DISABLE") || mode.equals("ISTIO_MUTUAL")) {
      for (String k : List.of("clientCertificate", "privateKey", "caCertificates", "sni", "subjectAltNames",
          "insecureSkipVerify")) {
        if (tls.has(k)) {
          throw tls.get(k).error("applies to modes SIMPLE and MUTUAL only; mode " + mode
              + (mode.equals("ISTIO_MUTUAL") ? " uses the mesh's certificates and checks the server's SPIFFE ID" : " is plaintext"));
        }
      }
      return null;
    }
    if (mode.equals("MUTUAL") && (!tls.has("clientCertificate") || !tls.has("privateKey"))) {
      throw tls.error("mode MUTUAL needs clientCertificate and privateKey (files)");
    }
    if (mode.equals("SIMPLE") && (tls.has("clientCertificate") || tls.has("privateKey"))) {
      throw tls.get(tls.has("clientCertificate") ? "clientCertificate" : "privateKey")
          .error("is for mode MUTUAL; mode SIMPLE presents no client certificate");
    }
    List<String> sans = new ArrayList<>();
    for (ConfigNode n : tls.get("subjectAltNames").items()) {
      sans.add(n.nonEmpty());
    }
    return new TlsFiles(mode, tls.has("clientCertificate") ? tls.get("clientCertificate").nonEmpty() : null,
        tls.has("privateKey") ? tls.get("privateKey").nonEmpty() : null,
        tls.has("caCertificates") ? tls.get("caCertificates").nonEmpty() : null,
        tls.has("sni") ? tls.get("sni").nonEmpty() : null, List.copyOf(sans), tls.get("insecureSkipVerify").bool(false));
  }

  /** Reads {@code trafficPolicy.tls} of modes DISABLE and ISTIO_MUTUAL: the mesh's own mutual TLS, or none. */
  private static ClientTls clientTls(ConfigNode tls) {
    return tls.required("mode").string().equals("DISABLE") ? ClientTls.DISABLE : ClientTls.ISTIO_MUTUAL;
  }

  private static BalancerKind loadBalancer(ConfigNode lb) {
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
    io.meshup.core.route.ConnectionSettings.TcpKeepalive keepalive = null;
    if (tcp.has("tcpKeepalive") || (tcp.kind() == ConfigNode.Kind.MAP && tcp.entries().containsKey("tcpKeepalive"))) {
      // TCP keepalive socket options (SO_KEEPALIVE and the probe timing), as Envoy sets them;
      // unset values are the operating system's
      ConfigNode ka = tcp.get("tcpKeepalive");
      if (!ka.isNull()) {
        ka.keys("time", "interval", "probes");
      }
      keepalive = new io.meshup.core.route.ConnectionSettings.TcpKeepalive(ka.get("time").positiveDuration(null),
          ka.get("interval").positiveDuration(null), (int) ka.get("probes").integer(1, 1000, 0));
    }
    return new ConnectionPool(
        (int) http.get("http2MaxRequests").integer(1, max, max),
        (int) http.get("http1MaxPendingRequests").integer(1, max, max),
        (int) http.get("maxRetries").integer(0, max, max),
        (int) tcp.get("maxConnections").integer(1, max, max),
        (int) http.get("maxRequestsPerConnection").integer(0, max, 0),
        tcp.get("connectTimeout").positiveDuration(null),
        http.get("idleTimeout").positiveDuration(null),
        keepalive, h2Upgrade);
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

  // ---- ServiceEntry ---------------------------------------------------------------------

  private ServiceEntry serviceEntry(String name, String origin, String ns, ConfigNode spec) {
    spec.unsupported("workloadSelector", "it selects Kubernetes pods or WorkloadEntries as endpoints, which MeshUp"
            + " does not read; list the endpoints, or register the workloads in MeshUp's registry")
        .keys("hosts", "addresses", "ports", "location", "resolution", "endpoints", "exportTo", "subjectAltNames");
    Hosts h = new Hosts(namespace);
    List<String> hosts = new ArrayList<>();
    for (ConfigNode n : spec.required("hosts").items()) {
      String host = h.fqdn(n.nonEmpty(), ns);
      if (host.equals("*")) {
        throw n.error("'*' cannot be a ServiceEntry host; name the hosts or a wildcard such as '*.example.com'");
      }
      hosts.add(host);
    }
    if (hosts.isEmpty()) {
      throw spec.get("hosts").error("must list at least one host");
    }
    List<String> addresses = new ArrayList<>();
    for (ConfigNode a : spec.get("addresses").items()) {
      String why = IpBlock.problem(a.nonEmpty().trim());
      if (why != null) {
        throw a.error(why);
      }
      addresses.add(a.string().trim());
    }
    String resolution = spec.get("resolution").string("NONE");
    resolution = spec.has("resolution") ? spec.get("resolution").oneOf("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN") : resolution;
    boolean external = !spec.has("location") || spec.get("location").oneOf("MESH_EXTERNAL", "MESH_INTERNAL").equals("MESH_EXTERNAL");
    List<ServicePort> ports = new ArrayList<>();
    Set<Integer> numbers = new LinkedHashSet<>();
    for (ConfigNode p : spec.get("ports").items()) {
      p.keys("number", "protocol", "name", "targetPort");
      int number = (int) p.required("number").integer(1, 65535);
      if (!numbers.add(number)) {
        throw p.get("number").error("port " + number + " is listed twice");
      }
      String protocol = p.has("protocol") ? p.get("protocol").string().toUpperCase(java.util.Locale.ROOT) : "TCP";
      ports.add(new ServicePort(number, p.has("name") ? p.get("name").string() : "", protocol,
          (int) p.get("targetPort").integer(1, 65535, 0)));
    }
    boolean wildcard = hosts.stream().anyMatch(Hosts::isWildcard);
    List<io.meshup.core.Endpoint> endpoints = new ArrayList<>();
    List<ConfigNode> eps = spec.get("endpoints").items();
    if (resolution.equals("STATIC") && eps.isEmpty()) {
      throw spec.error("resolution STATIC needs endpoints");
    }
    if (resolution.equals("NONE") && !eps.isEmpty()) {
      throw spec.get("endpoints").error("are not used with resolution NONE; set resolution STATIC or DNS");
    }
    if (wildcard && resolution.startsWith("DNS") && eps.isEmpty()) {
      throw spec.get("hosts").error("a wildcard host with resolution " + resolution + " needs endpoints: there is no"
          + " name to resolve");
    }
    for (ConfigNode e : eps) {
      e.unsupported("network", "multi-network gateways are Istio's; MeshUp reaches an endpoint directly")
          .keys("address", "ports", "labels", "locality", "weight", "serviceAccount");
      String address = e.required("address").nonEmpty();
      if (address.startsWith("unix://")) {
        throw e.get("address").error("unix domain sockets are not supported; give an IP address or host name");
      }
      if (resolution.equals("STATIC") && (address.contains("/") || IpBlock.problem(address) != null)) {
        throw e.get("address").error(ConfigNode.quote(address) + " is not an IP address; resolution STATIC takes IP"
            + " addresses (set resolution DNS for host names)");
      }
      Map<String, String> labels = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> l : e.get("labels").entries().entrySet()) {
        labels.put(l.getKey(), l.getValue().string());
      }
      if (e.has("locality")) {
        String[] parts = e.get("locality").nonEmpty().split("/", -1);
        String[] keys = {"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"};
        for (int i = 0; i < parts.length && i < 3; i++) {
          if (!parts[i].isEmpty()) {
            labels.putIfAbsent(keys[i], parts[i]);
          }
        }
      }
      if (e.has("serviceAccount")) {
        labels.putIfAbsent("security.istio.io/serviceAccount", e.get("serviceAccount").nonEmpty());
      }
      Map<String, Integer> portMap = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> pm : e.get("ports").entries().entrySet()) {
        portMap.put(pm.getKey(), (int) pm.getValue().integer(1, 65535));
      }
      int weight = (int) e.get("weight").integer(1, 1_000_000, 1);
      for (ServicePort sp : ports) {
        int target = portMap.getOrDefault(sp.name(), sp.targetPort() > 0 ? sp.targetPort() : sp.number());
        Map<String, String> l = new LinkedHashMap<>(labels);
        l.put(PORT_LABEL, Integer.toString(sp.number()));
        endpoints.add(new io.meshup.core.Endpoint(address + ":" + target + "@" + sp.number(), address, target, l, weight));
      }
    }
    List<String> sans = new ArrayList<>();
    for (ConfigNode n : spec.get("subjectAltNames").items()) {
      sans.add(n.nonEmpty());
    }
    return new ServiceEntry(name, origin, ns, List.copyOf(hosts), List.copyOf(addresses), exportTo(spec.get("exportTo"), ns),
        List.copyOf(ports), resolution, external, List.copyOf(endpoints), List.copyOf(sans));
  }

  /** The label a ServiceEntry endpoint carries with the service port it serves. */
  public static final String PORT_LABEL = "meshup.io/service-port";
}
