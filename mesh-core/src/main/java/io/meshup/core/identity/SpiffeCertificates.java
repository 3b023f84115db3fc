package io.meshup.core.identity;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Reads the SPIFFE ID out of an X.509 certificate. Stateless; thread-safe. */
public final class SpiffeCertificates {
  private static final int URI_SAN = 6;

  private SpiffeCertificates() {}

  /**
   * The identity in the certificate's URI SAN, which must be its only URI SAN.
   *
   * @throws IllegalArgumentException when there is no URI SAN, more than one, or it is not a
   *     workload SPIFFE ID
   */
  public static WorkloadIdentity identityOf(X509Certificate cert) {
    List<String> uris = uriSans(cert);
    if (uris.size() > 1) {
      throw new IllegalArgumentException("certificate " + cert.getSubjectX500Principal()
          + " has more than one URI SAN; a SPIFFE certificate has exactly one");
    }
    if (uris.isEmpty()) {
      throw new IllegalArgumentException("certificate " + cert.getSubjectX500Principal()
          + " has no URI SAN; expected a SPIFFE ID such as spiffe://<trust-domain>/ns/default/dc/dc1/svc/<service>"
          + " or spiffe://<trust-domain>/ns/default/sa/<service-account>");
    }
    return WorkloadIdentity.parse(uris.get(0));
  }

  /**
   * The certificate's URI SANs, in order (a trust domain's root carries {@code spiffe://<td>}).
   *
   * @throws IllegalArgumentException when the SANs cannot be read
   */
  public static List<String> uriSans(X509Certificate cert) {
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      throw new IllegalArgumentException("certificate " + cert.getSubjectX500Principal() + " has unreadable SANs: " + e.getMessage(), e);
    }
    List<String> uris = new ArrayList<>(1);
    if (sans != null) {
      for (List<?> san : sans) {
        if (san.size() >= 2 && Integer.valueOf(URI_SAN).equals(san.get(0))) {
          uris.add(String.valueOf(san.get(1)));
        }
      }
    }
    return uris;
  }
}
