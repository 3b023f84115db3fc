package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import io.meshup.core.identity.Credentials;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Two MeshUp services with certificates from Consul Connect's CA (a real agent) calling each other over mTLS. */
class ConsulConnectTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  <T extends AutoCloseable> T closing(T c) {
    closers.add(c);
    return c;
  }

  static String trustDomain() {
    return new ConsulOps(consul.httpAddress()).trustDomain();
  }

  @Test
  void servicesCallEachOtherOverMutualTlsWithConnectCertificates() throws Exception {
    ConnectTestServers.Running api = closing(ConnectTestServers.start(
        Mesh.fromYamlString(ConnectTestServers.yaml("api", consul.httpAddress(), ""))));
    Mesh web = closing(ConnectTestServers.client("web", consul.httpAddress(), "api", api));
    String td = trustDomain();

    String caller = ConnectTestServers.callOnNewChannel(web, "api");

    assertThat(caller).isEqualTo("spiffe://" + td + "/ns/default/dc/dc1/svc/web");
    Credentials own = web.certificates().orElseThrow().current();
    assertThat(api.callerSerials).containsExactly(own.leaf().getSerialNumber());
    System.out.printf("Connect mTLS: caller %s, serial %s, server %s%n", caller, own.leaf().getSerialNumber().toString(16),
        api.mesh.certificates().orElseThrow().current().identity());
  }

  @Test
  void credentialsAreConsulsLeafAndRoots() throws Exception {
    try (Mesh mesh = Mesh.fromYamlString(ConnectTestServers.yaml("billing", consul.httpAddress(), ""))) {
      Credentials c = mesh.certificates().orElseThrow().current();
      X509Certificate leaf = c.leaf();
      assertThat(c.identity().toString()).isEqualTo("spiffe://" + trustDomain() + "/ns/default/dc/dc1/svc/billing");
      assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("EC");
      assertThat(((java.security.interfaces.ECPublicKey) leaf.getPublicKey()).getParams().getCurve().getField().getFieldSize())
          .isEqualTo(256);
      assertThat(leaf.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
      assertThat(c.trustBundle()).hasSize(1);
      leaf.verify(c.trustBundle().get(0).getPublicKey());
    }
  }

  @Test
  void unknownSettingsAreRejectedByName() {
    assertThatThrownBy(() -> Mesh.fromYamlString(ConnectTestServers.yaml("api", consul.httpAddress(), "datacentre: dc1")))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("mesh.tls.consul-connect.datacentre");
    assertThatThrownBy(() -> Mesh.fromYamlString(ConnectTestServers.yaml("api", consul.httpAddress(), "waitTime: 0s")))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("waitTime");
  }

  @Test
  void anUnreachableAgentAtStartNamesTheAgentAndService() throws Exception {
    int closedPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    String address = "127.0.0.1:" + closedPort;
    assertThatThrownBy(() -> Mesh.fromYamlString(ConnectTestServers.yaml("api", address, "")))
        .hasMessageContaining("mesh.tls.consul-connect")
        .hasMessageContaining("service 'api'")
        .hasMessageContaining("http://" + address);
  }
}
