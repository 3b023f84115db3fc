package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * etcd over TLS with client-certificate authentication and etcd's auth on: the client certificate's
 * common name is the etcd user. A client without a certificate, or that cannot verify the server,
 * gets nothing (fail closed), and a user without permission is refused with the key named.
 */
class EtcdTlsTest {
  static final TestPki PKI = TestPki.create("etcd-tls");
  static final TestPki OTHER = TestPki.create("not-trusted");
  static final TestPki.Pair SERVER = PKI.server();
  static final TestPki.Pair MESHUP = PKI.client("meshup");
  static final TestPki.Pair STRANGER = PKI.client("stranger");

  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single()
      .withTls(new EtcdCluster.Tls(SERVER.certFile(), SERVER.keyFile(), PKI.caFile, true));

  TestServers t;
  String service;

  @BeforeAll
  static void users() {
    EtcdOps ops = new EtcdOps(etcd);
    ops.addCertificateUser("meshup");
    ops.addRole("services-rw", "READWRITE", "services/");
    ops.grantRole("meshup", "services-rw");
    ops.addCertificateUser("stranger"); // no role: may read and write nothing
    ops.enableAuth("root-secret");
  }

  @BeforeEach
  void setUp() {
    t = new TestServers();
    service = "vault-" + Long.toHexString(System.nanoTime());
  }

  @AfterEach
  void tearDown() throws Exception {
    t.close();
  }

  String yaml(String self, String tls, String extra) {
    return """
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: [https://%s]
              tls: { %s }
        %s
        """.formatted(self, etcd.clientEndpoint(0), tls, extra.indent(6));
  }

  String clientTls(TestPki.Pair pair) {
    return "caFile: " + PKI.caFile + ", certFile: " + pair.certFile() + ", keyFile: " + pair.keyFile();
  }

  static double failures(Mesh mesh, String watch) {
    var c = mesh.meterRegistry().find("mesh.registry.watch.errors").tags("watch", watch, "kind", "request_failed").counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void aCertificateUserRegistersAndIsDiscoveredOverTls() throws Exception {
    int port = t.server("secure").getPort();
    Mesh caller = t.closeLater(Mesh.fromYamlString(yaml("checkout", clientTls(MESHUP), "")));
    caller.endpoints(service);
    t.closeLater(Mesh.fromYamlString(yaml(service, clientTls(MESHUP), "registration: { port: " + port + ", drainTime: 0s }")));
    await().atMost(Duration.ofSeconds(5)).until(() -> caller.endpoints(service).size() == 1);
    assertThat(TestServers.send(t.stub(caller, service), 10)).containsOnlyKeys("secure");
  }

  @Test
  void aClientWithoutACertificateGetsNothingAndKeepsTrying() {
    Mesh caller = t.closeLater(Mesh.fromYamlString(yaml("checkout", "caFile: " + PKI.caFile, "")));
    caller.endpoints(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> failures(caller, "service:" + service) >= 2);
    assertThat(caller.endpoints(service)).isEmpty();
  }

  @Test
  void aServerTheClientCannotVerifyIsNotTalkedTo() {
    Mesh caller = t.closeLater(Mesh.fromYamlString(yaml("checkout", "caFile: " + OTHER.caFile + ", certFile: "
        + MESHUP.certFile() + ", keyFile: " + MESHUP.keyFile(), "")));
    caller.endpoints(service);
    await().atMost(Duration.ofSeconds(10)).until(() -> failures(caller, "service:" + service) >= 2);
    assertThat(caller.endpoints(service)).isEmpty();
  }

  @Test
  void aUserWithoutPermissionIsRefusedWithTheKeyNamed() {
    assertThatThrownBy(() -> t.closeLater(Mesh.fromYamlString(yaml(service, clientTls(STRANGER),
        "registration: { port: 9, drainTime: 0s }"))))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("services/" + service + "/127.0.0.1:9")
        .hasMessageContaining("PERMISSION_DENIED");
  }

  @Test
  void unreadableTlsFilesStopTheStartNamingTheKey() {
    assertThatThrownBy(() -> t.closeLater(Mesh.fromYamlString(yaml("checkout", "caFile: /no/such/ca.pem", ""))))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("mesh.registry.etcd")
        .hasMessageContaining("tls")
        .hasMessageContaining("/no/such/ca.pem");
  }
}
