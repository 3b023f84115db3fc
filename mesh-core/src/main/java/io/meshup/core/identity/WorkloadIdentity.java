package io.meshup.core.identity;

import java.net.URI;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A workload's SPIFFE ID, in one of two shapes: Consul Connect's
 * {@code spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>}, or Istio's and
 * SPIRE's {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}. Immutable;
 * thread-safe.
 *
 * <p>The trust domain is compared without case (it is a host name); the other parts are compared
 * exactly. {@link #service()} is the workload's name in either shape: Consul's service, or Istio's
 * service account. Clients check a server's {@link #trustDomain()} and {@link #service()}, never
 * its host name. AuthorizationPolicy {@code principals} name the identity as the certificate
 * carries it ({@link #principal()}).
 */
public final class WorkloadIdentity {
  /** The namespace used when none is given, as Consul OSS does. */
  public static final String DEFAULT_NAMESPACE = "default";
  /** The datacenter used when none is given, as Consul does. */
  public static final String DEFAULT_DATACENTER = "dc1";

  private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9]([a-z0-9.-]*[a-z0-9])?");
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._-]+");

  private final String trustDomain;
  private final String namespace;
  /** Null for the service-account shape. */
  private final String datacenter;
  private final String service;
  private final boolean serviceAccount;
  private final String principal;

  private WorkloadIdentity(String trustDomain, String namespace, String datacenter, String service,
      boolean serviceAccount) {
    this.trustDomain = trustDomain;
    this.namespace = namespace;
    this.datacenter = datacenter;
    this.service = service;
    this.serviceAccount = serviceAccount;
    this.principal = serviceAccount ? trustDomain + "/ns/" + namespace + "/sa/" + service
        : trustDomain + "/ns/" + namespace + "/dc/" + datacenter + "/svc/" + service;
  }

  /**
   * The identity of {@code service} in the given trust domain, namespace and datacenter.
   *
   * @throws IllegalArgumentException naming the part that is malformed
   */
  public static WorkloadIdentity of(String trustDomain, String namespace, String datacenter, String service) {
    return new WorkloadIdentity(trustDomain(trustDomain), segment("namespace", namespace),
        segment("datacenter", datacenter), segment("service", service), false);
  }

  /**
   * The identity of service account {@code serviceAccount} in the given trust domain and namespace,
   * in Istio's and SPIRE's shape {@code spiffe://<td>/ns/<namespace>/sa/<service-account>}.
   *
   * @throws IllegalArgumentException naming the part that is malformed
   */
  public static WorkloadIdentity serviceAccount(String trustDomain, String namespace, String serviceAccount) {
    return new WorkloadIdentity(trustDomain(trustDomain), segment("namespace", namespace), null,
        segment("service account", serviceAccount), true);
  }

  private static String trustDomain(String trustDomain) {
    Objects.requireNonNull(trustDomain, "trustDomain");
    String td = trustDomain.toLowerCase(Locale.ROOT);
    if (td.length() > 255 || !TRUST_DOMAIN.matcher(td).matches()) {
      throw new IllegalArgumentException("trust domain '" + trustDomain
          + "' is invalid; expected a DNS-style name of letters, digits, '.' and '-', such as 'example.org'");
    }
    return td;
  }

  /** The identity of {@code service} in the default namespace and datacenter. */
  public static WorkloadIdentity of(String trustDomain, String service) {
    return of(trustDomain, DEFAULT_NAMESPACE, DEFAULT_DATACENTER, service);
  }

  private static String segment(String what, String value) {
    Objects.requireNonNull(value, what);
    if (!SEGMENT.matcher(value).matches()) {
      throw new IllegalArgumentException(what + " '" + value
          + "' is invalid; expected letters, digits, '.', '_' and '-' only");
    }
    return value;
  }

  /** The longest SPIFFE ID accepted, in bytes (the SPIFFE-ID specification's bound). */
  static final int MAX_ID_LENGTH = 2048;
  /** The longest trust domain accepted. */
  static final int MAX_TRUST_DOMAIN_LENGTH = 255;

  /**
   * Parses a SPIFFE ID of either workload shape (Consul's {@code /ns/<ns>/dc/<dc>/svc/<svc>},
   * Istio's {@code /ns/<ns>/sa/<sa>}), checking the SPIFFE-ID specification's syntax
   * first: the scheme is {@code spiffe} in lower case; the trust domain is lower-case letters,
   * digits, {@code .}, {@code -} and {@code _}, with no port or user info; the path is segments of
   * letters, digits, {@code .}, {@code -} and {@code _}, none empty, {@code .} or {@code ..}, with no
   * percent-encoding, query or fragment; the whole is at most 2048 bytes.
   *
   * @throws IllegalArgumentException saying what is wrong and showing the expected form
   */
  public static WorkloadIdentity parse(String spiffeId) {
    Objects.requireNonNull(spiffeId, "spiffeId");
    if (spiffeId.length() > MAX_ID_LENGTH) {
      throw invalid(spiffeId, "it is longer than " + MAX_ID_LENGTH + " bytes");
    }
    if (!spiffeId.startsWith("spiffe://")) {
      throw invalid(spiffeId, spiffeId.regionMatches(true, 0, "spiffe://", 0, 9)
          ? "the scheme must be spiffe, in lower case" : "the scheme must be spiffe");
    }
    int tdEnd = spiffeId.indexOf('/', 9);
    String td = spiffeId.substring(9, tdEnd < 0 ? spiffeId.length() : tdEnd);
    if (td.isEmpty()) {
      throw invalid(spiffeId, "the trust domain is missing");
    }
    if (td.length() > MAX_TRUST_DOMAIN_LENGTH) {
      throw invalid(spiffeId, "the trust domain is longer than " + MAX_TRUST_DOMAIN_LENGTH + " characters");
    }
    for (int i = 0; i < td.length(); i++) {
      char c = td.charAt(i);
      if (c == ':' || c == '@') {
        throw invalid(spiffeId, "a SPIFFE ID has no port or user info");
      }
      if (c >= 'A' && c <= 'Z') {
        throw invalid(spiffeId, "the trust domain must be in lower case");
      }
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
        throw invalid(spiffeId, c == '?' || c == '#' ? "a SPIFFE ID has no query or fragment"
            : "the trust domain may hold only lower-case letters, digits, '.', '-' and '_'");
      }
    }
    if (tdEnd < 0) {
      throw invalid(spiffeId, "it names a trust domain, not a workload (no path)");
    }
    String[] parts = spiffeId.substring(tdEnd).split("/", -1);
    // "", then the segments
    for (int i = 1; i < parts.length; i++) {
      String seg = parts[i];
      if (seg.isEmpty()) {
        throw invalid(spiffeId, "the path has an empty segment (or a trailing '/')");
      }
      if (seg.equals(".") || seg.equals("..")) {
        throw invalid(spiffeId, "the path has a '" + seg + "' segment");
      }
      for (int j = 0; j < seg.length(); j++) {
        char c = seg.charAt(j);
        if (c == '%') {
          throw invalid(spiffeId, "the path has a percent-encoding");
        }
        if (c == '?' || c == '#') {
          throw invalid(spiffeId, "a SPIFFE ID has no query or fragment");
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'
            || c == '_')) {
          throw invalid(spiffeId, "the path may hold only letters, digits, '.', '-' and '_'");
        }
      }
    }
    // "", "ns", ns, "dc", dc, "svc", svc  or  "", "ns", ns, "sa", sa
    boolean consul = parts.length == 7 && parts[1].equals("ns") && parts[3].equals("dc") && parts[5].equals("svc");
    boolean istio = parts.length == 5 && parts[1].equals("ns") && parts[3].equals("sa");
    if (!consul && !istio) {
      throw invalid(spiffeId, "the path must be /ns/<namespace>/dc/<datacenter>/svc/<service> or /ns/<namespace>/sa/<service-account>");
    }
    try {
      return consul ? of(td, parts[2], parts[4], parts[6]) : serviceAccount(td, parts[2], parts[4]);
    } catch (IllegalArgumentException e) {
      throw invalid(spiffeId, e.getMessage());
    }
  }

  private static String quote(String s) {
    return s.length() <= 80 ? "'" + s + "'" : "'" + s.substring(0, 80) + "...' (" + s.length() + " characters)";
  }

  private static IllegalArgumentException invalid(String id, String why) {
    return new IllegalArgumentException(quote(id) + " is not a workload SPIFFE ID: " + why
        + "; expected spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>"
        + " or spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>");
  }

  /** The trust domain, lower case, such as {@code 11111111-2222-3333-4444-555555555555.consul}. */
  public String trustDomain() {
    return trustDomain;
  }

  /** The namespace ({@code default} in Consul OSS). */
  public String namespace() {
    return namespace;
  }

  /** The datacenter of Consul's shape; null for the service-account shape. */
  public String datacenter() {
    return datacenter;
  }

  /** The workload's name: the service of Consul's shape, the service account of Istio's. */
  public String service() {
    return service;
  }

  /** Whether this is Istio's and SPIRE's shape, {@code .../ns/<namespace>/sa/<service-account>}. */
  public boolean isServiceAccount() {
    return serviceAccount;
  }

  /** The service account of Istio's shape; null for Consul's shape. */
  public String serviceAccount() {
    return serviceAccount ? service : null;
  }

  /** Whether this identity is {@code service} in {@code trustDomain}, whatever its namespace and datacenter. */
  public boolean isService(String trustDomain, String service) {
    return this.trustDomain.equalsIgnoreCase(trustDomain) && this.service.equals(service);
  }

  /**
   * The SPIFFE ID without its scheme, {@code <trust-domain>/ns/<ns>/dc/<dc>/svc/<service>} or
   * {@code <trust-domain>/ns/<ns>/sa/<service-account>}, as AuthorizationPolicy {@code principals}
   * name it. Computed once; never allocates.
   */
  public String principal() {
    return principal;
  }

  /** The SPIFFE ID as a URI. */
  public URI toUri() {
    return URI.create(toString());
  }

  /** The SPIFFE ID, {@code spiffe://} and {@link #principal()}. */
  @Override
  public String toString() {
    return "spiffe://" + principal;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof WorkloadIdentity w && w.principal.equals(principal);
  }

  @Override
  public int hashCode() {
    return principal.hashCode();
  }
}
