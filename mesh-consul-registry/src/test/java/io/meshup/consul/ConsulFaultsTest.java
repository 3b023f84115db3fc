package io.meshup.consul;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults a real agent does not produce on demand — a 500, a truncated body, an index that goes
 * backwards — from WireMock standing in for the agent's HTTP API. A destination's index lower than
 * the one applied is first taken for a server a moment behind (ignored, asked again), and for a
 * reset when the next answer is lower too.
 */
class ConsulFaultsTest {
  WireMockServer wm;

  @BeforeEach
  void start() {
    wm = new WireMockServer(wireMockConfig().bindAddress("127.0.0.1").dynamicPort());
    wm.start();
  }

  @AfterEach
  void stop() {
    wm.stop();
  }

  static String entry(String id, int port) {
    return """
        {"Node":{"Node":"n1","Address":"127.0.0.1"},
         "Service":{"ID":"%s","Service":"web","Address":"127.0.0.1","Port":%d,"Tags":["canary","zone=a"],
                    "Meta":{"version":"v1"},"Weights":{"Passing":3,"Warning":1}},
         "Checks":[]}""".formatted(id, port);
  }

  void step(String from, String to, int status, String body, long index) {
    var resp = aResponse().withStatus(status).withBody(body).withHeader("X-Consul-Index", String.valueOf(index));
    wm.stubFor(get(urlPathEqualTo("/v1/health/service/web")).inScenario("agent").whenScenarioStateIs(from)
        .willReturn(to == null ? resp.withFixedDelay(200) : resp).willSetStateTo(to == null ? from : to));
  }

  /**
   * The summaries every mesh asks: the catalog's index moves with every answer (every 300 ms), so
   * the destination is read again each time, as if instances kept registering.
   */
  void summaries() {
    wm.stubFor(get(urlPathEqualTo("/v1/catalog/services")).willReturn(aResponse().withStatus(200).withBody("{}")
        .withHeader("X-Consul-Index", "{{now format='epoch'}}").withTransformers("response-template").withFixedDelay(300)));
    wm.stubFor(get(urlPathEqualTo("/v1/health/state/any")).willReturn(aResponse().withStatus(200).withBody("[]")
        .withHeader("X-Consul-Index", "1").withFixedDelay(300)));
  }

  @Test
  void keepsTheLastEndpointsThroughErrorsAndResetsABackwardIndex() {
    summaries();
    step(Scenario.STARTED, "error", 200, "[" + entry("web-1", 9001) + "]", 10);
    step("error", "garbage", 500, "rpc error: No cluster leader", 10);
    step("garbage", "restarted", 200, "[" + entry("web-1", 9001).substring(0, 40), 11);
    step("restarted", "settled", 200, "[" + entry("web-1", 9001) + "," + entry("web-2", 9002) + "]", 5);
    step("settled", null, 200, "[" + entry("web-1", 9001) + "," + entry("web-2", 9002) + "]", 5);

    try (Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: caller
          registry:
            type: consul
            consul: { address: "127.0.0.1:%d", waitTime: 1s, configEntries: { enabled: false } }
        """.formatted(wm.port()))) {
      await().atMost(Duration.ofSeconds(5)).until(() -> mesh.endpoints("web").size() == 1);
      Endpoint e = mesh.endpoints("web").get(0);
      assertThat(e.labels()).containsEntry("version", "v1").containsEntry("canary", "true").containsEntry("zone", "a");
      assertThat(e.weight()).isEqualTo(3);

      await().atMost(Duration.ofSeconds(5)).until(() -> counter(mesh, "request_failed") >= 2);
      assertThat(mesh.endpoints("web")).as("the last known endpoints keep serving").containsExactly(e);

      await().atMost(Duration.ofSeconds(5)).until(() -> mesh.endpoints("web").size() == 2);
      assertThat(counter(mesh, "index_reset")).isEqualTo(1);
    }
  }

  static double counter(Mesh mesh, String kind) {
    var c = mesh.meterRegistry().find("mesh.registry.watch.errors").tags("watch", "service:web", "kind", kind).counter();
    return c == null ? 0 : c.count();
  }
}
