package io.meshup.core.internal.tls;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.SpiffeCertificates;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies a peer the SPIFFE way, per the X509-SVID specification, against the certificate
 * source's current credentials at every handshake: the chain must verify (PKIX, at the mesh
 * clock's wall time, no revocation) to a root of the current trust bundle; the leaf must be a leaf
 * (basic constraints {@code cA} false) whose key usage sets {@code digitalSignature} and neither
 * {@code keyCertSign} nor {@code cRLSign}; it must carry exactly one URI SAN, a SPIFFE ID of valid
 * syntax (lower-case {@code spiffe} scheme and trust domain, no empty, {@code .} or {@code ..}
 * segment, no percent-encoding, query, fragment, port or user info) of a workload shape (Consul's
 * {@code /ns/<ns>/dc/<dc>/svc/<svc>} or Istio's {@code /ns/<ns>/sa/<sa>}), of this workload's trust
 * domain (on a server, or one of its aliases, as Istio's {@code trustDomainAliases} have it); and,
 * on a client, it must name the destination service. Host
 * names are never checked. Each rejection counts in {@code mesh.tls.rejections{side, reason}}.
 * Thread-safe.
 */
public final class MeshTrustManager extends X509ExtendedTrustManager {
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

  private final CertificateSource source;
  private final MeshClock clock;
  private final String expectedService;
  private final java.util.Set<String> trustDomainAliases;
  private final Map<Reason, Counter> rejections = new EnumMap<>(Reason.class);

  /** Why a peer was refused; the {@code reason} tag of {@code mesh.tls.rejections}. */
  enum Reason {
    NO_CERTIFICATE,
    UNTRUSTED,
    EXPIRED,
    /** The leaf is a CA certificate (basic constraints cA true). */
    NOT_LEAF,
    /** The leaf's key usage is missing, lacks digitalSignature, or sets keyCertSign or cRLSign. */
    KEY_USAGE,
    NOT_FOR_ROLE,
    NO_SPIFFE_ID,
    /** More than one URI SAN. */
    MULTIPLE_URI_SANS,
    /** A URI SAN that is not a valid SPIFFE ID of the workload form. */
    INVALID_SPIFFE_ID,
    TRUST_DOMAIN,
    WRONG_SERVICE;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * @param expectedService on a client, the destination service the server must be; null on a
   *     server, which accepts any service of its trust domain
   */
  public MeshTrustManager(CertificateSource source, MeshClock clock, String expectedService, MeterRegistry meters) {
    this(source, clock, expectedService, java.util.Set.of(), meters);
  }

  /**
   * As above, also accepting peers of the trust domains {@code trustDomainAliases} (lower case), as
   * Istio's {@code meshConfig.trustDomainAliases} do during a trust-domain migration.
   */
  public MeshTrustManager(CertificateSource source, MeshClock clock, String expectedService,
      java.util.Set<String> trustDomainAliases, MeterRegistry meters) {
    this.source = source;
    this.clock = clock;
    this.expectedService = expectedService;
    this.trustDomainAliases = java.util.Set.copyOf(trustDomainAliases);
    for (Reason r : Reason.values()) {
      rejections.put(r, counter(meters, expectedService == null ? "server" : "client", r));
    }
  }

  private static Counter counter(MeterRegistry meters, String side, Reason r) {
    return Counter.builder(REJECTIONS)
        .description("TLS peers refused during the handshake, by why")
        .baseUnit("handshakes")
        .tag("side", side)
        .tag("reason", r.tag())
        .register(meters);
  }

  /** The meter of refused TLS peers: tags side (client, server), reason. */
  public static final String REJECTIONS = Metrics.TLS_REJECTIONS;

  /**
   * Counts a TLS client refused because it completed its handshake without a certificate: servers
   * let the handshake finish without one (so that this is seen and counted at all; the JDK and
   * BoringSSL refuse a missing certificate before any trust manager is asked) and refuse the
   * connection or its calls themselves.
   */
  public static void countNoCertificate(MeterRegistry meters) {
    counter(meters, "server", Reason.NO_CERTIFICATE).increment();
  }

  private CertificateException reject(Reason reason, String message, Throwable cause) {
    rejections.get(reason).increment();
    return new CertificateException(message, cause);
  }

  /**
   * Verifies a peer's chain and returns its identity.
   *
   * @param peerIsServer whether the peer is the server of the connection
   * @throws CertificateException saying which check failed, with the peer's identity when known
   */
  WorkloadIdentity verify(X509Certificate[] chain, boolean peerIsServer) throws CertificateException {
    String role = peerIsServer ? "server" : "client";
    if (chain == null || chain.length == 0) {
      throw reject(Reason.NO_CERTIFICATE, "the " + role + " presented no certificate; mutual TLS is required", null);
    }
    Credentials own = source.current();
    X509Certificate leaf = chain[0];
    validatePath(chain, own.trustBundle(), role);
    checkLeaf(leaf, role);
    checkExtendedKeyUsage(leaf, peerIsServer ? SERVER_AUTH : CLIENT_AUTH, role);
    List<String> uris;
    try {
      uris = SpiffeCertificates.uriSans(leaf);
    } catch (IllegalArgumentException e) {
      throw reject(Reason.NO_SPIFFE_ID, "the " + role + "'s certificate has no readable SPIFFE ID: " + e.getMessage(), e);
    }
    if (uris.isEmpty()) {
      throw reject(Reason.NO_SPIFFE_ID, "the " + role + "'s certificate has no URI SAN; an X509-SVID carries its SPIFFE ID there", null);
    }
    if (uris.size() > 1) {
      throw reject(Reason.MULTIPLE_URI_SANS, "the " + role + "'s certificate has " + uris.size()
          + " URI SANs; an X509-SVID has exactly one", null);
    }
    WorkloadIdentity peer;
    try {
      peer = WorkloadIdentity.parse(uris.get(0));
    } catch (IllegalArgumentException e) {
      throw reject(Reason.INVALID_SPIFFE_ID, "the " + role + "'s certificate has no valid SPIFFE ID: " + e.getMessage(), e);
    }
    String td = own.identity().trustDomain();
    if (!peer.trustDomain().equals(td) && !trustDomainAliases.contains(peer.trustDomain())) {
      throw reject(Reason.TRUST_DOMAIN, "the " + role + " is " + peer + ", of trust domain '" + peer.trustDomain()
          + "'; this workload trusts only '" + td + "'"
          + (trustDomainAliases.isEmpty() ? "" : " and its aliases " + new java.util.TreeSet<>(trustDomainAliases)), null);
    }
    if (peerIsServer && expectedService != null && !peer.service().equals(expectedService)) {
      throw reject(Reason.WRONG_SERVICE, "the server is " + peer + ", not service '" + expectedService
          + "' of trust domain '" + td + "' that this channel calls", null);
    }
    return peer;
  }

  /**
   * Validates the chain as presented and, when that fails, its shorter prefixes: after a root
   * rotation a peer may still send an intermediate (such as Consul's new root cross-signed by the
   * old one) that leads to a root no longer in the bundle, while its leaf verifies against the new
   * root directly. The first failure is the one reported.
   */
  private void validatePath(X509Certificate[] chain, List<X509Certificate> roots, String role) throws CertificateException {
    Set<TrustAnchor> anchors = new HashSet<>();
    for (X509Certificate r : roots) {
      anchors.add(new TrustAnchor(r, null));
    }
    List<X509Certificate> path = new ArrayList<>(Arrays.asList(chain));
    // a peer may send its root too; the path ends below the anchor
    while (path.size() > 1 && roots.contains(path.get(path.size() - 1))) {
      path.remove(path.size() - 1);
    }
    CertPathValidatorException first = null;
    try {
      PKIXParameters params = new PKIXParameters(anchors);
      params.setRevocationEnabled(false);
      params.setDate(new Date(clock.currentTimeMillis()));
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      CertPathValidator validator = CertPathValidator.getInstance("PKIX");
      for (int length = path.size(); length >= 1; length--) {
        try {
          validator.validate(factory.generateCertPath(path.subList(0, length)), params);
          return;
        } catch (CertPathValidatorException e) {
          if (first == null) {
            first = e;
          }
        }
      }
    } catch (GeneralSecurityException e) {
      throw reject(Reason.UNTRUSTED, "cannot verify the " + role + "'s certificate " + describe(chain[0]) + ": " + e, e);
    }
    String why = first.getReason() == CertPathValidatorException.BasicReason.EXPIRED
        ? "the certificate expired (notAfter " + chain[0].getNotAfter().toInstant() + ")"
        : first.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID ? "the certificate is not yet valid"
        : first.getMessage();
    throw reject(first.getReason() == CertPathValidatorException.BasicReason.EXPIRED ? Reason.EXPIRED : Reason.UNTRUSTED,
        "the " + role + "'s certificate " + describe(chain[0]) + " does not verify against the trust bundle: " + why, first);
  }

  /** X509-SVID 4.1, 4.3 and 5.2: a leaf, for signatures, that cannot sign certificates or CRLs. */
  private void checkLeaf(X509Certificate leaf, String role) throws CertificateException {
    if (leaf.getBasicConstraints() != -1) {
      throw reject(Reason.NOT_LEAF, "the " + role + "'s certificate is a CA certificate (basic constraints cA true);"
          + " an X509-SVID leaf has cA false", null);
    }
    boolean[] ku = leaf.getKeyUsage();
    if (ku == null) {
      throw reject(Reason.KEY_USAGE, "the " + role + "'s certificate has no key usage; an X509-SVID leaf sets digitalSignature", null);
    }
    if (!ku[0]) {
      throw reject(Reason.KEY_USAGE, "the " + role + "'s certificate's key usage lacks digitalSignature", null);
    }
    if ((ku.length > 5 && ku[5]) || (ku.length > 6 && ku[6])) {
      throw reject(Reason.KEY_USAGE, "the " + role + "'s certificate's key usage sets keyCertSign or cRLSign;"
          + " an X509-SVID leaf must not", null);
    }
  }

  private void checkExtendedKeyUsage(X509Certificate leaf, String required, String role) throws CertificateException {
    List<String> eku;
    try {
      eku = leaf.getExtendedKeyUsage();
    } catch (CertificateParsingException e) {
      throw reject(Reason.NOT_FOR_ROLE, "the " + role + "'s certificate has an unreadable extended key usage", e);
    }
    if (eku != null && !eku.contains(required) && !eku.contains("2.5.29.37.0")) {
      throw reject(Reason.NOT_FOR_ROLE, "the " + role + "'s certificate is not for " + role
          + " authentication (extended key usage " + eku + ")", null);
    }
  }

  private static String describe(X509Certificate c) {
    try {
      return SpiffeCertificates.identityOf(c).toString();
    } catch (IllegalArgumentException e) {
      return c.getSubjectX500Principal().getName();
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    verify(chain, false);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    verify(chain, true);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    verify(chain, false);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    verify(chain, true);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    verify(chain, false);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    verify(chain, true);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return source.current().trustBundle().toArray(new X509Certificate[0]);
  }
}
