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

/** etcd's password authentication: tokens fetched, refetched after a restart, and the password never shown. */
class EtcdAuthTest {
  static final String PASSWORD = "s3cr3t-Pa55word";

  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single();

  TestServers t;
  String service;

  @BeforeAll
  static void users() {
    EtcdOps ops = new EtcdOps(etcd);
    ops.addUser("meshup", PASSWORD);
    ops.addRole("services-rw", "READWRITE", "services/");
    ops.grantRole("meshup", "services-rw");
    ops.enableAuth("root-secret");
  }

  @BeforeEach
  void setUp() {
    t = new TestServers();
    service = "billing-" + Long.toHexString(System.nanoTime());
  }

  @AfterEach
  void tearDown() throws Exception {
    t.close();
  }

  String yaml(String self, String password, String extra) {
    return """
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: [%s]
              username: meshup
              password: "%s"
        %s
        """.formatted(self, etcd.clientEndpoints(), password, extra.indent(6));
  }

  @Test
  void aPasswordUserRegistersAndDiscoversAndAgainAfterTheMemberForgetsItsToken() throws Exception {
    int port = t.server("billing").getPort();
    Mesh caller = t.closeLater(Mesh.fromYamlString(yaml("checkout", PASSWORD, "")));
    caller.endpoints(service);
    t.closeLater(Mesh.fromYamlString(yaml(service, PASSWORD, "registration: { port: " + port + ", ttl: 10s, drainTime: 0s }")));
    await().atMost(Duration.ofSeconds(5)).until(() -> caller.endpoints(service).size() == 1);
    assertThat(TestServers.send(t.stub(caller, service), 10)).containsOnlyKeys("billing");

    // etcd keeps simple tokens in memory: after a restart every client must authenticate again
    etcd.stop(0);
    etcd.start(0);
    EtcdOps root = new EtcdOps(etcd).as("root", "root-secret");
    int other = t.server("other").getPort();
    root.put("services/" + service + "/other", EtcdRegistryTest.goValue("127.0.0.1:" + other, "{}"));
    await().atMost(Duration.ofSeconds(10)).until(() -> caller.endpoints(service).size() == 2);
  }

  @Test
  void aWrongPasswordStopsARegisteringMeshNamingTheUserButNeverThePassword() {
    String wrong = "wrong-" + PASSWORD;
    try (StderrCapture log = new StderrCapture()) {
      assertThatThrownBy(() -> t.closeLater(Mesh.fromYamlString(yaml(service, wrong,
          "registration: { port: 9, drainTime: 0s }"))))
          .isInstanceOf(MeshConfigException.class)
          .hasMessageContaining("services/" + service + "/127.0.0.1:9")
          .hasMessageContaining("'meshup'")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(wrong));
      // a mesh that only watches keeps trying, and says why, without the password either
      Mesh caller = t.closeLater(Mesh.fromYamlString(yaml("checkout", wrong, "")));
      caller.endpoints(service);
      await().atMost(Duration.ofSeconds(5)).until(() -> log.text().contains("cannot authenticate as user 'meshup'"));
      assertThat(log.text()).doesNotContain(wrong).doesNotContain(PASSWORD);
    }
  }
}
