package io.meshup.core.internal.config;

import io.meshup.core.Endpoint;
import io.meshup.core.MeshConfigException;
import io.meshup.core.PathNormalization;
import io.meshup.core.internal.policy.PolicyParser;
import io.meshup.core.internal.routing.Defaults;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The {@code mesh:} section of an application YAML, read and checked whole. Keys beside
 * {@code mesh:} belong to the application and are left alone.
 *
 * @param service this service's name
 * @param registryType {@code static} (or another registry's type)
 * @param staticServices endpoints of the static registry
 * @param inlinePolicies the {@code policies:} documents
 * @param policyFiles the documents of each file under {@code policy.files}, by file name
 * @param defaults mesh-wide defaults
 * @param registrySettings the {@code mesh.registry.<type>} section of a plug-in registry (NULL node for static)
 * @param policyOrder source names in precedence order, lowest first, from {@code mesh.policy.order}
 * @param tls the {@code mesh.tls} section; {@link TlsSettings#NONE} when absent
 * @param pathNormalization {@code mesh.security.pathNormalization}; BASE when absent
 * @param security {@code mesh.labels} and the rest of {@code mesh.security}
 * @param admin {@code mesh.admin}; {@link AdminSettings#NONE} when absent
 */
public record MeshSettings(String service, String registryType, Map<String, List<Endpoint>> staticServices,
    List<ConfigNode> inlinePolicies, Map<String, List<ConfigNode>> policyFiles, Defaults defaults,
    ConfigNode registrySettings, List<String> policyOrder, TlsSettings tls, PathNormalization pathNormalization,
    SecuritySettings security, AdminSettings admin) {

  /** Settings without an admin endpoint. */
  public MeshSettings(String service, String registryType, Map<String, List<Endpoint>> staticServices,
      List<ConfigNode> inlinePolicies, Map<String, List<ConfigNode>> policyFiles, Defaults defaults,
      ConfigNode registrySettings, List<String> policyOrder, TlsSettings tls, PathNormalization pathNormalization,
      SecuritySettings security) {
    this(service, registryType, staticServices, inlinePolicies, policyFiles, defaults, registrySettings, policyOrder,
        tls, pathNormalization, security, AdminSettings.NONE);
  }

  /** Settings with no security settings beyond path normalization. */
  public MeshSettings(String service, String registryType, Map<String, List<Endpoint>> staticServices,
      List<ConfigNode> inlinePolicies, Map<String, List<ConfigNode>> policyFiles, Defaults defaults,
      ConfigNode registrySettings, List<String> policyOrder, TlsSettings tls, PathNormalization pathNormalization) {
    this(service, registryType, staticServices, inlinePolicies, policyFiles, defaults, registrySettings, policyOrder,
        tls, pathNormalization, SecuritySettings.DEFAULT);
  }

  /** Settings with the default path normalization. */
  public MeshSettings(String service, String registryType, Map<String, List<Endpoint>> staticServices,
      List<ConfigNode> inlinePolicies, Map<String, List<ConfigNode>> policyFiles, Defaults defaults,
      ConfigNode registrySettings, List<String> policyOrder, TlsSettings tls) {
    this(service, registryType, staticServices, inlinePolicies, policyFiles, defaults, registrySettings, policyOrder,
        tls, PathNormalization.BASE);
  }

  /** Settings without TLS. */
  public MeshSettings(String service, String registryType, Map<String, List<Endpoint>> staticServices,
      List<ConfigNode> inlinePolicies, Map<String, List<ConfigNode>> policyFiles, Defaults defaults,
      ConfigNode registrySettings, List<String> policyOrder) {
    this(service, registryType, staticServices, inlinePolicies, policyFiles, defaults, registrySettings, policyOrder,
        TlsSettings.NONE);
  }

  /** Reads a bootstrap file; relative policy file paths resolve against its folder. */
  public static MeshSettings read(Path file, Function<String, String> env) {
    String text = new YamlReader(env).readFile(file.toString(), file);
    Path dir = file.toAbsolutePath().getParent();
    return parse(file.toString(), text, env, dir);
  }

  /** Reads bootstrap YAML text; {@code source} names it in errors. */
  public static MeshSettings parse(String source, String text, Function<String, String> env, Path baseDir) {
    return parse(source, new YamlReader(env).read(source, text), env, baseDir);
  }

  /**
   * Reads a tree holding the {@code mesh:} section, parsed from YAML or built by a framework
   * ({@link ConfigNode#bound}); {@code source} names it in errors, {@code env} serves the
   * {@code ${VAR}} of the policy files it names, relative paths resolve against {@code baseDir}
   * (the working directory when null).
   */
  public static MeshSettings parse(String source, ConfigNode root, Function<String, String> env, Path baseDir) {
    YamlReader yaml = new YamlReader(env);
    if (root.isNull()) {
      throw new MeshConfigException(source, "", "is empty; expected a 'mesh:' section");
    }
    ConfigNode mesh = root.required("mesh").keys("service", "registry", "policy", "policies", "defaults", "tls", "security",
        "labels", "namespace", "admin");
    String service = mesh.required("service").nonEmpty();

    ConfigNode reg = mesh.get("registry");
    String type = "static";
    Map<String, List<Endpoint>> statics = new LinkedHashMap<>();
    ConfigNode registrySettings = reg.get("static");
    if (!reg.isNull()) {
      type = reg.get("type").string("static").trim();
      reg.keys("type", "static", type);
      registrySettings = reg.get(type);
      if (!type.equals("static") && reg.has("static")) {
        throw reg.get("static").error("static endpoints are only read when type is static (type is '" + type + "')");
      }
      ConfigNode services = type.equals("static") && reg.has("static")
          ? reg.get("static").keys("services").get("services") : reg.get("static");
      for (Map.Entry<String, ConfigNode> e : services.entries().entrySet()) {
        List<Endpoint> eps = new ArrayList<>();
        for (ConfigNode ep : e.getValue().items()) {
          eps.add(endpoint(ep));
        }
        statics.put(e.getKey(), List.copyOf(eps));
      }
    }

    List<ConfigNode> inline = new ArrayList<>();
    for (ConfigNode doc : mesh.get("policies").items()) {
      // the document's own source: the file's for parsed YAML, the origin a framework recorded for a bound tree
      inline.add(doc.rebase(doc.source() + " " + doc.path(), ""));
    }

    Map<String, List<ConfigNode>> files = new LinkedHashMap<>();
    ConfigNode policy = mesh.get("policy");
    List<String> order = new ArrayList<>();
    if (!policy.isNull()) {
      policy.keys("files", "order");
      for (ConfigNode o : policy.get("order").items()) {
        order.add(o.nonEmpty());
      }
      for (ConfigNode f : policy.get("files").items()) {
        Path p = baseDir == null ? Path.of(f.nonEmpty()) : baseDir.resolve(f.nonEmpty());
        if (!Files.isRegularFile(p)) {
          throw f.error("cannot read policy file " + p + ": it does not exist or is not a file");
        }
        files.put(f.string(), yaml.readAll(f.string(), yaml.readFile(f.string(), p)));
      }
    }

    return new MeshSettings(service, type, statics, inline, files, defaults(mesh.get("defaults")),
        registrySettings, List.copyOf(order), TlsSettings.parse(mesh.get("tls"), service, baseDir),
        pathNormalization(mesh.get("security")), SecuritySettings.parse(mesh.get("labels"), mesh.get("security"), service,
            mesh.get("namespace")),
        AdminSettings.parse(mesh.get("admin")));
  }

  /** {@code mesh.security}: {@code pathNormalization}, one of Istio's options; BASE by default. */
  private static PathNormalization pathNormalization(ConfigNode security) {
    if (security.isNull()) {
      return PathNormalization.BASE;
    }
    security.keys("pathNormalization", "trustDomainAliases", "rootNamespace", "extensionProviders");
    if (!security.has("pathNormalization")) {
      return PathNormalization.BASE;
    }
    return PathNormalization.valueOf(security.get("pathNormalization")
        .oneOf("NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"));
  }

  private static Endpoint endpoint(ConfigNode ep) {
    ep.keys("id", "address", "host", "port", "labels", "weight");
    if (ep.has("address") == ep.has("host")) {
      throw ep.error("set exactly one of address or host");
    }
    String host = (ep.has("address") ? ep.get("address") : ep.get("host")).nonEmpty();
    int port = (int) ep.required("port").integer(1, 65535);
    Map<String, String> labels = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> l : ep.get("labels").entries().entrySet()) {
      labels.put(l.getKey(), l.getValue().string());
    }
    int weight = (int) ep.get("weight").integer(1, 1_000_000, 1);
    return new Endpoint(ep.get("id").string(null), host, port, labels, weight);
  }

  private static Defaults defaults(ConfigNode d) {
    if (d.isNull()) {
      return Defaults.BUILT_IN;
    }
    d.keys("timeout", "retryBudget", "loadBalancer", "connectionPool", "outlierDetection", "circuitBreaker",
        "headersTimeout", "idleTimeout", "discoveryTimeout", "emptyEndpointsGrace");
    Duration timeout = d.get("timeout").duration(Duration.ZERO);
    if (timeout.isNegative()) {
      throw d.get("timeout").error("must not be negative");
    }
    ConfigNode rb = d.get("retryBudget");
    Defaults b = Defaults.BUILT_IN;
    Duration ttl = b.retryBudgetTtl();
    double pct = b.retryBudgetPercent();
    double min = b.retryBudgetMinPerSecond();
    if (!rb.isNull()) {
      rb.keys("ttl", "percentCanRetry", "minRetriesPerSecond");
      ttl = rb.get("ttl").positiveDuration(ttl);
      pct = rb.get("percentCanRetry").decimal(0, 100, pct * 100) / 100;
      min = rb.get("minRetriesPerSecond").decimal(0, 1_000_000, min);
    }
    Duration headers = d.get("headersTimeout").duration(b.headersTimeout());
    if (headers.isNegative()) {
      throw d.get("headersTimeout").error("must not be negative");
    }
    Duration idle = d.get("idleTimeout").duration(b.idleTimeout());
    if (idle.isNegative()) {
      throw d.get("idleTimeout").error("must not be negative");
    }
    Duration discovery = d.get("discoveryTimeout").duration(b.discoveryTimeout());
    if (discovery.isNegative()) {
      throw d.get("discoveryTimeout").error("must not be negative");
    }
    Duration grace = d.get("emptyEndpointsGrace").duration(b.emptyEndpointsGrace());
    if (grace.isNegative()) {
      throw d.get("emptyEndpointsGrace").error("must not be negative");
    }
    return new Defaults(new PolicyParser().trafficPolicy(d.without("timeout", "retryBudget", "headersTimeout", "idleTimeout",
        "discoveryTimeout", "emptyEndpointsGrace")), timeout, ttl, pct, min, headers, idle, discovery, grace);
  }
}
