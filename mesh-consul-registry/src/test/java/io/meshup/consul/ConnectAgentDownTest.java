package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.core.identity.Credentials;
import java.math.BigInteger;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The agent dies: the consul-connect source counts its failed refreshes and keeps its last credentials serving. */
class ConnectAgentDownTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  final TestClock clock = new TestClock();
  final ManualScheduler scheduler = new ManualScheduler();

  @AfterEach
  void stopScheduler() {
    scheduler.shutdownNow();
  }

  @Test
  void aDeadAgentLeavesTheLastCredentialsServing() throws Exception {
    ConnectTestServers.Running api = ConnectTestServers.start(Mesh.fromYamlString(
        ConnectTestServers.yaml("orders", consul.httpAddress(), "")));
    try (api; Mesh web = Mesh.builder().clock(clock).scheduler(scheduler)
        .yaml(ConnectTestServers.yaml("shop", consul.httpAddress(), ""))
        .endpoints("orders", List.of(api.endpoint())).build()) {
      ConnectTestServers.callOnNewChannel(web, "orders");
      BigInteger serial = web.certificates().orElseThrow().current().leaf().getSerialNumber();
      assertThat(api.lastCallerSerial()).isEqualTo(serial);

      consul.stop();
      await().atMost(Duration.ofSeconds(30)).until(() -> ConnectExpiryTest.failures(web, "agent_error") >= 1
          && ConnectExpiryTest.failures(api.mesh, "agent_error") >= 1);
      // past two thirds of the lifetime: the refresh fails too, and is counted
      Credentials c = web.certificates().orElseThrow().current();
      clock.advanceTo(c.leaf().getNotBefore().getTime() + (c.leaf().getNotAfter().getTime() - c.leaf().getNotBefore().getTime()) * 3 / 4);
      double before = ConnectExpiryTest.failures(web, "agent_error");
      scheduler.runPeriodic();
      await().atMost(Duration.ofSeconds(30)).until(() -> ConnectExpiryTest.failures(web, "agent_error") > before);

      String caller = ConnectTestServers.callOnNewChannel(web, "orders");

      assertThat(caller).endsWith("/svc/shop");
      assertThat(api.lastCallerSerial()).isEqualTo(serial);
      assertThat(web.certificates().orElseThrow().current().leaf().getSerialNumber()).isEqualTo(serial);
      System.out.printf("dead agent: refresh failures web %.0f, api %.0f; serial %s still served%n",
          ConnectExpiryTest.failures(web, "agent_error"), ConnectExpiryTest.failures(api.mesh, "agent_error"), serial.toString(16));
    }
  }
}
