package io.meshup.core.internal.policy;

import java.util.Locale;

/**
 * Istio's host names as MeshUp reads them. A policy document's short name (no dot) means a
 * Kubernetes service in the document's namespace ({@code reviews} in namespace {@code prod} is
 * {@code reviews.prod.svc.cluster.local}); a name with a dot is taken as it is (a fully qualified
 * name, or a host outside the cluster such as {@code dev.reviews.com}); {@code *} and
 * {@code *.suffix} are wildcards.
 *
 * <p>Registry names map to hosts as Kubernetes DNS resolves them from this workload's namespace: a
 * registry (static or Consul) service {@code reviews} is {@code reviews.<namespace>.svc.cluster.local},
 * a registry service {@code reviews.staging} is {@code reviews.staging.svc.cluster.local}, and any
 * other name is a host of its own. Immutable and thread-safe.
 */
public final class Hosts {
  /** The cluster's DNS suffix of services. */
  public static final String CLUSTER_SUFFIX = ".svc.cluster.local";

  private final String namespace;

  /** Hosts as seen from a workload in {@code namespace}. */
  public Hosts(String namespace) {
    this.namespace = namespace;
  }

  /** This workload's namespace. */
  public String namespace() {
    return namespace;
  }

  /** A document's host in full: a short name resolved in {@code docNamespace} (null: this workload's). */
  public String fqdn(String host, String docNamespace) {
    String h = host.trim().toLowerCase(Locale.ROOT);
    if (h.equals("*") || h.indexOf('.') >= 0) {
      return h;
    }
    return h + "." + (docNamespace == null ? namespace : docNamespace) + CLUSTER_SUFFIX;
  }

  /**
   * The host a client's destination name means: a short name ({@code reviews}) is a service of
   * this workload's namespace; any other name is taken as it is ({@code reviews.staging.svc.cluster.local},
   * {@code dev.reviews.com}).
   */
  public String clientHost(String name) {
    String h = name.trim().toLowerCase(Locale.ROOT);
    return h.indexOf('.') < 0 ? h + "." + namespace + CLUSTER_SUFFIX : h;
  }

  /** The registry's name of a host: {@code reviews} for a service of this namespace, {@code reviews.prod} of another, else the host. */
  public String registryName(String fqdn) {
    if (fqdn.endsWith(CLUSTER_SUFFIX)) {
      String nameNs = fqdn.substring(0, fqdn.length() - CLUSTER_SUFFIX.length());
      int dot = nameNs.indexOf('.');
      if (dot > 0 && nameNs.indexOf('.', dot + 1) < 0) {
        String ns = nameNs.substring(dot + 1);
        return ns.equals(namespace) ? nameNs.substring(0, dot) : nameNs;
      }
    }
    return fqdn;
  }

  /** The namespace of a cluster service's host, or null for a host outside the cluster. */
  public static String namespaceOf(String fqdn) {
    if (!fqdn.endsWith(CLUSTER_SUFFIX)) {
      return null;
    }
    String nameNs = fqdn.substring(0, fqdn.length() - CLUSTER_SUFFIX.length());
    int dot = nameNs.indexOf('.');
    return dot > 0 && nameNs.indexOf('.', dot + 1) < 0 ? nameNs.substring(dot + 1) : null;
  }

  /**
   * The service name a server of this host presents in its SPIFFE ID: the first label of a
   * cluster service ({@code reviews} for {@code reviews.prod.svc.cluster.local}), else the host.
   */
  public static String identityName(String fqdn) {
    if (namespaceOf(fqdn) != null) {
      return fqdn.substring(0, fqdn.indexOf('.'));
    }
    return fqdn;
  }

  /** True for {@code *} and {@code *.suffix}. */
  public static boolean isWildcard(String host) {
    return host.startsWith("*");
  }

  /**
   * Whether wildcard or exact {@code pattern} covers {@code host}: {@code *} covers every host,
   * {@code *.example.com} every host ending in {@code .example.com}.
   */
  public static boolean covers(String pattern, String host) {
    if (pattern.equals("*")) {
      return true;
    }
    if (pattern.startsWith("*")) {
      String suffix = pattern.substring(1); // ".example.com"
      return host.endsWith(suffix) && host.length() > suffix.length();
    }
    return pattern.equals(host);
  }

  /** How specific a matching pattern is: exact hosts beat wildcards, longer wildcards beat shorter. */
  public static int specificity(String pattern) {
    return isWildcard(pattern) ? pattern.length() - 1 : Integer.MAX_VALUE;
  }
}
