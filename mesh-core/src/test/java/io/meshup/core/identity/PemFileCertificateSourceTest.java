package io.meshup.core.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.awaitility.Awaitility;
import java.util.List;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemFileCertificateSourceTest {
  @TempDir Path dir;
  final DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test");

  Path chain() {
    return dir.resolve("cert.pem");
  }

  Path key() {
    return dir.resolve("key.pem");
  }

  Path bundle() {
    return dir.resolve("ca.pem");
  }

  static String pem(Object... objects) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      for (Object o : objects) {
        w.writeObject(o);
      }
    }
    return out.toString();
  }

  void write(Credentials c) throws Exception {
    Files.writeString(chain(), pem(c.chain().toArray()), StandardCharsets.US_ASCII);
    Files.writeString(key(), pem(new JcaPKCS8Generator(c.privateKey(), null)), StandardCharsets.US_ASCII);
    Files.writeString(bundle(), pem(c.trustBundle().toArray()), StandardCharsets.US_ASCII);
  }

  @Test
  void loadsPkcs8KeyChainAndBundle() throws Exception {
    Credentials issued = ca.issue(ca.identity("payments"));
    write(issued);

    PemFileCertificateSource source = PemFileCertificateSource.load(chain(), key(), bundle());

    assertThat(source.current().identity()).isEqualTo(ca.identity("payments"));
    assertThat(source.current().leaf()).isEqualTo(issued.leaf());
    assertThat(source.current().privateKey().getEncoded()).isEqualTo(issued.privateKey().getEncoded());
    assertThat(source.current().trustBundle()).containsExactly(ca.root());
  }

  @Test
  void reloadsChangedFilesAndTellsListeners() throws Exception {
    write(ca.issue(ca.identity("payments")));
    PemFileCertificateSource source = PemFileCertificateSource.load(chain(), key(), bundle());
    List<Credentials> seen = new ArrayList<>();
    source.subscribe(seen::add);

    assertThat(source.checkForChanges()).isFalse();
    Credentials next = ca.issue(ca.identity("payments"));
    write(next);

    assertThat(source.checkForChanges()).isTrue();
    assertThat(source.current().leaf()).isEqualTo(next.leaf());
    assertThat(seen).extracting(Credentials::leaf).containsExactly(next.leaf());
  }

  @Test
  void scheduledCheckPicksUpRewrittenFiles() throws Exception {
    write(ca.issue(ca.identity("payments")));
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try (PemFileCertificateSource source = PemFileCertificateSource.load(chain(), key(), bundle())
        .start(scheduler, Duration.ofMillis(10))) {
      Credentials next = ca.issue(ca.identity("payments"));
      write(next);

      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> source.current().leaf().equals(next.leaf()));
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void badFileKeepsLastGoodCredentials() throws Exception {
    Credentials good = ca.issue(ca.identity("payments"));
    write(good);
    PemFileCertificateSource source = PemFileCertificateSource.load(chain(), key(), bundle());

    Files.writeString(chain(), "-----BEGIN CERTIFICATE-----\ngarbage\n", StandardCharsets.US_ASCII);
    assertThat(source.checkForChanges()).isFalse();
    assertThat(source.current().leaf()).isEqualTo(good.leaf());

    // a key of another leaf (a rotation caught half-written) is refused too
    Credentials other = ca.issue(ca.identity("payments"));
    Files.writeString(chain(), pem(other.chain().toArray()), StandardCharsets.US_ASCII);
    assertThat(source.checkForChanges()).isFalse();
    assertThat(source.current().leaf()).isEqualTo(good.leaf());

    Files.writeString(key(), pem(new JcaPKCS8Generator(other.privateKey(), null)), StandardCharsets.US_ASCII);
    assertThat(source.checkForChanges()).isTrue();
    assertThat(source.current().leaf()).isEqualTo(other.leaf());
  }

  @Test
  void loadFailsNamingTheFile() throws Exception {
    write(ca.issue(ca.identity("payments")));
    Files.writeString(key(), "not a key", StandardCharsets.US_ASCII);

    assertThatThrownBy(() -> PemFileCertificateSource.load(chain(), key(), bundle()))
        .hasMessageContaining(key().toString())
        .hasMessageContaining("holds no private key");
    assertThatThrownBy(() -> PemFileCertificateSource.load(chain(), dir.resolve("missing.pem"), bundle()))
        .hasMessageContaining("missing.pem: cannot read the file");
  }
}
