package io.meshup.core.route;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * TLS a client originates to a destination outside the mesh, from a DestinationRule's
 * {@code tls} of mode {@code SIMPLE} or {@code MUTUAL}: the server is verified against
 * {@code caCertificates} (the JDK's trusted roots when null) and its name against
 * {@code subjectAltNames} (the destination's host when empty), and, for MUTUAL, the client presents
 * {@code clientCertificate} with {@code privateKey}. Immutable.
 *
 * @param mutual MUTUAL (a client certificate is presented) rather than SIMPLE
 * @param clientCertificate PEM certificate chain for MUTUAL, else null
 * @param privateKey PEM (PKCS#8 or traditional) private key for MUTUAL, else null
 * @param caCertificates PEM roots to verify the server with, or null for the JDK's
 * @param sni the server name sent, or null for the destination's host
 * @param subjectAltNames the names one of which the server's certificate must carry (DNS, IP or
 *     URI SANs); empty for the destination's host (or {@code sni} when set)
 * @param insecureSkipVerify the server's certificate is not verified at all
 */
public record TlsOrigination(boolean mutual, Path clientCertificate, Path privateKey, Path caCertificates, String sni,
    List<String> subjectAltNames, boolean insecureSkipVerify) {
  public TlsOrigination {
    subjectAltNames = List.copyOf(subjectAltNames);
    if (mutual) {
      Objects.requireNonNull(clientCertificate, "clientCertificate");
      Objects.requireNonNull(privateKey, "privateKey");
    }
  }

  /** The names the server must present, for a destination host. */
  public List<String> expectedNames(String host) {
    if (!subjectAltNames.isEmpty()) {
      return subjectAltNames;
    }
    return List.of(sni != null ? sni : host);
  }
}
