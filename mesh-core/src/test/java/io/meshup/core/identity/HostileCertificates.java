package io.meshup.core.identity;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Mints certificates the X509-SVID specification forbids (or allows), signed by a development CA's
 * own root so that only the property under test is wrong. For the security tables. Thread-safe.
 */
public final class HostileCertificates {
  private static final SecureRandom RANDOM = new SecureRandom();

  private HostileCertificates() {}

  /** A key and the chain that goes with it, leaf first. */
  public record Minted(PrivateKey key, X509Certificate[] chain) {}

  /**
   * What to put in a leaf. Null means "leave the extension out".
   *
   * @param uris the URI SANs
   * @param ca the basic constraints' cA flag
   * @param keyUsage {@link KeyUsage} bits
   * @param eku extended key usages
   * @param notBefore start of validity
   * @param notAfter end of validity
   * @param signer {@code root} (the CA's own), {@code rogue} (another CA), {@code self}, or
   *     {@code intermediate} / {@code badIntermediate} (an intermediate under the root, with and
   *     without keyCertSign)
   */
  public record Leaf(List<String> uris, Boolean ca, Integer keyUsage, List<KeyPurposeId> eku, Instant notBefore,
      Instant notAfter, String signer) {
    /** A valid workload leaf for {@code spiffeId}. */
    public static Leaf valid(String spiffeId) {
      Instant now = Instant.now();
      return new Leaf(List.of(spiffeId), false, KeyUsage.digitalSignature | KeyUsage.keyAgreement,
          List.of(KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth), now.minusSeconds(60),
          now.plus(Duration.ofHours(1)), "root");
    }

    public Leaf withUris(String... u) {
      return new Leaf(List.of(u), ca, keyUsage, eku, notBefore, notAfter, signer);
    }

    public Leaf withCa(Boolean c) {
      return new Leaf(uris, c, keyUsage, eku, notBefore, notAfter, signer);
    }

    public Leaf withKeyUsage(Integer k) {
      return new Leaf(uris, ca, k, eku, notBefore, notAfter, signer);
    }

    public Leaf withEku(KeyPurposeId... e) {
      return new Leaf(uris, ca, keyUsage, List.of(e), notBefore, notAfter, signer);
    }

    public Leaf withValidity(Instant from, Instant to) {
      return new Leaf(uris, ca, keyUsage, eku, from, to, signer);
    }

    public Leaf signedBy(String s) {
      return new Leaf(uris, ca, keyUsage, eku, notBefore, notAfter, s);
    }
  }

  /** Mints {@code leaf} under {@code ca}'s root. */
  public static Minted mint(DevCertificateAuthority ca, Leaf leaf) {
    try {
      KeyPair leafKey = keyPair();
      KeyPair signerKey;
      X500Principal issuer;
      List<X509Certificate> chain = new ArrayList<>();
      switch (leaf.signer()) {
        case "root" -> {
          signerKey = ca.rootKeyPair();
          issuer = ca.root().getSubjectX500Principal();
        }
        case "rogue" -> {
          DevCertificateAuthority rogue = DevCertificateAuthority.create(ca.trustDomain());
          signerKey = rogue.rootKeyPair();
          issuer = rogue.root().getSubjectX500Principal();
        }
        case "self" -> {
          signerKey = leafKey;
          issuer = new X500Principal("CN=self");
        }
        case "intermediate", "badIntermediate" -> {
          KeyPair interKey = keyPair();
          X500Principal interName = new X500Principal("CN=intermediate " + RANDOM.nextInt(1_000_000));
          X509v3CertificateBuilder ib = new JcaX509v3CertificateBuilder(ca.root().getSubjectX500Principal(), serial(),
              Date.from(leaf.notBefore()), Date.from(leaf.notAfter()), interName, interKey.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
              .addExtension(Extension.keyUsage, true, new KeyUsage(leaf.signer().equals("intermediate")
                  ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature))
              .addExtension(Extension.subjectAlternativeName, false,
                  new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + ca.trustDomain())));
          chain.add(sign(ib, ca.rootKeyPair()));
          signerKey = interKey;
          issuer = interName;
        }
        default -> throw new IllegalArgumentException(leaf.signer());
      }
      X500Principal subject = leaf.signer().equals("self") ? issuer : new X500Principal("CN=hostile");
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, serial(), Date.from(leaf.notBefore()),
          Date.from(leaf.notAfter()), subject, leafKey.getPublic());
      if (leaf.ca() != null) {
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(leaf.ca()));
      }
      if (leaf.keyUsage() != null) {
        b.addExtension(Extension.keyUsage, true, new KeyUsage(leaf.keyUsage()));
      }
      if (leaf.eku() != null) {
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(leaf.eku().toArray(new KeyPurposeId[0])));
      }
      if (!leaf.uris().isEmpty()) {
        GeneralName[] names = leaf.uris().stream().map(u -> new GeneralName(GeneralName.uniformResourceIdentifier, u))
            .toArray(GeneralName[]::new);
        b.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(names));
      }
      chain.add(0, sign(b, signerKey));
      return new Minted(leafKey.getPrivate(), chain.toArray(new X509Certificate[0]));
    } catch (Exception e) {
      throw new IllegalStateException("cannot mint " + leaf, e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws Exception {
    return new JcaX509CertificateConverter().getCertificate(
        b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
  }

  private static KeyPair keyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE);
  }
}
