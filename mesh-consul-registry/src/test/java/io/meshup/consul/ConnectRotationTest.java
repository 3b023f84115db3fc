package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.core.identity.Credentials;
import io.meshup.core.spi.CertificateSource;
import io.meshup.grpc.MeshChannels;
import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Leaf renewal and CA root rotation in Consul while a client calls a server without pause, on one
 * long-lived channel and on a new channel (a new handshake) every tenth call. The leaf renewal runs
 * first: it keeps Consul's own root, which a CA configuration without keys only does before a root
 * of the test's has been installed.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConnectRotationTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  ConsulOps ops;
  ConnectTestServers.Running api;
  Mesh web;
  Traffic traffic;
  final Set<BigInteger> webSerials = ConcurrentHashMap.newKeySet();
  final Set<BigInteger> apiSerials = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void ops() {
    ops = new ConsulOps(consul.httpAddress());
  }

  /** Starts api and web, and traffic from web to api. */
  void startServices() throws Exception {
    api = ConnectTestServers.start(Mesh.fromYamlString(ConnectTestServers.yaml("api", consul.httpAddress(), "")));
    web = ConnectTestServers.client("web", consul.httpAddress(), "api", api);
    record(web, webSerials);
    record(api.mesh, apiSerials);
    traffic = new Traffic(web);
    traffic.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> traffic.ok.get() >= 20);
  }

  @AfterEach
  void stop() throws Exception {
    if (traffic != null) {
      traffic.stop();
    }
    if (web != null) {
      web.close();
    }
    if (api != null) {
      api.close();
    }
  }

  static void record(Mesh mesh, Set<BigInteger> serials) {
    CertificateSource source = mesh.certificates().orElseThrow();
    serials.add(source.current().leaf().getSerialNumber());
    source.subscribe(c -> serials.add(c.leaf().getSerialNumber()));
  }

  static Credentials current(Mesh mesh) {
    return mesh.certificates().orElseThrow().current();
  }

  @Test
  @Order(1)
  void leafRenewedUnderSteadyTrafficWithoutFailedCalls() throws Exception {
    String rootBefore = ops.connectRoots().get("ActiveRootID").getAsString();
    // Consul 1.8 refuses a LeafCertTTL under 1h unless SkipValidate. Leaves issued with 5m are
    // re-issued by the agent at every blocking query, so both services renew again and again. The
    // key type and size must be given: without them Consul 1.8 may make a new root it cannot sign
    // leaves with ("x509: unknown elliptic curve")
    ops.caConfiguration("{\"Provider\":\"consul\",\"Config\":{\"LeafCertTTL\":\"5m\",\"SkipValidate\":true,\"PrivateKeyType\":\"ec\",\"PrivateKeyBits\":256}}");
    startServices();
    BigInteger before = current(web).leaf().getSerialNumber();
    await().atMost(Duration.ofSeconds(60)).until(() -> webSerials.size() >= 3 && apiSerials.size() >= 3);
    ops.caConfiguration("{\"Provider\":\"consul\",\"Config\":{\"LeafCertTTL\":\"72h\",\"PrivateKeyType\":\"ec\",\"PrivateKeyBits\":256}}");
    await().atMost(Duration.ofSeconds(60)).until(() -> lifetime(current(web)).toHours() >= 70
        && lifetime(current(api.mesh)).toHours() >= 70);
    int okAtRenewal = traffic.ok.get();
    await().atMost(Duration.ofSeconds(10)).until(() -> traffic.ok.get() >= okAtRenewal + 20);

    traffic.stop();
    BigInteger after = current(web).leaf().getSerialNumber();
    ConnectTestServers.callOnNewChannel(web, "api");
    BigInteger seen = api.lastCallerSerial();

    System.out.printf("leaf renewal: calls ok %d (new connections %d), failed %d; web serials seen %d, api %d; web serial before %s, after %s,"
            + " server saw on a new connection %s; root unchanged %s%n", traffic.ok.get(), traffic.newConnections.get(),
        traffic.failed.get(),
        webSerials.size(), apiSerials.size(), before.toString(16), after.toString(16), seen.toString(16), rootBefore);
    assertThat(traffic.failures).isEmpty();
    assertThat(traffic.failed.get()).isZero();
    assertThat(after).isNotEqualTo(before);
    assertThat(seen).isEqualTo(after);
    assertThat(ops.connectRoots().get("ActiveRootID").getAsString()).isEqualTo(rootBefore);
  }

  @Test
  @Order(2)
  void caRootRotatedUnderSteadyTrafficWithoutFailedCalls() throws Exception {
    startServices();
    BigInteger before = current(web).leaf().getSerialNumber();
    X509Certificate oldRoot = current(web).trustBundle().get(0);
    TestRoots next = TestRoots.create(ops.trustDomain(), "MeshUp test root " + System.nanoTime());

    ops.caConfiguration(next.caConfiguration());
    await().atMost(Duration.ofSeconds(60)).until(() -> issuedByNewRoot(current(web), next)
        && issuedByNewRoot(current(api.mesh), next));
    int okAtRotation = traffic.ok.get();
    await().atMost(Duration.ofSeconds(10)).until(() -> traffic.ok.get() >= okAtRotation + 20);

    traffic.stop();
    Credentials web1 = current(web);
    ConnectTestServers.callOnNewChannel(web, "api");
    BigInteger seen = api.lastCallerSerial();

    System.out.printf("CA root rotation: calls ok %d (new connections %d), failed %d; web serial before %s, after %s,"
            + " server saw on a new connection %s; chain %d certificates; trust bundle %d roots%n", traffic.ok.get(),
        traffic.newConnections.get(), traffic.failed.get(), before.toString(16), web1.leaf().getSerialNumber().toString(16),
        seen.toString(16), web1.chain().size(), web1.trustBundle().size());
    assertThat(traffic.failures).isEmpty();
    assertThat(traffic.failed.get()).isZero();
    assertThat(seen).isEqualTo(web1.leaf().getSerialNumber()).isNotEqualTo(before);
    // both roots trusted while the old one is listed; the cross-signed new root goes along with the leaf
    assertThat(web1.trustBundle()).contains(oldRoot, next.certificate());
    assertThat(web1.chain()).hasSize(2);
    assertThat(web1.chain().get(1).getSubjectX500Principal()).isEqualTo(next.certificate().getSubjectX500Principal());
    assertThat(web1.chain().get(1).getIssuerX500Principal()).isEqualTo(oldRoot.getSubjectX500Principal());
  }

  static boolean issuedByNewRoot(Credentials c, TestRoots root) {
    return c.leaf().getIssuerX500Principal().equals(root.certificate().getSubjectX500Principal())
        && c.trustBundle().contains(root.certificate());
  }

  static Duration lifetime(Credentials c) {
    return Duration.ofMillis(c.leaf().getNotAfter().getTime() - c.leaf().getNotBefore().getTime());
  }

  /** Calls without pause on one channel, and on a new channel every tenth call, counting outcomes. */
  static final class Traffic {
    final AtomicInteger ok = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    final AtomicInteger newConnections = new AtomicInteger();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final AtomicBoolean running = new AtomicBoolean(true);
    final Mesh mesh;
    Thread thread;

    Traffic(Mesh mesh) {
      this.mesh = mesh;
    }

    void start() {
      thread = new Thread(this::run, "test-traffic");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      ManagedChannel steady = MeshChannels.forService(mesh, "api");
      try {
        SimpleServiceGrpc.SimpleServiceBlockingStub stub = SimpleServiceGrpc.newBlockingStub(steady);
        for (int i = 0; running.get(); i++) {
          try {
            if (i % 10 == 9) {
              ConnectTestServers.callOnNewChannel(mesh, "api");
              newConnections.incrementAndGet();
            } else {
              stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(ConnectTestServers.REQ);
            }
            ok.incrementAndGet();
          } catch (StatusRuntimeException e) {
            failed.incrementAndGet();
            if (failures.size() < 20) {
              failures.add(e.getStatus() + (e.getCause() == null ? "" : " caused by " + e.getCause()));
            }
          } catch (InterruptedException e) {
            return;
          }
        }
      } finally {
        steady.shutdownNow();
      }
    }

    void stop() throws InterruptedException {
      running.set(false);
      thread.join(TimeUnit.SECONDS.toMillis(15));
    }
  }
}
