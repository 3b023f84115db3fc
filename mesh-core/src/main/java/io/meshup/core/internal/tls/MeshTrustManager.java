package io.meshup.core.internal.tls;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.SpiffeCertificates;
import io.meshup.core.identity.WorkloadIdentity;
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
 * Verifies a peer the SPIFFE way, against the certificate source's current credentials at every
 * handshake: the chain must verify (PKIX, at the mesh clock's wall time, no revocation) to a root
 * of the current trust bundle; the leaf's only URI SAN must be a workload SPIFFE ID of this
 * workload's trust domain; and, on a client, it must name the destination service. Host names are
 * never checked. Each rejection counts in {@code mesh.tls.rejections{side, reason}}. Thread-safe.
 */
public final class MeshTrustManager extends X509ExtendedTrustManager {
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

  private final CertificateSource source;
  private final MeshClock clock;
  private final String expectedService;
  private final Map<Reason, Counter> rejections = new EnumMap<>(Reason.class);

  /** Why a peer was refused; the {@code reason} tag of {@code mesh.tls.rejections}. */
  enum Reason {
    NO_CERTIFICATE,
    UNTRUSTED,
    EXPIRED,
    NOT_FOR_ROLE,
    NO_SPIFFE_ID,
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
    this.source = source;
    this.clock = clock;
    this.expectedService = expectedService;
    for (Reason r : Reason.values()) {
      rejections.put(r, Counter.builder("mesh.tls.rejections")
          .description("TLS peers refused during the handshake, by why")
          .baseUnit("handshakes")
          .tag("side", expectedService == null ? "server" : "client")
          .tag("reason", r.tag())
          .register(meters));
    }
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
    checkExtendedKeyUsage(leaf, peerIsServer ? SERVER_AUTH : CLIENT_AUTH, role);
    WorkloadIdentity peer;
    try {
      peer = SpiffeCertificates.identityOf(leaf);
    } catch (IllegalArgumentException e) {
      throw reject(Reason.NO_SPIFFE_ID, "the " + role + "'s certificate has no valid SPIFFE ID: " + e.getMessage(), e);
    }
    String td = own.identity().trustDomain();
    if (!peer.trustDomain().equals(td)) {
      throw reject(Reason.TRUST_DOMAIN, "the " + role + " is " + peer + ", of trust domain '" + peer.trustDomain()
          + "'; this workload trusts only '" + td + "'", null);
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
