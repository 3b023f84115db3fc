package io.meshup.consul;

import java.io.StringWriter;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A CA root key and certificate made by the test, for Consul's built-in CA provider to rotate to. */
record TestRoots(X509Certificate certificate, String certificatePem, String privateKeyPem) {

  /** An EC P-256 root for {@code trustDomain}, valid for a day, named {@code name}. */
  static TestRoots create(String trustDomain, String name) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair kp = g.generateKeyPair();
    X500Name subject = new X500Name("CN=" + name);
    Instant now = Instant.now();
    // Consul's own roots carry a SHA-256 key identifier; the leaves it signs take it as authority key id
    byte[] keyId = MessageDigest.getInstance("SHA-256").digest(kp.getPublic().getEncoded());
    X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
        new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(now.toEpochMilli()), Date.from(now.minusSeconds(60)),
            Date.from(now.plus(Duration.ofDays(1))), subject, kp.getPublic())
            .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
            .addExtension(Extension.keyUsage, true,
                new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature))
            .addExtension(Extension.subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId))
            .addExtension(Extension.subjectAlternativeName, false,
                new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)))
            .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
    // SEC1 with the curve named inside: Go's parser (Consul) needs it, and the JDK's PKCS#8 encoding
    // keeps the curve outside the inner structure
    SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(kp.getPublic().getEncoded());
    ECPrivateKey sec1 = new ECPrivateKey(256, ((java.security.interfaces.ECPrivateKey) kp.getPrivate()).getS(),
        new DERBitString(spki.getPublicKeyData().getBytes()), X9ObjectIdentifiers.prime256v1);
    return new TestRoots(cert, pem(cert), pem(new PemObject("EC PRIVATE KEY", sec1.getEncoded())));
  }

  private static String pem(Object o) throws Exception {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter p = new JcaPEMWriter(w)) {
      p.writeObject(o);
    }
    return w.toString();
  }

  /** The CA configuration that makes Consul's built-in provider rotate to this root. */
  String caConfiguration() {
    return "{\"Provider\":\"consul\",\"Config\":{\"LeafCertTTL\":\"72h\",\"PrivateKey\":" + json(privateKeyPem)
        + ",\"RootCert\":" + json(certificatePem) + "}}";
  }

  private static String json(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\r", "") + "\"";
  }
}
