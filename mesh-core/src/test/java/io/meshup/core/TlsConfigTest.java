package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code mesh.tls} section. */
class TlsConfigTest {
  @TempDir Path dir;

  static Mesh mesh(String tls) {
    return Mesh.fromYamlString("mesh:\n  service: checkout\n" + tls.indent(2));
  }

  @Test
  void noTlsSectionMeansPlaintext() {
    try (Mesh m = mesh("")) {
      assertThat(m.certificates()).isEmpty();
      assertThat(m.mtlsMode()).isEqualTo(MtlsMode.DISABLE);
    }
  }

  @Test
  void devCertificatesIssueThisServicesIdentityAndDefaultToStrict() {
    try (Mesh m = mesh("tls: { certificates: dev, trustDomain: dev.test, datacenter: eu1 }")) {
      assertThat(m.mtlsMode()).isEqualTo(MtlsMode.STRICT);
      assertThat(m.certificates().orElseThrow().current().identity())
          .hasToString("spiffe://dev.test/ns/default/dc/eu1/svc/checkout");
    }
  }

  @Test
  void modeIsRead() {
    try (Mesh m = mesh("tls: { mode: permissive, certificates: dev, trustDomain: dev.test }")) {
      assertThat(m.mtlsMode()).isEqualTo(MtlsMode.PERMISSIVE);
    }
  }

  @Test
  void filesAreReadRelativeToTheBootstrapFile() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test");
    var c = ca.issue(ca.identity("checkout"));
    Files.writeString(dir.resolve("cert.pem"), pem(c.leaf()), StandardCharsets.US_ASCII);
    Files.writeString(dir.resolve("key.pem"), pem(new JcaPKCS8Generator(c.privateKey(), null)), StandardCharsets.US_ASCII);
    Files.writeString(dir.resolve("ca.pem"), pem(ca.root()), StandardCharsets.US_ASCII);
    Path yaml = dir.resolve("application.yaml");
    Files.writeString(yaml, """
        mesh:
          service: checkout
          tls:
            certificates: files
            files: { certChain: cert.pem, privateKey: key.pem, trustBundle: ca.pem, refreshInterval: 1s }
        """);

    try (Mesh m = Mesh.fromYaml(yaml)) {
      assertThat(m.certificates().orElseThrow().current().leaf()).isEqualTo(c.leaf());
      assertThat(m.mtlsMode()).isEqualTo(MtlsMode.STRICT);
    }
  }

  @Test
  void pluginCertificateSourceReadsItsOwnSection() {
    try (Mesh m = mesh("tls: { certificates: test-ca, test-ca: { trustDomain: plug.test } }")) {
      assertThat(m.certificates().orElseThrow().current().identity())
          .hasToString("spiffe://plug.test/ns/default/dc/dc1/svc/checkout");
    }
    assertThatThrownBy(() -> mesh("tls: { certificates: test-ca, test-ca: { trustDomain: plug.test, extra: 1 } }"))
        .hasMessageContaining("mesh.tls.test-ca.extra: unknown field 'extra'");
    assertThatThrownBy(() -> mesh("tls: { certificates: test-ca, other: {} }"))
        .hasMessageContaining("mesh.tls.other: unknown field 'other'");
  }

  static String pem(Object o) throws Exception {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    }
    return out.toString();
  }

  @Test
  void errorsNameTheKey() {
    assertThatThrownBy(() -> mesh("tls: { mode: STRICT }"))
        .hasMessageContaining("mesh.tls.certificates: is required when mode is STRICT; expected dev or files");
    assertThatThrownBy(() -> mesh("tls: { mode: SOMETIMES, certificates: dev, trustDomain: dev.test }"))
        .hasMessageContaining("mesh.tls.mode: 'SOMETIMES' is not one of [STRICT, PERMISSIVE, DISABLE]");
    assertThatThrownBy(() -> mesh("tls: { certificates: vault }"))
        .hasMessageContaining("mesh.tls, certificates: no certificate source provider for type 'vault' on the classpath");
    assertThatThrownBy(() -> mesh("tls: { certificates: dev }"))
        .hasMessageContaining("mesh.tls.trustDomain: is required");
    assertThatThrownBy(() -> mesh("tls: { certificates: dev, trustDomain: 'bad domain' }"))
        .hasMessageContaining("mesh.tls.trustDomain: trust domain 'bad domain' is invalid");
    assertThatThrownBy(() -> mesh("tls: { certificates: files, files: { certChain: a.pem, privateKey: b.pem } }"))
        .hasMessageContaining("mesh.tls.files.trustBundle: is required");
    assertThatThrownBy(() -> mesh("tls: { certificates: dev, trustDomain: dev.test, files: {} }"))
        .hasMessageContaining("mesh.tls.files: is only read when certificates is files");
    assertThatThrownBy(() -> mesh("tls: { certificates: dev, trustDomain: dev.test, ca: x }"))
        .hasMessageContaining("mesh.tls.ca: unknown field 'ca'");
    assertThatThrownBy(() -> mesh("tls: { certificates: files, files: { certChain: a.pem, privateKey: b.pem, trustBundle: c.pem } }"))
        .hasMessageContaining("a.pem: cannot read the file");
  }
}
