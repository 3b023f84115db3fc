package io.meshup.consul.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.internal.tls.MeshTrustManager;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
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
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/**
 * Putting Consul's leaf and roots together after a CA rotation, with certificates shaped as Consul
 * 1.8 issues them: the new leaf comes with the new root cross-signed by the old one.
 */
class ConnectCertificatesTest {
  static final String TD = "11111111-2222-3333-4444-555555555555.consul";
  static final AtomicLong SERIAL = new AtomicLong(1);

  final KeyPair oldKey = keys();
  final KeyPair newKey = keys();
  final KeyPair leafKey = keys();
  final X509Certificate oldRoot = cert("CN=pri-old.consul.ca", "CN=pri-old.consul.ca", oldKey.getPublic(), oldKey.getPrivate(), true, "spiffe://" + TD);
  final X509Certificate newRoot = cert("CN=pri-new.consul.ca", "CN=pri-new.consul.ca", newKey.getPublic(), newKey.getPrivate(), true, "spiffe://" + TD);
  /** The new root's subject and key, signed by the old root: what Consul appends to new leaves. */
  final X509Certificate crossSigned = cert("CN=pri-new.consul.ca", "CN=pri-old.consul.ca", newKey.getPublic(), oldKey.getPrivate(), true, "spiffe://" + TD);
  final X509Certificate leaf = cert("CN=web.svc.default", "CN=pri-new.consul.ca", leafKey.getPublic(), newKey.getPrivate(), false,
      "spiffe://" + TD + "/ns/default/dc/dc1/svc/web");
  final ConnectCertificates.Leaf agentLeaf = new ConnectCertificates.Leaf("0a", List.of(leaf, crossSigned), leafKey.getPrivate());

  static ConnectCertificates.Roots roots(X509Certificate... certs) {
    List<String> ids = java.util.Arrays.stream(certs).map(c -> c.getSerialNumber().toString(16)).toList();
    return new ConnectCertificates.Roots(TD, ids.get(0), ids, List.of(certs));
  }

  @Test
  void whileTheOldRootIsListedTheCrossSignedRootGoesWithTheLeafAndBothRootsAreTrusted() {
    Credentials c = ConnectCertificates.credentials(roots(newRoot, oldRoot), agentLeaf, "web");

    assertThat(c.chain()).containsExactly(leaf, crossSigned);
    assertThat(c.trustBundle()).containsExactly(newRoot, oldRoot);
    assertThat(c.identity().toString()).isEqualTo("spiffe://" + TD + "/ns/default/dc/dc1/svc/web");
  }

  @Test
  void onceTheOldRootIsPrunedTheLeafGoesAlone() {
    Credentials c = ConnectCertificates.credentials(roots(newRoot), agentLeaf, "web");

    assertThat(c.chain()).containsExactly(leaf);
    assertThat(c.trustBundle()).containsExactly(newRoot);
  }

  @Test
  void aLeafOfNoListedRootIsRefused() {
    assertThatThrownBy(() -> ConnectCertificates.credentials(roots(oldRoot),
        new ConnectCertificates.Leaf("0b", List.of(leaf), leafKey.getPrivate()), "web"))
        .hasMessageContaining("the leaf of web (serial 0b) is signed by no listed CA root");
  }

  @Test
  void aLeafOfAnotherServiceOrTrustDomainIsRefused() {
    assertThatThrownBy(() -> ConnectCertificates.credentials(roots(newRoot), agentLeaf, "api"))
        .hasMessageContaining("not of service 'api'");
    X509Certificate foreign = cert("CN=web", "CN=pri-new.consul.ca", leafKey.getPublic(), newKey.getPrivate(), false,
        "spiffe://other.consul/ns/default/dc/dc1/svc/web");
    assertThatThrownBy(() -> ConnectCertificates.credentials(roots(newRoot),
        new ConnectCertificates.Leaf("0c", List.of(foreign), leafKey.getPrivate()), "web"))
        .hasMessageContaining("not of the CA's trust domain");
  }

  @Test
  void aKeyThatIsNotTheLeafsIsRefused() {
    assertThatThrownBy(() -> ConnectCertificates.credentials(roots(newRoot),
        new ConnectCertificates.Leaf("0d", List.of(leaf), keys().getPrivate()), "web"))
        .hasMessageContaining("does not belong to its leaf");
  }

  /**
   * A peer that trusts only the new root accepts Consul's leaf + cross-signed root: mesh-core's
   * MeshTrustManager falls back to shorter prefixes of the chain, and the leaf alone verifies. (The
   * chain is still cut once the old root is gone, for verifiers that do not.)
   */
  @Test
  void meshTrustManagerAcceptsLeafPlusCrossSignedRootWhenOnlyTheNewRootIsTrusted() throws Exception {
    Credentials server = new Credentials(leafKey.getPrivate(), List.of(leaf), List.of(newRoot));
    MeshTrustManager tm = new MeshTrustManager(fixed(server), clock(), null, new SimpleMeterRegistry());

    tm.checkClientTrusted(new X509Certificate[] {leaf}, "ECDHE_ECDSA");
    tm.checkClientTrusted(new X509Certificate[] {leaf, crossSigned}, "ECDHE_ECDSA");
  }

  static MeshClock clock() {
    return new MeshClock() {
      @Override
      public long nanoTime() {
        return System.nanoTime();
      }

      @Override
      public long currentTimeMillis() {
        return System.currentTimeMillis();
      }
    };
  }

  static CertificateSource fixed(Credentials c) {
    return new CertificateSource() {
      @Override
      public Credentials current() {
        return c;
      }

      @Override
      public Subscription subscribe(Listener listener) {
        return () -> {};
      }
    };
  }

  static KeyPair keys() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static X509Certificate cert(String subject, String issuer, PublicKey key, PrivateKey signer, boolean ca, String uri) {
    try {
      Instant now = Instant.now();
      org.bouncycastle.cert.X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(issuer),
          BigInteger.valueOf(SERIAL.getAndIncrement()), Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(3))),
          new X500Name(subject), key)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(ca))
          .addExtension(Extension.subjectAlternativeName, false,
              new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, uri)));
      if (ca) {
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature));
      } else {
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment
            | KeyUsage.dataEncipherment | KeyUsage.keyAgreement));
        b.addExtension(Extension.extendedKeyUsage, false,
            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_clientAuth, KeyPurposeId.id_kp_serverAuth}));
      }
      return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
