package io.meshup.core.testing.security;

import io.meshup.core.testing.security.Row.Call;
import io.meshup.core.testing.security.Row.Expect;
import io.meshup.core.testing.security.Row.Transport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The decision table of issue 13: rows from Istio's documented semantics, each quoting the
 * sentence it checks, for the server {@code payments} (identity
 * {@code cluster.local/ns/default/sa/payments}, labels {@code app: payments, version: v1},
 * namespace {@code default}) called by {@code sleep} ({@code cluster.local/ns/default/sa/sleep}),
 * {@code curl} ({@code cluster.local/ns/foo/sa/curl}), {@code web} (Consul's shape
 * {@code cluster.local/ns/default/dc/dc1/svc/web}) or a plaintext caller, with real JWTs of
 * {@link SecurityFixture#ISSUER}. The transports' tests run every row against real servers.
 */
public final class DecisionTable {
  static final String AP = "istio/api security/v1/authorization_policy.proto";
  static final String COND = "istio.io docs/reference/config/security/conditions";
  static final String RA = "istio/api security/v1/request_authentication.proto";
  static final String JWT = "istio/api security/v1/jwt.proto";
  static final String PA = "istio/api security/v1/peer_authentication.proto";
  static final String AUTHN = "istio.io docs/tasks/security/authentication/authn-policy";
  static final String JWTTASK = "istio.io docs/tasks/security/authorization/authz-jwt";
  static final String RFC7519 = "RFC 7519";

  static final String Q_ORDER_DENY = "If there are any DENY policies that match the request, deny the request.";
  static final String Q_ORDER_NOALLOW = "If there are no ALLOW policies for the workload, allow the request.";
  static final String Q_ORDER_ALLOW = "If any of the ALLOW policies match the request, allow the request.";
  static final String Q_ORDER_ELSE = "Deny the request.";
  static final String Q_AUDIT = "AUDIT policies do not affect whether requests are allowed or denied to the workload.";
  static final String Q_AUDIT2 = "Requests will be allowed or denied based solely on CUSTOM, DENY and ALLOW actions.";
  static final String Q_DRY = "The dry-run annotation allows you to better understand the effect of an authorization policy"
      + " before applying it to the production traffic.";
  static final String Q_NORULES = "If not set, the match will never occur. This is equivalent to setting a default of deny for"
      + " the target workloads if the action is ALLOW.";
  static final String Q_EMPTYRULE = "An empty rule is always matched.";
  static final String Q_MATCH = "A match occurs when at least one source, one operation and all conditions matches the request.";
  static final String Q_NS = "\"metadata/namespace\" tells which namespace the policy applies. If set to root namespace, the"
      + " policy applies to all namespaces in a mesh.";
  static final String Q_SELECTOR = "The selector will match with workloads in the same namespace as the authorization policy."
      + " If the authorization policy is in the root namespace, the selector will additionally match with workloads in all namespaces.";
  static final String Q_V1 = "The following authorization policy applies to workloads containing label `version: v1` in all"
      + " namespaces in the mesh.";
  static final String Q_TARGET = "The targeted resource specified will determine which workloads the authorization policy applies to.";
  static final String Q_EXACT = "Exact match: \"abc\" will match on value \"abc\".";
  static final String Q_PREFIX = "Prefix match: \"abc*\" will match on value \"abc\" and \"abcd\".";
  static final String Q_SUFFIX = "Suffix match: \"*abc\" will match on value \"abc\" and \"xabc\".";
  static final String Q_PRESENCE = "Presence match: \"*\" will match when value is not empty.";
  static final String Q_PRINCIPALS = "A list of peer identities derived from the peer certificate. [...] This field requires mTLS"
      + " enabled and is the same as the `source.principal` attribute.";
  static final String Q_NOTPRINCIPALS = "Optional. A list of negative match of peer identities.";
  static final String Q_NAMESPACES = "A list of namespaces derived from the peer certificate. This field requires mTLS enabled"
      + " and is the same as the `source.namespace` attribute.";
  static final String Q_NOTNAMESPACES = "Optional. A list of negative match of namespaces.";
  static final String Q_AND = "Source specifies the source identities of a request. Fields in the source are ANDed together.";
  static final String Q_OR = "It allows requests from: service account `cluster.local/ns/default/sa/sleep` or namespace `test`";
  static final String Q_IPBLOCKS = "A list of IP blocks, populated from the source address of the IP packet. Single IP (e.g."
      + " \"203.0.113.4\") and CIDR (e.g. \"203.0.113.0/24\") are supported.";
  static final String Q_NOTIPBLOCKS = "Optional. A list of negative match of IP blocks.";
  static final String Q_REMOTE = "A list of IP blocks, populated from X-Forwarded-For header or proxy protocol.";
  static final String Q_SA = "serviceAccounts: a list of service accounts in the form <namespace>/<service account>"
      + " or <service account> (of the policy's namespace)";
  static final String Q_HOSTS = "A list of hosts as specified in the HTTP request. The match is case-insensitive.";
  static final String Q_NOTHOSTS = "Optional. A list of negative match of hosts as specified in the HTTP request. The match is case-insensitive.";
  static final String Q_PORTS = "A list of ports as specified in the connection.";
  static final String Q_NOTPORTS = "Optional. A list of negative match of ports as specified in the connection.";
  static final String Q_METHODS = "A list of methods as specified in the HTTP request. For gRPC service, this will always be \"POST\".";
  static final String Q_PATHS = "A list of paths as specified in the HTTP request.";
  static final String Q_GRPCPATH = "For gRPC service, this will be the fully-qualified name in the form of \"/package.service/method\".";
  static final String Q_NOTPATHS = "Optional. A list of negative match of paths.";
  static final String Q_OPAND = "Operation specifies the operations of a request. Fields in the operation are ANDed together.";
  static final String Q_TEMPLATE = "If path contains \"{*}\", it will be replaced with \"*\". If path contains \"{**}\", it will"
      + " be replaced with \"**\". (istio/istio pilot/pkg/security/authz/matcher/template.go: Envoy's uri_template, {*} one segment,"
      + " {**} the rest)";
  static final String C_HEADERS = "HTTP request headers. The header name is surrounded by `[]` without any quotes";
  static final String C_SOURCEIP = "Source workload instance IP address, supports single IP or CIDR";
  static final String C_REMOTEIP = "Original client IP address as determined by X-Forwarded-For header or Proxy Protocol,"
      + " supports single IP or CIDR";
  static final String C_NS = "Source workload instance namespace, requires mutual TLS enabled";
  static final String C_PRINCIPAL = "The identity of the source workload, requires mutual TLS enabled";
  static final String C_REQPRINCIPAL = "The principal of the authenticated JWT token, constructed from the JWT claims in the"
      + " format of `<iss>/<sub>`, requires request authentication policy applied";
  static final String C_AUD = "The intended audiences of the authenticated JWT token, constructed from the JWT claim `<aud>`,"
      + " requires request authentication policy applied";
  static final String C_AZP = "The authorized presenter of the authenticated JWT token, constructed from the JWT claim `<azp>`,"
      + " requires request authentication policy applied";
  static final String C_CLAIMS = "Raw claims of the authenticated JWT token. The claim name is surrounded by `[]` without any"
      + " quotes, nested claim can also be used, requires request authentication policy applied. Note only support claim of type"
      + " string or list of string";
  static final String C_DESTIP = "Destination workload instance IP address, supports single IP or CIDR";
  static final String C_DESTPORT = "Destination workload instance port, must be in the range [0, 65535]. Note this is not the service port";
  static final String C_SNI = "The server name indication, requires TLS enabled";
  static final String C_NOTVALUES = "Optional. A list of negative match of values for the attribute.";
  static final String R_REJECT = "It will reject a request if the request contains invalid authentication information, based on"
      + " the configured authentication rules.";
  static final String R_NOCRED = "A request that does not contain any authentication credentials will be accepted but will not"
      + " have any authenticated identity.";
  static final String R_RESTRICT = "To restrict access to authenticated requests only, this should be accompanied by an authorization rule.";
  static final String J_ISS = "A JWT with different `iss` claim will be rejected.";
  static final String J_AUD = "A JWT containing any of these audiences will be accepted.";
  static final String J_DEFAULT = "If no explicit location is specified the following default locations are tried in order:"
      + " 1) The Authorization header using the Bearer schema [...] 2) The `access_token` query parameter";
  static final String J_HEADERS = "List of header locations from which JWT is expected.";
  static final String J_PARAMS = "List of query parameters from which JWT is expected.";
  static final String J_PREFIX = "The prefix that should be stripped before decoding the token.";
  static final String J_PAYLOAD = "This field specifies the header name to output a successfully verified JWT payload to the backend.";
  static final String J_FORWARD = "If set to true, the original token will be kept for the upstream request. Default is false.";
  static final String J_STRICT = "The requirement is satisfied only if JWT is presented and verification successful.";
  static final String X_EXP = "The \"exp\" (expiration time) claim identifies the expiration time on or after which the JWT MUST"
      + " NOT be accepted for processing.";
  static final String X_NBF = "The \"nbf\" (not before) claim identifies the time before which the JWT MUST NOT be accepted for processing.";
  static final String P_STRICT = "Connection is an mTLS tunnel (TLS with client cert must be presented).";
  static final String P_PERMISSIVE = "Connection can be either plaintext or mTLS tunnel.";
  static final String P_SELECTOR = "The selector determines the workloads to apply the PeerAuthentication on.";
  static final String P_NAMESPACE = "If not set, the policy will be applied to all workloads in the same namespace as the policy.";
  static final String P_PRECEDENCE = "A workload-specific peer authentication policy takes precedence over a namespace-wide policy.";
  static final String P_UNSET = "Inherit from parent, if has one. Otherwise treated as `PERMISSIVE`.";
  static final String P_PORT = "Policy that enables strict mTLS for all workloads, but leaves the port `8080` to plaintext.";
  static final String P_PORTINHERIT = "Policy that inherits mTLS mode from namespace (or mesh) settings, and disables mTLS for"
      + " workload port `8080`.";

  private DecisionTable() {}

  static String ap(String name, String spec) {
    return apIn(null, name, spec);
  }

  static String apIn(String namespace, String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: " + name
        + (namespace == null ? "" : "\n  namespace: " + namespace) + "\nspec:\n" + spec.indent(2) + "---\n";
  }

  static String dry(String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: " + name
        + "\n  annotations:\n    \"istio.io/dry-run\": \"true\"\nspec:\n" + spec.indent(2) + "---\n";
  }

  static String pa(String namespace, String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: " + name
        + (namespace == null ? "" : "\n  namespace: " + namespace) + "\nspec:\n" + spec.indent(2) + "---\n";
  }

  static String allowFrom(String source) {
    return ap("allow", "rules:\n- from: [{ source: " + source + " }]");
  }

  static String denyFrom(String source) {
    return ap("deny", "action: DENY\nrules:\n- from: [{ source: " + source + " }]");
  }

  static String allowTo(String operation) {
    return ap("allow", "rules:\n- to: [{ operation: " + operation + " }]");
  }

  static String allowWhen(String conditions) {
    return ap("allow", "rules:\n- when: " + conditions);
  }

  /** All rows, with tokens minted by {@code f}. */
  public static List<Row> rows(SecurityFixture f) {
    String ra = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: jwt }\nspec:\n"
        + "  jwtRules:\n  - issuer: \"" + SecurityFixture.ISSUER + "\"\n    jwks: '" + f.jwks() + "'\n";
    java.util.function.Function<String, String> raWith = extra -> "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
        + "metadata: { name: jwt }\nspec:\n  jwtRules:\n  - issuer: \"" + SecurityFixture.ISSUER + "\"\n    jwks: '" + f.jwks()
        + "'\n" + extra.indent(4) + "---\n";
    String raDoc = ra + "---\n";
    String requireJwt = ap("require-jwt", "rules:\n- from: [{ source: { requestPrincipals: [\"*\"] } }]");
    String alice = f.token("alice", Map.of());
    String sleep = "sleep";
    String curl = "curl";
    Call get = Call.of(sleep);
    List<Row> r = new ArrayList<>();
    Set<Transport> all = Set.of(Transport.values());

    // ---- order of actions
    r.add(new Row("no policy allows", Q_ORDER_NOALLOW, AP, "", get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("an ALLOW policy that matches allows", Q_ORDER_ALLOW, AP,
        allowFrom("{ principals: [cluster.local/ns/default/sa/sleep] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("an ALLOW policy that does not match denies", Q_ORDER_ELSE, AP,
        allowFrom("{ principals: [cluster.local/ns/foo/sa/curl] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a DENY policy that matches denies", Q_ORDER_DENY, AP,
        denyFrom("{ principals: [cluster.local/ns/default/sa/sleep] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("DENY is evaluated before ALLOW", Q_ORDER_DENY, AP,
        ap("allow-all", "rules: [{}]") + denyFrom("{ principals: [cluster.local/ns/default/sa/sleep] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a DENY policy that does not match leaves the call allowed", Q_ORDER_NOALLOW, AP,
        denyFrom("{ principals: [cluster.local/ns/foo/sa/curl] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("an AUDIT policy that matches does not deny", Q_AUDIT, AP,
        ap("audit", "action: AUDIT\nrules: [{}]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("an AUDIT policy is not an ALLOW policy", Q_AUDIT2, AP,
        ap("audit", "action: AUDIT\nrules:\n- from: [{ source: { principals: [cluster.local/ns/foo/sa/curl] } }]"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("an AUDIT policy that matches does not allow", Q_AUDIT2, AP,
        allowFrom("{ principals: [cluster.local/ns/foo/sa/curl] }") + ap("audit", "action: AUDIT\nrules: [{}]"), get,
        Expect.DENY, Map.of(), all));
    r.add(new Row("a dry-run DENY policy that matches does not deny", Q_DRY, AP,
        dry("dry-deny", "action: DENY\nrules: [{}]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("a dry-run ALLOW policy that does not match does not deny", Q_DRY, AP,
        dry("dry-allow", "rules:\n- from: [{ source: { principals: [cluster.local/ns/foo/sa/curl] } }]"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("a dry-run policy leaves the enforced ones deciding", Q_DRY, AP,
        dry("dry-allow", "rules: [{}]") + denyFrom("{ principals: [\"*\"] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a policy with no rules allows nothing", Q_NORULES, AP, ap("allow-nothing", "{}"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("an empty rule matches every call", Q_EMPTYRULE, AP, ap("allow-all", "rules:\n- {}"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("a DENY policy with an empty rule denies every call", Q_EMPTYRULE, AP,
        ap("deny-all", "action: DENY\nrules:\n- {}"), get, Expect.DENY, Map.of(), all));

    // ---- scope
    r.add(new Row("a policy of another namespace does not apply", Q_NS, AP,
        apIn("foo", "deny-all", "action: DENY\nrules: [{}]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("a policy of the root namespace applies to every namespace", Q_NS, AP,
        apIn("istio-system", "deny-all", "action: DENY\nrules: [{}]"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a policy of the workload's namespace applies", Q_NS, AP,
        apIn("default", "deny-all", "action: DENY\nrules: [{}]"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a selector of the workload's app label applies", Q_SELECTOR, AP,
        ap("deny", "selector: { matchLabels: { app: payments } }\naction: DENY\nrules: [{}]"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a selector of another app does not apply", Q_SELECTOR, AP,
        ap("deny", "selector: { matchLabels: { app: httpbin } }\naction: DENY\nrules: [{}]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("a root-namespace selector on label version: v1 applies", Q_V1, AP,
        apIn("istio-system", "allow-nothing", "selector: { matchLabels: { version: v1 } }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("a selector on a label the workload lacks does not apply", Q_SELECTOR, AP,
        apIn("istio-system", "allow-nothing", "selector: { matchLabels: { version: v2 } }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("a targetRef to the workload's Service applies", Q_TARGET, AP,
        ap("deny", "targetRefs: [{ kind: Service, group: \"\", name: payments }]\naction: DENY\nrules: [{}]"), get,
        Expect.DENY, Map.of(), all));
    r.add(new Row("a targetRef to another Service does not apply", Q_TARGET, AP,
        ap("deny", "targetRefs: [{ kind: Service, group: \"\", name: ratings }]\naction: DENY\nrules: [{}]"), get,
        Expect.ALLOW, Map.of(), all));

    // ---- source
    r.add(new Row("principals: an exact value matches only itself", Q_EXACT, AP,
        allowFrom("{ principals: [cluster.local/ns/default/sa/sleep] }"), Call.of(curl), Expect.DENY, Map.of(), all));
    r.add(new Row("principals: a prefix", Q_PREFIX, AP, allowFrom("{ principals: [\"cluster.local/ns/default/*\"] }"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("principals: a suffix", Q_SUFFIX, AP, allowFrom("{ principals: [\"*/sa/sleep\"] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("principals: presence matches an mTLS caller", Q_PRESENCE, AP, allowFrom("{ principals: [\"*\"] }"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("principals: a plaintext caller has none", Q_PRINCIPALS, AP, allowFrom("{ principals: [\"*\"] }"),
        Call.of(null), Expect.DENY, Map.of(), all));
    r.add(new Row("principals in Consul's shape follow the certificate", Q_PRINCIPALS, AP,
        allowFrom("{ principals: [cluster.local/ns/default/dc/dc1/svc/web] }"), Call.of("web"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("an Istio-shaped principal does not name a Consul-shaped caller", Q_PRINCIPALS, AP,
        allowFrom("{ principals: [cluster.local/ns/default/sa/web] }"), Call.of("web"), Expect.DENY, Map.of(), all));
    r.add(new Row("notPrincipals [*] in a DENY policy refuses plaintext", Q_NOTPRINCIPALS, AP,
        denyFrom("{ notPrincipals: [\"*\"] }"), Call.of(null), Expect.DENY, Map.of(), all));
    r.add(new Row("notPrincipals [*] in a DENY policy lets mTLS through", Q_NOTPRINCIPALS, AP,
        denyFrom("{ notPrincipals: [\"*\"] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("namespaces: the caller's namespace", Q_NAMESPACES, AP, allowFrom("{ namespaces: [foo] }"), Call.of(curl),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("namespaces: another namespace", Q_NAMESPACES, AP, allowFrom("{ namespaces: [foo] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("namespaces: a plaintext caller has none", Q_NAMESPACES, AP, allowFrom("{ namespaces: [default] }"),
        Call.of(null), Expect.DENY, Map.of(), all));
    r.add(new Row("notNamespaces in a DENY policy refuses other namespaces", Q_NOTNAMESPACES, AP,
        denyFrom("{ notNamespaces: [default] }"), Call.of(curl), Expect.DENY, Map.of(), all));
    r.add(new Row("notNamespaces in a DENY policy lets its namespace through", Q_NOTNAMESPACES, AP,
        denyFrom("{ notNamespaces: [default] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("serviceAccounts: of the policy's namespace", Q_SA, AP, allowFrom("{ serviceAccounts: [sleep] }"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("serviceAccounts: another account", Q_SA, AP, allowFrom("{ serviceAccounts: [sleep] }"), Call.of(curl),
        Expect.DENY, Map.of(), all));
    r.add(new Row("serviceAccounts: namespace/account", Q_SA, AP, allowFrom("{ serviceAccounts: [foo/curl] }"), Call.of(curl),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("fields of a source are ANDed", Q_AND, AP,
        allowFrom("{ principals: [cluster.local/ns/default/sa/sleep], namespaces: [foo] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("sources of a rule are ORed", Q_OR, AP,
        ap("allow", "rules:\n- from:\n  - source: { principals: [cluster.local/ns/default/sa/sleep] }\n  - source: { namespaces: [foo] }"),
        Call.of(curl), Expect.ALLOW, Map.of(), all));
    r.add(new Row("ipBlocks: the caller's address", Q_IPBLOCKS, AP, allowFrom("{ ipBlocks: [127.0.0.1] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("ipBlocks: a CIDR the caller is outside", Q_IPBLOCKS, AP, allowFrom("{ ipBlocks: [10.0.0.0/8] }"), get,
        Expect.DENY, Map.of(), all));
    r.add(new Row("ipBlocks: a CIDR the caller is in, in a DENY policy", Q_IPBLOCKS, AP, denyFrom("{ ipBlocks: [127.0.0.0/8] }"), get,
        Expect.DENY, Map.of(), all));
    r.add(new Row("notIpBlocks in a DENY policy", Q_NOTIPBLOCKS, AP, denyFrom("{ notIpBlocks: [127.0.0.0/8] }"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("remoteIpBlocks: with no proxy in front, the caller's address", Q_REMOTE, AP,
        allowFrom("{ remoteIpBlocks: [127.0.0.1/32] }"), get, Expect.ALLOW, Map.of(), all));

    // ---- operation
    r.add(new Row("methods: the request's method", Q_METHODS, AP, allowTo("{ methods: [GET] }"), get, Expect.ALLOW, Map.of(), all)
        .only(Transport.JDK, Transport.NETTY));
    r.add(new Row("methods: another method", Q_METHODS, AP, allowTo("{ methods: [GET] }"), get.method("DELETE"), Expect.DENY,
        Map.of(), all).only(Transport.JDK, Transport.NETTY));
    r.add(new Row("methods: a gRPC call is POST", Q_METHODS, AP, allowTo("{ methods: [POST] }"), get, Expect.ALLOW, Map.of(), all)
        .only(Transport.GRPC));
    r.add(new Row("methods: a gRPC call is never GET", Q_METHODS, AP, allowTo("{ methods: [GET] }"), get, Expect.DENY, Map.of(), all)
        .only(Transport.GRPC));
    r.add(new Row("paths: exact", Q_EXACT, AP, allowTo("{ paths: [/info] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("paths: exact does not match a longer path", Q_EXACT, AP, allowTo("{ paths: [/info] }"), get.path("/info2"),
        Expect.DENY, Map.of(), all));
    r.add(new Row("paths: prefix", Q_PREFIX, AP, allowTo("{ paths: [\"/info*\"] }"), get.path("/info/x"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("paths: suffix", Q_SUFFIX, AP, allowTo("{ paths: [\"*/status\"] }"), get.path("/a/status"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("notPaths in a DENY policy spares the path", Q_NOTPATHS, AP,
        ap("deny", "action: DENY\nrules:\n- to: [{ operation: { notPaths: [/healthz] } }]"), get.path("/healthz"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("notPaths in a DENY policy denies other paths", Q_NOTPATHS, AP,
        ap("deny", "action: DENY\nrules:\n- to: [{ operation: { notPaths: [/healthz] } }]"), get.path("/data"), Expect.DENY, Map.of(), all));
    r.add(new Row("paths: {*} is one segment", Q_TEMPLATE, AP, allowTo("{ paths: [\"/store/{*}/items\"] }"), get.path("/store/a/items"),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("paths: {*} is not two segments", Q_TEMPLATE, AP, allowTo("{ paths: [\"/store/{*}/items\"] }"),
        get.path("/store/a/b/items"), Expect.DENY, Map.of(), all));
    r.add(new Row("paths: {**} is the rest", Q_TEMPLATE, AP, allowTo("{ paths: [\"/store/{**}\"] }"), get.path("/store/a/b"),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("paths: a gRPC method's path", Q_GRPCPATH, AP, allowTo("{ paths: [\"/pkg.Payments/*\"] }"),
        get.path("/pkg.Payments/Charge"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("hosts: case-insensitive", Q_HOSTS, AP, allowTo("{ hosts: [example.com] }"), get.host("EXAMPLE.com"),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("hosts: another host", Q_HOSTS, AP, allowTo("{ hosts: [example.com] }"), get.host("other.com"), Expect.DENY, Map.of(), all));
    r.add(new Row("hosts: a suffix", Q_SUFFIX, AP, allowTo("{ hosts: [\"*.example.com\"] }"), get.host("api.example.com"),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("notHosts in a DENY policy", Q_NOTHOSTS, AP,
        ap("deny", "action: DENY\nrules:\n- to: [{ operation: { notHosts: [example.com] } }]"), get.host("evil.com"), Expect.DENY, Map.of(), all));
    r.add(new Row("ports: the port the call came in on", Q_PORTS, AP, allowTo("{ ports: [\"{{PORT}}\"] }"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("ports: another port", Q_PORTS, AP, allowTo("{ ports: [\"1\"] }"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("notPorts in a DENY policy", Q_NOTPORTS, AP,
        ap("deny", "action: DENY\nrules:\n- to: [{ operation: { notPorts: [\"{{PORT}}\"] } }]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("fields of an operation are ANDed", Q_OPAND, AP, allowTo("{ methods: [GET], paths: [/info] }"),
        get.path("/data"), Expect.DENY, Map.of(), all).only(Transport.JDK, Transport.NETTY));
    r.add(new Row("operations of a rule are ORed", Q_MATCH, AP,
        ap("allow", "rules:\n- to:\n  - operation: { methods: [GET], paths: [\"/info*\"] }\n  - operation: { methods: [POST], paths: [/data] }"),
        get.method("POST").path("/data"), Expect.ALLOW, Map.of(), all));

    // ---- when
    r.add(new Row("request.headers: the value", C_HEADERS, COND, allowWhen("[{ key: \"request.headers[x-user]\", values: [alice] }]"),
        get.header("x-user", "alice"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.headers: absent", C_HEADERS, COND, allowWhen("[{ key: \"request.headers[x-user]\", values: [alice] }]"),
        get, Expect.DENY, Map.of(), all));
    r.add(new Row("request.headers: Istio's User-Agent example", C_HEADERS, COND,
        allowWhen("[{ key: \"request.headers[User-Agent]\", values: [\"Mozilla/*\"] }]"), get.header("user-agent", "Mozilla/5.0"),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.headers: notValues in a DENY policy", C_NOTVALUES, AP,
        ap("deny", "action: DENY\nrules:\n- when: [{ key: \"request.headers[x-user]\", notValues: [alice] }]"),
        get.header("x-user", "mallory"), Expect.DENY, Map.of(), all));
    r.add(new Row("request.headers: presence", Q_PRESENCE, AP, allowWhen("[{ key: \"request.headers[x-token]\", values: [\"*\"] }]"),
        get.header("x-token", "t"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("source.ip: the caller's address", C_SOURCEIP, COND, allowWhen("[{ key: source.ip, values: [127.0.0.1] }]"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("source.ip: a CIDR the caller is outside", C_SOURCEIP, COND,
        allowWhen("[{ key: source.ip, values: [\"10.2.0.0/16\"] }]"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("remote.ip: with no proxy in front, the caller's address", C_REMOTEIP, COND,
        allowWhen("[{ key: remote.ip, values: [\"127.0.0.0/8\"] }]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("source.namespace: the caller's", C_NS, COND, allowWhen("[{ key: source.namespace, values: [default] }]"), get,
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("source.namespace: another", C_NS, COND, allowWhen("[{ key: source.namespace, values: [default] }]"),
        Call.of(curl), Expect.DENY, Map.of(), all));
    r.add(new Row("source.principal: the caller's", C_PRINCIPAL, COND,
        allowWhen("[{ key: source.principal, values: [cluster.local/ns/default/sa/sleep] }]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("source.principal: a plaintext caller has none", C_PRINCIPAL, COND,
        allowWhen("[{ key: source.principal, values: [\"*\"] }]"), Call.of(null), Expect.DENY, Map.of(), all));
    r.add(new Row("destination.port: the server's port", C_DESTPORT, COND, allowWhen("[{ key: destination.port, values: [\"{{PORT}}\"] }]"),
        get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("destination.port: notValues in a DENY policy", C_NOTVALUES, AP,
        ap("deny", "action: DENY\nrules:\n- when: [{ key: destination.port, notValues: [\"{{PORT}}\"] }]"), get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("destination.ip: the server's address", C_DESTIP, COND, allowWhen("[{ key: destination.ip, values: [127.0.0.1] }]"),
        get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("connection.sni: the server name asked for", C_SNI, COND,
        allowWhen("[{ key: connection.sni, values: [payments.default.svc.cluster.local] }]"),
        get.sni("payments.default.svc.cluster.local"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("connection.sni: another name", C_SNI, COND, allowWhen("[{ key: connection.sni, values: [payments.default.svc.cluster.local] }]"),
        get.sni("other.example.com"), Expect.DENY, Map.of(), all));
    r.add(new Row("conditions of a rule are ANDed", Q_MATCH, AP,
        allowWhen("[{ key: \"request.headers[x-user]\", values: [alice] }, { key: source.namespace, values: [default] }]"),
        Call.of(curl).header("x-user", "alice"), Expect.DENY, Map.of(), all));
    r.add(new Row("source.serviceAccount: namespace/account", Q_SA, AP,
        allowWhen("[{ key: source.serviceAccount, values: [default/sleep] }]"), get, Expect.ALLOW, Map.of(), all));

    // ---- RequestAuthentication and JWTs
    r.add(new Row("no token passes a RequestAuthentication", R_NOCRED, RA, raDoc, get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("a valid token passes", R_REJECT, RA, raDoc, get.bearer(alice), Expect.ALLOW, Map.of(), all));
    r.add(new Row("a token signed by another key is refused", R_REJECT, RA, raDoc, get.bearer(f.forgedToken("alice")),
        Expect.UNAUTHENTICATED, Map.of(), all));
    r.add(new Row("a malformed token is refused", R_REJECT, RA, raDoc, get.bearer("not.a.jwt"), Expect.UNAUTHENTICATED, Map.of(), all));
    r.add(new Row("no token is refused when requestPrincipals are required", R_RESTRICT, RA, raDoc + requireJwt, get, Expect.DENY, Map.of(), all));
    r.add(new Row("a valid token passes requestPrincipals [*]", R_RESTRICT, RA, raDoc + requireJwt, get.bearer(alice), Expect.ALLOW, Map.of(), all));
    r.add(new Row("an expired token is refused", X_EXP, RFC7519, raDoc + requireJwt, get.bearer(f.expiredToken("alice")),
        Expect.UNAUTHENTICATED, Map.of(), all));
    r.add(new Row("a token not yet valid is refused", X_NBF, RFC7519, raDoc, get.bearer(f.futureToken("alice")),
        Expect.UNAUTHENTICATED, Map.of(), all));
    r.add(new Row("a token of another issuer is refused", J_ISS, JWT, raDoc, get.bearer(f.tokenOfIssuer("https://evil.example", "alice")),
        Expect.UNAUTHENTICATED, Map.of(), all));
    r.add(new Row("a token with an allowed audience passes", J_AUD, JWT, raWith.apply("audiences: [bookstore.example.com]") + requireJwt,
        get.bearer(f.token("alice", Map.of("aud", List.of("bookstore.example.com")))), Expect.ALLOW, Map.of(), all));
    r.add(new Row("a token without an allowed audience is refused", J_AUD, JWT, raWith.apply("audiences: [bookstore.example.com]"),
        get.bearer(f.token("alice", Map.of("aud", List.of("other.example.com")))), Expect.UNAUTHENTICATED, Map.of(), all));
    r.add(new Row("requestPrincipals: <iss>/<sub> exact", C_REQPRINCIPAL, COND,
        raDoc + ap("allow", "rules:\n- from: [{ source: { requestPrincipals: [\"testing@secure.istio.io/alice\"] } }]"),
        get.bearer(alice), Expect.ALLOW, Map.of(), all));
    r.add(new Row("requestPrincipals: another subject", C_REQPRINCIPAL, COND,
        raDoc + ap("allow", "rules:\n- from: [{ source: { requestPrincipals: [\"testing@secure.istio.io/alice\"] } }]"),
        get.bearer(f.token("bob", Map.of())), Expect.DENY, Map.of(), all));
    r.add(new Row("requestPrincipals: any subject of the issuer", Q_PREFIX, AP,
        raDoc + ap("allow", "rules:\n- from: [{ source: { requestPrincipals: [\"testing@secure.istio.io/*\"] } }]"),
        get.bearer(f.token("bob", Map.of())), Expect.ALLOW, Map.of(), all));
    r.add(new Row("notRequestPrincipals [*] in a DENY policy refuses calls without a token", R_RESTRICT, JWTTASK,
        raDoc + ap("deny", "action: DENY\nrules:\n- from: [{ source: { notRequestPrincipals: [\"*\"] } }]"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("notRequestPrincipals [*] in a DENY policy lets a valid token through", R_RESTRICT, JWTTASK,
        raDoc + ap("deny", "action: DENY\nrules:\n- from: [{ source: { notRequestPrincipals: [\"*\"] } }]"), get.bearer(alice),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.auth.claims: a list claim holding the value", C_CLAIMS, COND,
        raDoc + allowWhen("[{ key: \"request.auth.claims[groups]\", values: [group1] }]"),
        get.bearer(f.token("alice", Map.of("groups", List.of("group1", "group2")))), Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.auth.claims: a list claim without the value", C_CLAIMS, COND,
        raDoc + allowWhen("[{ key: \"request.auth.claims[groups]\", values: [group1] }]"),
        get.bearer(f.token("alice", Map.of("groups", List.of("group2")))), Expect.DENY, Map.of(), all));
    r.add(new Row("request.auth.claims: a nested claim", C_CLAIMS, COND,
        raDoc + allowWhen("[{ key: \"request.auth.claims[nested][key1]\", values: [value1] }]"),
        get.bearer(f.token("alice", Map.of("nested", Map.of("key1", "value1")))), Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.auth.claims: no token, no claim", C_CLAIMS, COND,
        raDoc + allowWhen("[{ key: \"request.auth.claims[iss]\", values: [\"*\"] }]"), get, Expect.DENY, Map.of(), all));
    r.add(new Row("request.auth.principal", C_REQPRINCIPAL, COND,
        raDoc + allowWhen("[{ key: request.auth.principal, values: [\"testing@secure.istio.io/alice\"] }]"), get.bearer(alice),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.auth.audiences", C_AUD, COND, raDoc + allowWhen("[{ key: request.auth.audiences, values: [bookstore.example.com] }]"),
        get.bearer(f.token("alice", Map.of("aud", List.of("bookstore.example.com")))), Expect.ALLOW, Map.of(), all));
    r.add(new Row("request.auth.presenter", C_AZP, COND, raDoc + allowWhen("[{ key: request.auth.presenter, values: [app.example.com] }]"),
        get.bearer(f.token("alice", Map.of("azp", "app.example.com"))), Expect.ALLOW, Map.of(), all));
    r.add(new Row("fromHeaders: the token where the rule says", J_HEADERS, JWT,
        raWith.apply("fromHeaders: [{ name: x-jwt-assertion }]") + requireJwt, get.header("x-jwt-assertion", alice), Expect.ALLOW, Map.of(), all));
    r.add(new Row("fromHeaders: the Authorization header is not looked at then", J_HEADERS, JWT,
        raWith.apply("fromHeaders: [{ name: x-jwt-assertion }]") + requireJwt, get.bearer(alice), Expect.DENY, Map.of(), all));
    r.add(new Row("fromParams: a query parameter", J_PARAMS, JWT, raWith.apply("fromParams: [my_token]") + requireJwt,
        get.query("my_token=" + alice), Expect.ALLOW, Map.of(), all).only(Transport.JDK, Transport.NETTY));
    r.add(new Row("the default locations include access_token", J_DEFAULT, JWT, raDoc + requireJwt, get.query("access_token=" + alice),
        Expect.ALLOW, Map.of(), all).only(Transport.JDK, Transport.NETTY));
    r.add(new Row("an Authorization header of another scheme is no token", J_PREFIX, JWT, raDoc,
        get.header("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"), Expect.ALLOW, Map.of(), all));
    r.add(new Row("outputPayloadToHeader: the handler sees the payload", J_PAYLOAD, JWT,
        raWith.apply("outputPayloadToHeader: x-jwt-payload"), get.bearer(alice), Expect.ALLOW, Map.of(), all)
        .seeing("x-jwt-payload", alice.split("\\.")[1]));
    r.add(new Row("forwardOriginalToken false: the handler does not see the token", J_FORWARD, JWT, raDoc, get.bearer(alice),
        Expect.ALLOW, Map.of(), all).seeing("authorization", null));
    r.add(new Row("forwardOriginalToken true: the handler sees the token", J_FORWARD, JWT, raWith.apply("forwardOriginalToken: true"),
        get.bearer(alice), Expect.ALLOW, Map.of(), all).seeing("authorization", "Bearer " + alice));
    r.add(new Row("failureMode STRICT: no token is refused", J_STRICT, JWT, raWith.apply("failureMode: STRICT"), get,
        Expect.UNAUTHENTICATED, Map.of(), all));

    // ---- PeerAuthentication
    String strict = pa(null, "default", "mtls: { mode: STRICT }");
    r.add(new Row("STRICT refuses plaintext", P_STRICT, PA, strict, Call.of(null), Expect.MTLS_REQUIRED, Map.of(), all));
    r.add(new Row("STRICT admits mTLS", P_STRICT, PA, strict, get, Expect.ALLOW, Map.of(), all));
    r.add(new Row("PERMISSIVE admits plaintext", P_PERMISSIVE, PA, pa(null, "default", "mtls: { mode: PERMISSIVE }"), Call.of(null),
        Expect.ALLOW, Map.of(), all));
    r.add(new Row("a selector of the workload applies", P_SELECTOR, PA,
        pa(null, "payments", "selector: { matchLabels: { app: payments } }\nmtls: { mode: STRICT }"), Call.of(null),
        Expect.MTLS_REQUIRED, Map.of(), all));
    r.add(new Row("a selector of another workload does not", P_SELECTOR, PA,
        pa(null, "httpbin", "selector: { matchLabels: { app: httpbin } }\nmtls: { mode: STRICT }"), Call.of(null), Expect.ALLOW, Map.of(), all));
    r.add(new Row("a namespace policy of another namespace does not apply", P_NAMESPACE, PA, pa("foo", "default", "mtls: { mode: STRICT }"),
        Call.of(null), Expect.ALLOW, Map.of(), all));
    r.add(new Row("workload over namespace", P_PRECEDENCE, AUTHN, pa("default", "default", "mtls: { mode: STRICT }")
        + pa("default", "overwrite-example", "selector: { matchLabels: { app: payments } }\nmtls: { mode: DISABLE }"),
        Call.of(null), Expect.ALLOW, Map.of(), all));
    r.add(new Row("namespace over mesh", P_PRECEDENCE, AUTHN, pa("istio-system", "default", "mtls: { mode: STRICT }")
        + pa("default", "default", "mtls: { mode: PERMISSIVE }"), Call.of(null), Expect.ALLOW, Map.of(), all));
    r.add(new Row("UNSET inherits the mesh's STRICT", P_UNSET, PA, pa("istio-system", "default", "mtls: { mode: STRICT }")
        + pa("default", "default", "mtls: { mode: UNSET }"), Call.of(null), Expect.MTLS_REQUIRED, Map.of(), all));
    r.add(new Row("portLevelMtls leaves a port to plaintext", P_PORT, PA,
        pa(null, "payments", "selector: { matchLabels: { app: payments } }\nmtls: { mode: STRICT }\nportLevelMtls:\n  {{PORT}}:\n    mode: PERMISSIVE"),
        Call.of(null), Expect.ALLOW, Map.of(), all));
    r.add(new Row("portLevelMtls on another port leaves this one STRICT", P_PORT, PA,
        pa(null, "payments", "selector: { matchLabels: { app: payments } }\nmtls: { mode: STRICT }\nportLevelMtls:\n  1:\n    mode: PERMISSIVE"),
        Call.of(null), Expect.MTLS_REQUIRED, Map.of(), all));
    r.add(new Row("portLevelMtls under an UNSET workload mode", P_PORTINHERIT, PA, pa("default", "default", "mtls: { mode: PERMISSIVE }")
        + pa(null, "payments", "selector: { matchLabels: { app: payments } }\nmtls: { mode: UNSET }\nportLevelMtls:\n  {{PORT}}:\n    mode: STRICT"),
        Call.of(null), Expect.MTLS_REQUIRED, Map.of(), all));
    return List.copyOf(r);
  }
}
