package io.meshup.core.internal.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The security parts of the {@code mesh:} section besides TLS: {@code mesh.labels} (the labels
 * policies' {@code selector}s match, with {@code app: <service>} always among them) and, under
 * {@code mesh.security}, Istio's {@code trustDomainAliases}, the {@code rootNamespace} whose
 * documents apply mesh-wide, and the {@code extensionProviders} that CUSTOM AuthorizationPolicies
 * name; and {@code mesh.namespace}, the workload's namespace (short names in policies, exportTo and
 * DestinationRule precedence read it).
 */
public record SecuritySettings(Map<String, String> labels, List<String> trustDomainAliases, String rootNamespace,
    List<ExtensionProvider> extensionProviders, String namespace) {
  /** Nothing set. */
  public static final SecuritySettings DEFAULT = new SecuritySettings(Map.of(), List.of(), "istio-system", List.of());

  /** Settings without {@code mesh.namespace} (the workload's namespace comes from its identity, else {@code default}). */
  public SecuritySettings(Map<String, String> labels, List<String> trustDomainAliases, String rootNamespace,
      List<ExtensionProvider> extensionProviders) {
    this(labels, trustDomainAliases, rootNamespace, extensionProviders, null);
  }

  /** Istio's default timeout of an external authorization check (MeshConfig {@code envoyExtAuthzGrpc.timeout}). */
  public static final Duration DEFAULT_EXT_AUTHZ_TIMEOUT = Duration.ofSeconds(600);

  /**
   * One {@code mesh.security.extensionProviders} entry.
   *
   * @param type the provider's kind, such as {@code envoyExtAuthzGrpc}
   * @param section the {@code <type>} section, for the provider
   */
  public record ExtensionProvider(String name, String type, ConfigNode section, Duration timeout, boolean failOpen,
      int statusOnError) {}

  public SecuritySettings {
    labels = Map.copyOf(labels);
    trustDomainAliases = List.copyOf(trustDomainAliases);
    extensionProviders = List.copyOf(extensionProviders);
  }

  static SecuritySettings parse(ConfigNode labelsNode, ConfigNode security, String service, ConfigNode namespaceNode) {
    String namespace = namespaceNode.isNull() ? null : namespaceNode.nonEmpty().trim();
    Map<String, String> labels = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : labelsNode.entries().entrySet()) {
      String v = e.getValue().string();
      if (e.getKey().equals("app") && !v.equals(service)) {
        throw e.getValue().error("label app is this service's name, " + ConfigNode.quote(service)
            + "; policies select the service by it. Remove it or set it to the service name");
      }
      labels.put(e.getKey(), v);
    }
    List<String> aliases = new java.util.ArrayList<>();
    for (ConfigNode a : security.get("trustDomainAliases").items()) {
      String td = a.nonEmpty().trim().toLowerCase(java.util.Locale.ROOT);
      try {
        io.meshup.core.identity.WorkloadIdentity.of(td, "x");
      } catch (IllegalArgumentException ex) {
        throw a.error(ex.getMessage());
      }
      aliases.add(td);
    }
    String root = security.has("rootNamespace") ? security.get("rootNamespace").nonEmpty().trim() : DEFAULT.rootNamespace();
    List<ExtensionProvider> providers = new java.util.ArrayList<>();
    java.util.Set<String> names = new java.util.HashSet<>();
    for (ConfigNode p : security.get("extensionProviders").items()) {
      String name = p.required("name").nonEmpty().trim();
      if (!names.add(name)) {
        throw p.get("name").error("extension provider " + ConfigNode.quote(name) + " is defined twice");
      }
      java.util.List<String> types = p.entries().keySet().stream().filter(k -> !k.equals("name")).toList();
      if (types.size() != 1) {
        throw p.error("must hold its name and exactly one provider, such as envoyExtAuthzGrpc; found " + types);
      }
      String type = types.get(0);
      ConfigNode section = p.get(type);
      switch (type) {
        case "envoyExtAuthzGrpc":
          break;
        case "envoyExtAuthzHttp":
          throw section.error("is not supported by MeshUp: it speaks Envoy's ext_authz over gRPC only"
              + " (envoy.service.auth.v3.Authorization/Check, which OPA's Envoy plugin serves); use envoyExtAuthzGrpc");
        default:
          throw section.error(ConfigNode.quote(type) + " is not an authorization provider MeshUp can use; expected envoyExtAuthzGrpc");
      }
      section.unsupported("includeRequestBodyInCheck", "the request body is not buffered for the check; headers are sent")
          .unsupported("clearRouteCache", "there is no route cache in-process");
      Duration timeout = section.get("timeout").positiveDuration(DEFAULT_EXT_AUTHZ_TIMEOUT);
      boolean failOpen = section.get("failOpen").bool(false);
      int status = 403;
      if (section.has("statusOnError")) {
        String s = section.get("statusOnError").string().trim();
        try {
          status = Integer.parseInt(s);
        } catch (NumberFormatException e) {
          status = -1;
        }
        if (status < 400 || status > 599) {
          throw section.get("statusOnError").error(ConfigNode.quote(s) + " is not an HTTP error status (400..599)");
        }
      }
      providers.add(new ExtensionProvider(name, type, section, timeout, failOpen, status));
    }
    return new SecuritySettings(labels, aliases, root, providers, namespace);
  }
}
