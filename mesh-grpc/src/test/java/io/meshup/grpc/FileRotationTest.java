package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.PemFileCertificateSource;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificates from PEM files (the layout SPIRE's and Vault's agents write) replaced under steady
 * mTLS traffic: no call fails, and new connections present the new leaf.
 */
class FileRotationTest {
  @TempDir Path dir;

  final DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test");

  /** Writes the three files the way an agent does: each through a temporary file and a rename. */
  void write(Path folder, Credentials c, List<java.security.cert.X509Certificate> roots) throws Exception {
    Files.createDirectories(folder);
    replace(folder.resolve("key.pem"), pem(new JcaPKCS8Generator(c.privateKey(), null)));
    replace(folder.resolve("chain.pem"), pem(c.leaf()));
    replace(folder.resolve("roots.pem"), pem(roots.toArray()));
  }

  static void replace(Path file, String content) throws Exception {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, content, StandardCharsets.US_ASCII);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  static String pem(Object... objects) throws Exception {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      for (Object o : objects) {
        w.writeObject(o);
      }
    }
    return out.toString();
  }

  PemFileCertificateSource source(Path folder) {
    return PemFileCertificateSource.load(folder.resolve("chain.pem"), folder.resolve("key.pem"), folder.resolve("roots.pem"));
  }

  @Test
  void replacedFilesApplyToNewConnectionsWithNoFailedCall() throws Exception {
    Path serverDir = dir.resolve("payments");
    Path clientDir = dir.resolve("checkout");
    write(serverDir, ca.issue(ca.identity("payments")), ca.trustBundle());
    write(clientDir, ca.issue(ca.identity("checkout")), ca.trustBundle());
    PemFileCertificateSource serverSource = source(serverDir);
    PemFileCertificateSource clientSource = source(clientDir);
    try (TlsTestServers.Running server = TlsTestServers.start("payments", serverSource, MtlsMode.STRICT);
        Mesh checkout = Mesh.builder().service("checkout").endpoints("payments", List.of(server.endpoint()))
            .certificates(clientSource).build()) {
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger ok = new AtomicInteger();
      AtomicInteger failed = new AtomicInteger();
      Thread traffic = new Thread(() -> {
        while (!stop.get()) {
          // a new channel every 20 calls: new connections keep handshaking while files change
          ManagedChannel ch = MeshChannels.forService(checkout, "payments");
          try {
            var stub = SimpleServiceGrpc.newBlockingStub(ch);
            for (int i = 0; i < 20; i++) {
              try {
                stub.withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(MutualTlsTest.REQ);
                ok.incrementAndGet();
              } catch (StatusRuntimeException e) {
                failed.incrementAndGet();
              }
            }
          } finally {
            ch.shutdownNow();
          }
        }
      }, "traffic");
      traffic.start();
      try {
        BigInteger previous = clientSource.current().leaf().getSerialNumber();
        for (int round = 0; round < 3; round++) {
          int before = ok.get();
          await().atMost(Duration.ofSeconds(20)).until(() -> ok.get() >= before + 50);
          Credentials nextClient = ca.issue(ca.identity("checkout"));
          write(clientDir, nextClient, ca.trustBundle());
          write(serverDir, ca.issue(ca.identity("payments")), ca.trustBundle());
          assertThat(clientSource.checkForChanges()).isTrue();
          assertThat(serverSource.checkForChanges()).isTrue();
          BigInteger expected = nextClient.leaf().getSerialNumber();
          assertThat(expected).isNotEqualTo(previous);
          await().atMost(Duration.ofSeconds(20)).until(() -> server.callerSerials.contains(expected));
          previous = expected;
        }
        int before = ok.get();
        await().atMost(Duration.ofSeconds(20)).until(() -> ok.get() >= before + 50);
      } finally {
        stop.set(true);
        traffic.join();
      }

      System.out.printf("file rotation under traffic: %d calls ok, %d failed, %d distinct client serials seen by the server%n",
          ok.get(), failed.get(), server.callerSerials.stream().distinct().count());
      assertThat(failed.get()).isZero();
      assertThat(server.callerSerials.stream().distinct().count()).isEqualTo(4);
      // after the last rotation, every new connection presents the newest leaf
      BigInteger last = clientSource.current().leaf().getSerialNumber();
      assertThat(server.callerSerials.get(server.callerSerials.size() - 1)).isEqualTo(last);
    }
  }
}
