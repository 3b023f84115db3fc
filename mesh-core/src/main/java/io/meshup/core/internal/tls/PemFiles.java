package io.meshup.core.internal.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/** Reads PEM certificates and private keys, naming the file in every error. Stateless. */
public final class PemFiles {
  private PemFiles() {}

  /** The bytes of a file. */
  public static byte[] read(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new IllegalArgumentException(p + ": cannot read the file: " + e);
    }
  }

  /** The certificates of PEM text, at least one. */
  public static List<X509Certificate> certificates(Path file, byte[] pem) {
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      List<X509Certificate> out = new ArrayList<>();
      for (Certificate c : cf.generateCertificates(new ByteArrayInputStream(pem))) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException(file + ": holds no certificate; expected PEM blocks '-----BEGIN CERTIFICATE-----'");
      }
      return List.copyOf(out);
    } catch (CertificateException e) {
      throw new IllegalArgumentException(file + ": is not a PEM certificate list: " + e.getMessage(), e);
    }
  }

  /** The private key of PEM text (PKCS#8, or a traditional key pair). */
  public static PrivateKey privateKey(Path file, byte[] pem) {
    try (PEMParser parser = new PEMParser(new StringReader(new String(pem, StandardCharsets.US_ASCII)))) {
      Object o = parser.readObject();
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
      if (o instanceof PrivateKeyInfo info) {
        return conv.getPrivateKey(info);
      }
      if (o instanceof PEMKeyPair pair) {
        return conv.getKeyPair(pair).getPrivate();
      }
      throw new IllegalArgumentException(file + ": holds no private key; expected a PEM block '-----BEGIN PRIVATE KEY-----' (PKCS#8)"
          + (o == null ? "" : ", found " + o.getClass().getSimpleName()));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": is not a PEM private key: " + e.getMessage(), e);
    }
  }
}
