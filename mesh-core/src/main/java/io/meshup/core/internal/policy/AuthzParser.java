package io.meshup.core.internal.policy;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.AuthzAction;
import io.meshup.core.internal.policy.PolicyModel.AuthzOperation;
import io.meshup.core.internal.policy.PolicyModel.AuthzRule;
import io.meshup.core.internal.policy.PolicyModel.AuthzSource;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads Istio's {@code security.istio.io} documents, AuthorizationPolicy and PeerAuthentication.
 * Fields MeshUp cannot honour in-process are rejected by name. Stateless.
 */
final class AuthzParser {
  private AuthzParser() {}

  static AuthorizationPolicy authorizationPolicy(String name, String origin, ConfigNode spec) {
    spec.unsupported("provider", "CUSTOM actions with external authorizers are not implemented")
        .unsupported("targetRef", "MeshUp applies policies to this service's servers; select it with selector.matchLabels.app")
        .unsupported("targetRefs", "MeshUp applies policies to this service's servers; select it with selector.matchLabels.app")
        .keys("selector", "action", "rules");
    AuthzAction action = AuthzAction.ALLOW;
    if (spec.has("action")) {
      String a = spec.get("action").string().trim();
      switch (a) {
        case "ALLOW":
          break;
        case "DENY":
          action = AuthzAction.DENY;
          break;
        case "AUDIT":
          throw spec.get("action").error("'AUDIT' is not supported by MeshUp: audit logging of requests is not implemented; expected ALLOW or DENY");
        case "CUSTOM":
          throw spec.get("action").error("'CUSTOM' is not supported by MeshUp: external authorizers are not implemented; expected ALLOW or DENY");
        default:
          throw spec.get("action").error(ConfigNode.quote(a) + " is not one of [ALLOW, DENY]");
      }
    }
    String app = selector(spec.get("selector"));
    List<AuthzRule> rules = new ArrayList<>();
    for (ConfigNode r : spec.get("rules").items()) {
      rules.add(rule(r));
    }
    return new AuthorizationPolicy(name, origin, action, app, List.copyOf(rules));
  }

  /** The service a {@code selector} names, or null when there is none. */
  private static String selector(ConfigNode sel) {
    if (sel.isNull()) {
      return null;
    }
    ConfigNode labels = sel.keys("matchLabels").required("matchLabels");
    Map<String, ConfigNode> entries = labels.entries();
    for (Map.Entry<String, ConfigNode> e : entries.entrySet()) {
      if (!e.getKey().equals("app")) {
        throw e.getValue().error("label " + ConfigNode.quote(e.getKey()) + " is not supported by MeshUp: a policy selects a service by its name only,"
            + " with matchLabels: { app: <service> }");
      }
    }
    return labels.required("app").nonEmpty().trim();
  }

  private static AuthzRule rule(ConfigNode r) {
    r.unsupported("when", "conditions (request headers, JWT claims, IP addresses) are not implemented; use from and to")
        .keys("from", "to");
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
    return new AuthzRule(List.copyOf(from), List.copyOf(to));
  }

  private static AuthzSource source(ConfigNode s) {
    String ip = "the caller's IP address is not used for authorization; use principals or namespaces";
    String jwt = "request (JWT) authentication is not implemented; use principals";
    s.unsupported("ipBlocks", ip).unsupported("notIpBlocks", ip)
        .unsupported("remoteIpBlocks", ip).unsupported("notRemoteIpBlocks", ip)
        .unsupported("requestPrincipals", jwt).unsupported("notRequestPrincipals", jwt)
        .unsupported("serviceAccounts", "Kubernetes service accounts do not exist here; use principals")
        .unsupported("notServiceAccounts", "Kubernetes service accounts do not exist here; use notPrincipals")
        .keys("principals", "notPrincipals", "namespaces", "notNamespaces");
    AuthzSource src = new AuthzSource(principals(s.get("principals")), principals(s.get("notPrincipals")),
        values(s.get("namespaces")), values(s.get("notNamespaces")));
    if (src.principals().isEmpty() && src.notPrincipals().isEmpty() && src.namespaces().isEmpty()
        && src.notNamespaces().isEmpty()) {
      throw s.error("must set at least one of principals, notPrincipals, namespaces or notNamespaces");
    }
    return src;
  }

  private static AuthzOperation operation(ConfigNode o) {
    String hostPort = "the request's host and port are not used for authorization; use paths and methods";
    o.unsupported("hosts", hostPort).unsupported("notHosts", hostPort)
        .unsupported("ports", hostPort).unsupported("notPorts", hostPort)
        .keys("paths", "notPaths", "methods", "notMethods");
    AuthzOperation op = new AuthzOperation(values(o.get("paths")), values(o.get("notPaths")),
        values(o.get("methods")), values(o.get("notMethods")));
    if (op.paths().isEmpty() && op.notPaths().isEmpty() && op.methods().isEmpty() && op.notMethods().isEmpty()) {
      throw o.error("must set at least one of paths, notPaths, methods or notMethods");
    }
    return op;
  }

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

  /** Principals: SPIFFE IDs without the scheme, checked when they hold no wildcard. */
  private static List<String> principals(ConfigNode list) {
    List<String> out = values(list);
    List<ConfigNode> items = list.items();
    for (int i = 0; i < out.size(); i++) {
      String p = out.get(i);
      String expected = "; MeshUp principals are SPIFFE IDs without the scheme,"
          + " <trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>, such as example.org/ns/default/dc/dc1/svc/checkout";
      if (p.startsWith("spiffe://")) {
        throw items.get(i).error(ConfigNode.quote(p) + " starts with spiffe://; write principals without the scheme" + expected);
      }
      if (p.contains("/sa/")) {
        throw items.get(i).error(ConfigNode.quote(p) + " is a Kubernetes service-account principal" + expected);
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

  static PeerAuthentication peerAuthentication(String name, String origin, ConfigNode spec) {
    spec.unsupported("selector", "a PeerAuthentication applies to this service's servers; select nothing")
        .unsupported("portLevelMtls", "per-port modes are not implemented; set one mode for the service")
        .keys("mtls");
    MtlsMode mode = null;
    if (spec.has("mtls")) {
      ConfigNode mtls = spec.get("mtls").keys("mode");
      if (mtls.has("mode")) {
        switch (mtls.get("mode").oneOf("UNSET", "PERMISSIVE", "STRICT", "DISABLE")) {
          case "STRICT":
            mode = MtlsMode.STRICT;
            break;
          case "PERMISSIVE":
            mode = MtlsMode.PERMISSIVE;
            break;
          case "DISABLE":
            mode = MtlsMode.DISABLE;
            break;
          default:
            break;
        }
      }
    }
    return new PeerAuthentication(name, origin, mode);
  }
}
