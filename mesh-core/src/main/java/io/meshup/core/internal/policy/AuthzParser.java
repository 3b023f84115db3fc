package io.meshup.core.internal.policy;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.AuthzAction;
import io.meshup.core.internal.policy.PolicyModel.AuthzCondition;
import io.meshup.core.internal.policy.PolicyModel.AuthzOperation;
import io.meshup.core.internal.policy.PolicyModel.AuthzRule;
import io.meshup.core.internal.policy.PolicyModel.AuthzSource;
import io.meshup.core.internal.policy.PolicyModel.ClaimToHeader;
import io.meshup.core.internal.policy.PolicyModel.JwtFailureMode;
import io.meshup.core.internal.policy.PolicyModel.JwtHeader;
import io.meshup.core.internal.policy.PolicyModel.JwtRule;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import io.meshup.core.internal.policy.PolicyModel.RequestAuthentication;
import io.meshup.core.internal.policy.PolicyModel.Scope;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads Istio's {@code security.istio.io} documents: AuthorizationPolicy, PeerAuthentication and
 * RequestAuthentication, with Istio's own validation rules. What cannot exist in-process (Envoy
 * metadata, Kubernetes gateways) is rejected by name with the reason. Stateless.
 */
final class AuthzParser {
  /** The annotation that makes an AuthorizationPolicy a dry run: decided, logged and counted, never enforced. */
  static final String DRY_RUN = "istio.io/dry-run";

  private AuthzParser() {}

  // ---- scope ----------------------------------------------------------------------------

  /** {@code metadata.namespace}, {@code selector} and {@code targetRef(s)}. */
  private static Scope scope(ConfigNode meta, ConfigNode spec, boolean targets) {
    String namespace = meta.has("namespace") ? meta.get("namespace").nonEmpty().trim() : null;
    Map<String, String> labels = null;
    if (spec.has("selector")) {
      ConfigNode sel = spec.get("selector").keys("matchLabels");
      labels = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> e : sel.get("matchLabels").entries().entrySet()) {
        labels.put(e.getKey(), e.getValue().string());
      }
      labels = Map.copyOf(labels);
    }
    List<String> services = new ArrayList<>();
    if (targets) {
      if (spec.has("targetRef") && spec.has("targetRefs")) {
        throw spec.get("targetRefs").error("set only one of targetRef and targetRefs");
      }
      List<ConfigNode> refs = spec.has("targetRef") ? List.of(spec.get("targetRef")) : spec.get("targetRefs").items();
      if ((spec.has("targetRef") || spec.has("targetRefs")) && spec.has("selector")) {
        throw spec.get("selector").error("set at most one of selector and targetRef(s), as Istio asks");
      }
      for (ConfigNode ref : refs) {
        services.add(targetService(ref, namespace));
      }
    }
    return new Scope(namespace, labels, List.copyOf(services));
  }

  /** The target of a reference to a proxy MeshUp never is (a Gateway, a GatewayClass, a ServiceEntry's waypoint). */
  static final String NO_WORKLOAD = "\u0000no in-process workload";

  /**
   * A {@code targetRef}: a Kubernetes {@code Service} (group {@code ""}) is the service of that
   * name; a {@code Gateway} or {@code GatewayClass} (group {@code gateway.networking.k8s.io}) or a
   * {@code ServiceEntry} (group {@code networking.istio.io}) names a proxy that is never a MeshUp
   * workload, so the document applies to none (as Istio applies it to that gateway or waypoint
   * only); any other kind is refused.
   */
  private static String targetService(ConfigNode ref, String namespace) {
    ref.keys("group", "kind", "name", "namespace", "sectionName");
    String kind = ref.required("kind").nonEmpty();
    String group = ref.get("group").string("");
    String name = ref.required("name").nonEmpty();
    if (((kind.equals("Gateway") || kind.equals("GatewayClass")) && group.equals("gateway.networking.k8s.io"))
        || (kind.equals("ServiceEntry") && group.equals("networking.istio.io"))) {
      return NO_WORKLOAD;
    }
    if (!kind.equals("Service") || !(group.isEmpty() || group.equals("core"))) {
      throw ref.get("kind").error("targetRef kind " + ConfigNode.quote(kind) + (group.isEmpty() ? "" : " of group " + ConfigNode.quote(group))
          + " is not supported by MeshUp: a targetRef may name a Service (group \"\"), which selects the servers of"
          + " that service, or a Gateway, GatewayClass or ServiceEntry, which no MeshUp workload is");
    }
    if (ref.has("namespace") && namespace != null && !ref.get("namespace").string().equals(namespace)) {
      throw ref.get("namespace").error("is " + ConfigNode.quote(ref.get("namespace").string())
          + "; a targetRef must name a Service of the policy's own namespace " + ConfigNode.quote(namespace));
    }
    return name;
  }

  // ---- AuthorizationPolicy --------------------------------------------------------------

  static AuthorizationPolicy authorizationPolicy(String name, String origin, ConfigNode meta, ConfigNode spec) {
    spec.keys("selector", "targetRef", "targetRefs", "action", "provider", "rules");
    Scope scope = scope(meta, spec, true);
    AuthzAction action = AuthzAction.ALLOW;
    if (spec.has("action")) {
      String a = spec.get("action").string().trim();
      try {
        action = AuthzAction.valueOf(a);
      } catch (IllegalArgumentException e) {
        throw spec.get("action").error(ConfigNode.quote(a) + " is not one of [ALLOW, DENY, AUDIT, CUSTOM]");
      }
    }
    String provider = null;
    if (spec.has("provider")) {
      if (action != AuthzAction.CUSTOM) {
        throw spec.get("provider").error("is only read with action CUSTOM (action is " + action + ")");
      }
      provider = spec.get("provider").keys("name").required("name").nonEmpty().trim();
    } else if (action == AuthzAction.CUSTOM) {
      throw spec.get("provider").error("is required with action CUSTOM: name the extension provider"
          + " (mesh.security.extensionProviders) that decides");
    }
    boolean dryRun = dryRun(meta);
    List<AuthzRule> rules = new ArrayList<>();
    for (ConfigNode r : spec.get("rules").items()) {
      rules.add(rule(r, scope.namespace()));
    }
    return new AuthorizationPolicy(name, origin, scope, action, provider, dryRun, List.copyOf(rules));
  }

  private static boolean dryRun(ConfigNode meta) {
    ConfigNode a = meta.get("annotations").get(DRY_RUN);
    if (a.isNull()) {
      return false;
    }
    String v = a.string().trim().toLowerCase(Locale.ROOT);
    if (!v.equals("true") && !v.equals("false")) {
      throw a.error(ConfigNode.quote(a.string()) + " is not a valid value of annotation " + DRY_RUN + "; expected \"true\" or \"false\"");
    }
    return v.equals("true");
  }

  private static AuthzRule rule(ConfigNode r, String namespace) {
    r.keys("from", "to", "when");
    List<AuthzSource> from = new ArrayList<>();
    if (r.has("from")) {
      List<ConfigNode> items = r.get("from").items();
      if (items.isEmpty()) {
        throw r.get("from").error("must not be empty; omit it to match any caller");
      }
      for (ConfigNode f : items) {
        from.add(source(f.keys("source").required("source")));
      }
    }
    List<AuthzOperation> to = new ArrayList<>();
    if (r.has("to")) {
      List<ConfigNode> items = r.get("to").items();
      if (items.isEmpty()) {
        throw r.get("to").error("must not be empty; omit it to match any request");
      }
      for (ConfigNode t : items) {
        to.add(operation(t.keys("operation").required("operation")));
      }
    }
    List<AuthzCondition> when = new ArrayList<>();
    List<ConfigNode> conditions = r.get("when").items();
    if (r.has("when") && conditions.isEmpty()) {
      throw r.get("when").error("must not be empty; omit it to add no condition");
    }
    for (ConfigNode w : conditions) {
      when.add(condition(w));
    }
    return new AuthzRule(List.copyOf(from), List.copyOf(to), List.copyOf(when));
  }

  private static AuthzSource source(ConfigNode s) {
    s.keys("principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
        "serviceAccounts", "notServiceAccounts", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks");
    AuthzSource src = new AuthzSource(principals(s.get("principals")), principals(s.get("notPrincipals")),
        values(s.get("requestPrincipals")), values(s.get("notRequestPrincipals")),
        values(s.get("namespaces")), values(s.get("notNamespaces")),
        serviceAccounts(s.get("serviceAccounts")), serviceAccounts(s.get("notServiceAccounts")),
        ipBlocks(s.get("ipBlocks")), ipBlocks(s.get("notIpBlocks")),
        ipBlocks(s.get("remoteIpBlocks")), ipBlocks(s.get("notRemoteIpBlocks")));
    if (s.entries().isEmpty()) {
      throw s.error("must set at least one field (principals, namespaces, serviceAccounts, requestPrincipals,"
          + " ipBlocks, remoteIpBlocks or their not forms)");
    }
    boolean sa = !src.serviceAccounts().isEmpty() || !src.notServiceAccounts().isEmpty();
    if (sa && (s.has("principals") || s.has("notPrincipals") || s.has("namespaces") || s.has("notNamespaces"))) {
      throw s.get(s.has("serviceAccounts") ? "serviceAccounts" : "notServiceAccounts")
          .error("cannot be set with principals or namespaces (or their not forms), as Istio asks");
    }
    return src;
  }

  private static AuthzOperation operation(ConfigNode o) {
    o.keys("hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths");
    AuthzOperation op = new AuthzOperation(values(o.get("hosts")), values(o.get("notHosts")),
        ports(o.get("ports")), ports(o.get("notPorts")), values(o.get("methods")), values(o.get("notMethods")),
        paths(o.get("paths")), paths(o.get("notPaths")));
    if (o.entries().isEmpty()) {
      throw o.error("must set at least one of hosts, ports, methods, paths or their not forms");
    }
    return op;
  }

  /** Istio's condition keys that exist in-process; the others are refused by name with the reason. */
  private static AuthzCondition condition(ConfigNode w) {
    w.keys("key", "values", "notValues");
    String key = w.required("key").nonEmpty().trim();
    ConfigNode keyNode = w.get("key");
    if (!w.has("values") && !w.has("notValues")) {
      throw w.error("must set at least one of values or notValues");
    }
    List<String> values;
    List<String> notValues;
    switch (baseKey(key)) {
      case "request.headers":
      case "request.auth.claims":
        mapKey(keyNode, key);
        values = values(w.get("values"));
        notValues = values(w.get("notValues"));
        break;
      case "source.ip":
      case "remote.ip":
      case "destination.ip":
        values = ipBlocks(w.get("values"));
        notValues = ipBlocks(w.get("notValues"));
        break;
      case "destination.port":
        values = ports(w.get("values"));
        notValues = ports(w.get("notValues"));
        break;
      case "source.principal":
        values = principals(w.get("values"));
        notValues = principals(w.get("notValues"));
        break;
      case "source.serviceAccount":
        values = serviceAccounts(w.get("values"));
        notValues = serviceAccounts(w.get("notValues"));
        break;
      case "source.namespace":
      case "request.auth.principal":
      case "request.auth.audiences":
      case "request.auth.presenter":
      case "connection.sni":
        values = values(w.get("values"));
        notValues = values(w.get("notValues"));
        break;
      case "experimental.envoy.filters":
        throw keyNode.error(ConfigNode.quote(key) + " is not supported by MeshUp: it matches Envoy filter metadata,"
            + " which does not exist in-process");
      case "request.experimental.inline.headers":
        throw keyNode.error(ConfigNode.quote(key) + " is not supported by MeshUp: it is an experimental Envoy attribute;"
            + " use request.headers[...]");
      case "destination.namespace":
        throw keyNode.error(ConfigNode.quote(key) + " is replaced by metadata.namespace (as in Istio)");
      case "destination.labels":
        throw keyNode.error(ConfigNode.quote(key) + " is replaced by the workload selector (as in Istio)");
      case "destination.name":
      case "destination.user":
        throw keyNode.error(ConfigNode.quote(key) + " is a deprecated attribute, only supported in Istio's v1alpha1");
      default:
        throw keyNode.error("unknown attribute " + ConfigNode.quote(key) + "; expected one of request.headers[<name>],"
            + " source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, request.auth.principal,"
            + " request.auth.audiences, request.auth.presenter, request.auth.claims[<name>], destination.ip,"
            + " destination.port, connection.sni");
    }
    return new AuthzCondition(key, values, notValues);
  }

  private static String baseKey(String key) {
    if (key.startsWith("experimental.envoy.filters.")) {
      return "experimental.envoy.filters";
    }
    int b = key.indexOf('[');
    return b < 0 ? key : key.substring(0, b);
  }

  /** Istio's check of {@code a[b]} keys; nested claims are {@code a[b][c]}. */
  private static void mapKey(ConfigNode keyNode, String key) {
    int open = key.indexOf('[');
    if (!(key.endsWith("]") && open > 0 && open < key.length() - 2)) {
      throw keyNode.error("bad key " + ConfigNode.quote(key) + ": should have the form a[b]");
    }
  }

  // ---- values ---------------------------------------------------------------------------

  private static List<String> values(ConfigNode list) {
    List<String> out = new ArrayList<>();
    for (ConfigNode v : list.items()) {
      String s = v.string();
      String problem = WildcardMatch.problem(s);
      if (problem != null) {
        throw v.error(problem);
      }
      out.add(s);
    }
    if (!list.isNull() && out.isEmpty()) {
      throw list.error("must not be empty; omit it to match any value");
    }
    return List.copyOf(out);
  }

  /** Principals: SPIFFE IDs without the scheme, of either workload shape, checked when they hold no wildcard. */
  private static List<String> principals(ConfigNode list) {
    List<String> out = values(list);
    List<ConfigNode> items = list.items();
    for (int i = 0; i < out.size(); i++) {
      String p = out.get(i);
      String expected = "; principals are SPIFFE IDs without the scheme, <trust-domain>/ns/<namespace>/sa/<service-account>"
          + " (such as cluster.local/ns/default/sa/sleep) or <trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>";
      if (p.startsWith("spiffe://")) {
        throw items.get(i).error(ConfigNode.quote(p) + " starts with spiffe://; write principals without the scheme" + expected);
      }
      if (!p.contains("*")) {
        try {
          WorkloadIdentity.parse("spiffe://" + p);
        } catch (IllegalArgumentException e) {
          throw items.get(i).error(ConfigNode.quote(p) + " is not a workload principal" + expected);
        }
      }
    }
    return out;
  }

  /** {@code serviceAccounts}: {@code <sa>} or {@code <namespace>/<sa>}, no wildcards, at most 16 (Istio's limits). */
  private static List<String> serviceAccounts(ConfigNode list) {
    List<String> out = new ArrayList<>();
    List<ConfigNode> items = list.items();
    if (items.size() > 16) {
      throw list.error("may not have more than 16 values (Istio's limit)");
    }
    for (ConfigNode v : items) {
      String s = v.nonEmpty();
      if (s.contains("*")) {
        throw v.error(ConfigNode.quote(s) + ": wildcards are not allowed in service accounts");
      }
      String[] parts = s.split("/", -1);
      if (parts.length > 2 || parts[0].isEmpty() || parts[parts.length - 1].isEmpty() || s.length() > 320) {
        throw v.error(ConfigNode.quote(s) + " is not of the form serviceAccount or namespace/serviceAccount");
      }
      out.add(s);
    }
    if (!list.isNull() && out.isEmpty()) {
      throw list.error("must not be empty; omit it to match any value");
    }
    return List.copyOf(out);
  }

  private static List<String> ipBlocks(ConfigNode list) {
    List<String> out = new ArrayList<>();
    for (ConfigNode v : list.items()) {
      String s = v.nonEmpty().trim();
      String problem = IpBlock.problem(s);
      if (problem != null) {
        throw v.error(problem);
      }
      out.add(s);
    }
    if (!list.isNull() && out.isEmpty()) {
      throw list.error("must not be empty; omit it to match any address");
    }
    return List.copyOf(out);
  }

  private static List<String> ports(ConfigNode list) {
    List<String> out = new ArrayList<>();
    for (ConfigNode v : list.items()) {
      String s = v.nonEmpty().trim();
      int port;
      try {
        port = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        port = -1;
      }
      if (port < 0 || port > 65535) {
        throw v.error("bad port " + ConfigNode.quote(s) + "; a port is a number in [0, 65535]");
      }
      out.add(Integer.toString(port));
    }
    if (!list.isNull() && out.isEmpty()) {
      throw list.error("must not be empty; omit it to match any port");
    }
    return List.copyOf(out);
  }

  /** Paths: Istio wildcards, or path templates with {@code {*}} and {@code {**}}. */
  private static List<String> paths(ConfigNode list) {
    List<String> out = new ArrayList<>();
    for (ConfigNode v : list.items()) {
      String problem = PathTemplate.problem(v.string());
      if (problem != null) {
        throw v.error(problem);
      }
      out.add(v.string());
    }
    if (!list.isNull() && out.isEmpty()) {
      throw list.error("must not be empty; omit it to match any path");
    }
    return List.copyOf(out);
  }

  // ---- PeerAuthentication ---------------------------------------------------------------

  static PeerAuthentication peerAuthentication(String name, String origin, ConfigNode meta, ConfigNode spec) {
    spec.keys("selector", "mtls", "portLevelMtls");
    Scope scope = scope(meta, spec, false);
    MtlsMode mode = spec.has("mtls") ? mode(spec.get("mtls")) : null;
    Map<Integer, MtlsMode> ports = new LinkedHashMap<>();
    if (spec.has("portLevelMtls")) {
      if (scope.matchLabels() == null) {
        throw spec.get("portLevelMtls").error("a mesh-wide or namespace-wide PeerAuthentication cannot have port-level"
            + " mTLS (as in Istio): portLevelMtls applies only with a selector");
      }
      for (Map.Entry<String, ConfigNode> e : spec.get("portLevelMtls").entries().entrySet()) {
        int port;
        try {
          port = Integer.parseInt(e.getKey().trim());
        } catch (NumberFormatException ex) {
          port = -1;
        }
        if (port < 1 || port > 65535) {
          throw e.getValue().error("port " + ConfigNode.quote(e.getKey()) + " is not a port number in [1, 65535]");
        }
        ports.put(port, mode(e.getValue()));
      }
      if (ports.isEmpty()) {
        throw spec.get("portLevelMtls").error("must not be empty; omit it to set no per-port mode");
      }
    }
    return new PeerAuthentication(name, origin, scope, mode, java.util.Collections.unmodifiableMap(ports));
  }

  /** A {@code MutualTLS} block; null for UNSET or no mode. */
  private static MtlsMode mode(ConfigNode mtls) {
    mtls.keys("mode");
    if (!mtls.has("mode")) {
      return null;
    }
    switch (mtls.get("mode").oneOf("UNSET", "PERMISSIVE", "STRICT", "DISABLE")) {
      case "STRICT":
        return MtlsMode.STRICT;
      case "PERMISSIVE":
        return MtlsMode.PERMISSIVE;
      case "DISABLE":
        return MtlsMode.DISABLE;
      default:
        return null;
    }
  }

  // ---- RequestAuthentication ------------------------------------------------------------

  static RequestAuthentication requestAuthentication(String name, String origin, ConfigNode meta, ConfigNode spec) {
    spec.keys("selector", "targetRef", "targetRefs", "jwtRules");
    Scope scope = scope(meta, spec, true);
    List<JwtRule> rules = new ArrayList<>();
    for (ConfigNode r : spec.get("jwtRules").items()) {
      rules.add(jwtRule(r));
    }
    return new RequestAuthentication(name, origin, scope, List.copyOf(rules));
  }

  private static JwtRule jwtRule(ConfigNode r) {
    r.keys("issuer", "audiences", "jwksUri", "jwks_uri", "jwks", "fromHeaders", "fromParams", "fromCookies",
        "outputPayloadToHeader", "forwardOriginalToken", "outputClaimToHeaders", "timeout", "failureMode");
    String issuer = r.required("issuer").nonEmpty().trim();
    List<String> audiences = new ArrayList<>();
    for (ConfigNode a : r.get("audiences").items()) {
      audiences.add(a.nonEmpty().trim());
    }
    ConfigNode uriNode = r.has("jwksUri") ? r.get("jwksUri") : r.get("jwks_uri");
    String jwksUri = uriNode.isNull() ? null : uriNode.nonEmpty().trim();
    String jwks = r.has("jwks") ? r.get("jwks").nonEmpty() : null;
    if (jwksUri != null && jwks != null) {
      throw r.get("jwks").error("set only one of jwksUri and jwks");
    }
    if (jwksUri != null) {
      String problem = httpUrlProblem(jwksUri);
      if (problem != null) {
        throw uriNode.error(ConfigNode.quote(jwksUri) + " " + problem);
      }
    }
    if (jwks != null) {
      String problem = io.meshup.core.internal.jwt.KeySets.problem(jwks);
      if (problem != null) {
        throw r.get("jwks").error("is not a JSON Web Key Set: " + problem);
      }
    }
    List<JwtHeader> headers = new ArrayList<>();
    for (ConfigNode h : r.get("fromHeaders").items()) {
      h.keys("name", "prefix");
      headers.add(new JwtHeader(h.required("name").nonEmpty().trim().toLowerCase(Locale.ROOT), h.get("prefix").string("")));
    }
    List<String> params = new ArrayList<>();
    for (ConfigNode p : r.get("fromParams").items()) {
      params.add(p.nonEmpty().trim());
    }
    List<String> cookies = new ArrayList<>();
    for (ConfigNode c : r.get("fromCookies").items()) {
      cookies.add(c.nonEmpty().trim());
    }
    String payloadHeader = r.has("outputPayloadToHeader") ? r.get("outputPayloadToHeader").nonEmpty().trim().toLowerCase(Locale.ROOT) : null;
    List<ClaimToHeader> claimHeaders = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (ConfigNode c : r.get("outputClaimToHeaders").items()) {
      c.keys("header", "claim");
      String header = c.required("header").nonEmpty().trim().toLowerCase(Locale.ROOT);
      if (!seen.add(header)) {
        throw c.get("header").error("header " + ConfigNode.quote(header) + " is named twice; each must be unique");
      }
      claimHeaders.add(new ClaimToHeader(header, c.required("claim").nonEmpty().trim()));
    }
    Duration timeout = r.get("timeout").positiveDuration(Duration.ofSeconds(5));
    JwtFailureMode failure = r.has("failureMode")
        ? JwtFailureMode.valueOf(r.get("failureMode").oneOf("PERMISSIVE", "IGNORE", "STRICT")) : JwtFailureMode.PERMISSIVE;
    return new JwtRule(issuer, List.copyOf(audiences), jwksUri, jwks, List.copyOf(headers), List.copyOf(params),
        List.copyOf(cookies), payloadHeader, r.get("forwardOriginalToken").bool(false), List.copyOf(claimHeaders),
        timeout, failure, r.source() + ", " + r.path());
  }

  /** Why {@code url} is not an http(s) URL with a host, or null. */
  static String httpUrlProblem(String url) {
    URI u;
    try {
      u = new URI(url);
    } catch (java.net.URISyntaxException e) {
      return "is not a URL: " + e.getReason();
    }
    if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))) {
      return "is not an http or https URL (as Istio requires of jwksUri)";
    }
    if (u.getHost() == null) {
      return "has no host";
    }
    if (u.getRawUserInfo() != null) {
      return "carries user info; credentials do not belong in a URL";
    }
    return null;
  }
}
