package io.meshup.etcd;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A CA and the certificates the TLS tests need, as PEM files in a directory of their own under
 * {@code target/}: a server certificate for {@code 127.0.0.1}/{@code localhost}, client certificates
 * by common name (etcd's user name for client-certificate auth), and keys in PKCS#8.
 */
final class TestPki {
  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  final Path dir;
  final Path caFile;
  private final KeyPair caKey;
  private final X500Name caName;

  private TestPki(Path dir, String name) throws Exception {
    this.dir = dir;
    this.caKey = keyPair();
    this.caName = new X500Name("CN=" + name);
    Instant now = Instant.now();
    X509Certificate ca = new JcaX509CertificateConverter().getCertificate(
        new JcaX509v3CertificateBuilder(caName, BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(now.minusSeconds(60)),
            Date.from(now.plus(Duration.ofDays(1))), caName, caKey.getPublic())
            .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
            .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
            .build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKey.getPrivate())));
    this.caFile = write(name + "-ca.pem", pem(ca));
  }

  /** A new CA named {@code name} in a new directory. */
  static TestPki create(String name) {
    try {
      Path dir = Paths.get("target", "pki", name + "-" + UUID.randomUUID().toString().substring(0, 8)).toAbsolutePath();
      Files.createDirectories(dir);
      return new TestPki(dir, name);
    } catch (Exception e) {
      throw new IllegalStateException("cannot make test certificates", e);
    }
  }

  /** A certificate and its key file. */
  record Pair(Path certFile, Path keyFile) {}

  /** A server certificate for 127.0.0.1 and localhost. */
  Pair server() {
    return leaf("server", true);
  }

  /** A client certificate whose common name is {@code commonName}. */
  Pair client(String commonName) {
    return leaf(commonName, false);
  }

  private Pair leaf(String cn, boolean server) {
    try {
      KeyPair kp = keyPair();
      Instant now = Instant.now();
      org.bouncycastle.cert.X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caName, BigInteger.valueOf(SERIAL.incrementAndGet()),
          Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(1))), new X500Name("CN=" + cn), kp.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
          .addExtension(Extension.extendedKeyUsage, false, server
              ? new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth})
              : new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
      if (server) {
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.iPAddress, InetAddress.getLoopbackAddress().getHostAddress()),
            new GeneralName(GeneralName.dNSName, "localhost")}));
      }
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKey.getPrivate())));
      return new Pair(write(cn + ".pem", pem(cert)), write(cn + "-key.pem", pkcs8(kp.getPrivate())));
    } catch (Exception e) {
      throw new IllegalStateException("cannot make a certificate for " + cn, e);
    }
  }

  private static KeyPair keyPair() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private Path write(String name, String text) {
    try {
      return Files.writeString(dir.resolve(name), text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String pem(Object o) throws IOException {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter p = new JcaPEMWriter(w)) {
      p.writeObject(o);
    }
    return w.toString();
  }

  private static String pkcs8(PrivateKey key) throws Exception {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter p = new JcaPEMWriter(w)) {
      p.writeObject(new JcaPKCS8Generator(key, null));
    }
    return w.toString();
  }
}
