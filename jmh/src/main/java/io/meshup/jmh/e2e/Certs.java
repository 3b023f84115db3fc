package io.meshup.jmh.e2e;

import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.Base64;

/**
 * Writes credentials issued by MeshUp's {@link DevCertificateAuthority} (EC P-256, SPIFFE URI SAN)
 * as PEM files, so that processes other than the one holding the CA can use them: the echo
 * servers' JVM and the client JVM through {@code PemFileCertificateSource}, HAProxy through its
 * {@code crt}/{@code ca-file} options. The dev CA's keys never leave memory otherwise.
 */
final class Certs {
  static final String TRUST_DOMAIN = "bench.meshup.local";

  private Certs() {}

  /** Issues and writes {@code <name>.chain.pem}, {@code <name>.key.pem} and {@code <name>.pem} (chain + key). */
  static void write(DevCertificateAuthority ca, String service, Path dir) throws IOException {
    Credentials c = ca.issue(ca.identity(service));
    String chain = pem(c);
    String key = block("PRIVATE KEY", c.privateKey().getEncoded());
    Files.writeString(dir.resolve(service + ".chain.pem"), chain);
    Files.writeString(dir.resolve(service + ".key.pem"), key);
    Files.writeString(dir.resolve(service + ".pem"), chain + key);
  }

  /** Writes the trust bundle as {@code ca.pem}. */
  static void writeBundle(DevCertificateAuthority ca, Path dir) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (X509Certificate r : ca.trustBundle()) {
      sb.append(cert(r));
    }
    Files.writeString(dir.resolve("ca.pem"), sb.toString());
  }

  static Path chain(Path dir, String service) {
    return dir.resolve(service + ".chain.pem");
  }

  static Path key(Path dir, String service) {
    return dir.resolve(service + ".key.pem");
  }

  static Path bundle(Path dir) {
    return dir.resolve("ca.pem");
  }

  private static String pem(Credentials c) {
    StringBuilder sb = new StringBuilder();
    for (X509Certificate x : c.chain()) {
      sb.append(cert(x));
    }
    return sb.toString();
  }

  private static String cert(X509Certificate x) {
    try {
      return block("CERTIFICATE", x.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String block(String type, byte[] der) {
    String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n";
  }
}
