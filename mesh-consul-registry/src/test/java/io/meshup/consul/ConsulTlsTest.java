package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** HTTPS to the agent: a real agent serving TLS with a certificate the mesh trusts through its trust store. */
class ConsulTlsTest {
  static final Path DIR;
  static final int HTTPS_PORT;

  static {
    try {
      DIR = Files.createTempDirectory("consul-tls");
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      X500Name name = new X500Name("CN=127.0.0.1");
      Instant now = Instant.now();
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
          new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now.toEpochMilli()), Date.from(now.minusSeconds(60)),
              Date.from(now.plus(Duration.ofDays(1))), name, kp.getPublic())
              .addExtension(Extension.subjectAlternativeName, false,
                  new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1")))
              .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
      Files.writeString(DIR.resolve("cert.pem"), pem("CERTIFICATE", cert.getEncoded()));
      Files.writeString(DIR.resolve("key.pem"), pem("PRIVATE KEY", kp.getPrivate().getEncoded())); // PKCS#8
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("agent", cert);
      try (OutputStream out = Files.newOutputStream(DIR.resolve("trust.p12"))) {
        trust.store(out, "changeit".toCharArray());
      }
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        HTTPS_PORT = s.getLocalPort();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + java.util.Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent().withArgs(
      "-hcl", "ports { https = " + HTTPS_PORT + " }",
      "-hcl", "cert_file = \"" + DIR.resolve("cert.pem") + "\"",
      "-hcl", "key_file = \"" + DIR.resolve("key.pem") + "\"");

  Mesh mesh(String tls) {
    return Mesh.fromYamlString("""
        mesh:
          service: caller
          registry:
            type: consul
            consul:
              address: https://127.0.0.1:%d
              waitTime: 2s
              configEntries: { enabled: false }
              %s
        """.formatted(HTTPS_PORT, tls));
  }

  @Test
  void discoversOverHttpsWithTheConfiguredTrustStore() {
    ConsulOps ops = new ConsulOps(consul.httpAddress());
    ops.register("tls-web-1", "tls-web", 9001, Map.of("version", "v1"));
    ops.pass("tls-web-1");
    try (Mesh mesh = mesh("tls: { trustStore: \"" + DIR.resolve("trust.p12") + "\", trustStorePassword: changeit }")) {
      await().atMost(Duration.ofSeconds(5)).until(() -> mesh.endpoints("tls-web").size() == 1);
      assertThat(mesh.endpoints("tls-web")).extracting(ConsulRegistryTest::serviceId).isEqualTo(List.of("tls-web-1"));
    }
  }

  @Test
  void withoutTheTrustStoreTheAgentIsNotTrusted() {
    try (Mesh mesh = mesh("")) {
      await().atMost(Duration.ofSeconds(5)).until(() -> {
        var c = mesh.meterRegistry().find("mesh.registry.watch.errors").tags("watch", "service:tls-web", "kind", "request_failed").counter();
        return mesh.endpoints("tls-web").isEmpty() && c != null && c.count() >= 1;
      });
    }
  }
}
