package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The development CA shared through a folder, and the renewal of its leaves. */
class SharedDevCaTest {
  @TempDir Path dir;

  Mesh mesh(String service, String caDirectory) {
    return Mesh.fromYamlString("""
        mesh:
          service: %s
          tls: { certificates: dev, trustDomain: dev.test, caDirectory: '%s' }
        """.formatted(service, caDirectory));
  }

  @Test
  void meshesNamingOneFolderShareTheRootAndVerifyEachOther() throws Exception {
    try (Mesh checkout = mesh("checkout", dir.toString()); Mesh payments = mesh("payments", dir.toString())) {
      Credentials c = checkout.certificates().orElseThrow().current();
      Credentials p = payments.certificates().orElseThrow().current();
      assertThat(c.trustBundle()).isEqualTo(p.trustBundle());
      p.leaf().verify(c.trustBundle().get(0).getPublicKey());
      c.leaf().verify(p.trustBundle().get(0).getPublicKey());
    }
    Path root = dir.resolve("dev.test").resolve("root.pem");
    Path key = dir.resolve("dev.test").resolve("root-key.pem");
    assertThat(root).exists();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("dev.test")))).isEqualTo("rwx------");

    byte[] before = Files.readAllBytes(root);
    try (Mesh again = mesh("inventory", dir.toString())) {
      assertThat(Files.readAllBytes(root)).isEqualTo(before);
    }
  }

  @Test
  void caDirectoryNoneKeepsTheRootInMemory() {
    try (Mesh a = mesh("checkout", "none"); Mesh b = mesh("payments", "none")) {
      assertThat(a.certificates().orElseThrow().current().trustBundle())
          .isNotEqualTo(b.certificates().orElseThrow().current().trustBundle());
    }
    assertThat(dir).isEmptyDirectory();
  }

  @Test
  void aKeyThatDoesNotMatchTheRootIsRefusedNamingTheFile() throws Exception {
    try (Mesh m = mesh("checkout", dir.toString())) {
      assertThat(m.certificates()).isPresent();
    }
    Path other = Files.createDirectory(dir.resolve("other"));
    try (Mesh m = mesh("checkout", other.toString())) {
      assertThat(m.certificates()).isPresent();
    }
    Files.copy(other.resolve("dev.test/root-key.pem"), dir.resolve("dev.test/root-key.pem"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);

    assertThatThrownBy(() -> mesh("checkout", dir.toString()))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("mesh.tls")
        .hasMessageContaining("caDirectory")
        .hasMessageContaining("root-key.pem: is not the key of ");
  }

  @Test
  void aKeyOthersCanReadIsRefusedSayingWhatToDo() throws Exception {
    try (Mesh m = mesh("checkout", dir.toString())) {
      assertThat(m.certificates()).isPresent();
    }
    Path key = dir.resolve("dev.test/root-key.pem");
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));

    assertThatThrownBy(() -> mesh("checkout", dir.toString()))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("mesh.tls, caDirectory")
        .hasMessageContaining("root-key.pem is open to its group or others (rw-r--r--)")
        .hasMessageContaining("remove " + dir.resolve("dev.test"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-r--r--");
  }

  @Test
  void aFolderOthersCanEnterIsRestrictedToItsOwner() throws Exception {
    try (Mesh m = mesh("checkout", dir.toString())) {
      assertThat(m.certificates()).isPresent();
    }
    Path folder = dir.resolve("dev.test");
    Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwxr-xr-x"));

    try (Mesh m = mesh("payments", dir.toString())) {
      assertThat(m.certificates()).isPresent();
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(folder))).isEqualTo("rwx------");
  }

  @Test
  void caDirectoryIsOnlyReadWithDevCertificates() {
    assertThatThrownBy(() -> Mesh.fromYamlString("""
        mesh:
          service: checkout
          tls: { certificates: files, caDirectory: x, files: { certChain: a, privateKey: b, trustBundle: c } }
        """))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("caDirectory");
  }

  @Test
  void renewingSourceIssuesANewLeafBeforeTheOldOneExpires() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test", MeshClock.system(), Duration.ofMillis(300));
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try (DevCertificateAuthority.Source source = ca.source("checkout")) {
      BigInteger first = source.current().leaf().getSerialNumber();
      CountDownLatch renewed = new CountDownLatch(2);
      AtomicReference<Credentials> seen = new AtomicReference<>();
      source.subscribe(c -> {
        seen.set(c);
        renewed.countDown();
      });
      source.renewing(scheduler);

      assertThat(renewed.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(seen.get().leaf().getSerialNumber()).isNotEqualTo(first);
      assertThat(source.current()).isSameAs(seen.get());
    } finally {
      scheduler.shutdownNow();
    }
  }
}
