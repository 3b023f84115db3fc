package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.core.MeshConfigException;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.stereotype.Component;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * What Actuator shows of the mesh, over HTTP from a real server: {@code /actuator/mesh} (the
 * snapshot), {@code /actuator/mesh/{service}}, the {@code mesh} health contributor, a policy update
 * and a refused one as the endpoint and health show them, and the mesh's meters in the
 * application's {@code MeterRegistry} ({@code /actuator/metrics}).
 */
@SpringBootTest(classes = ActuatorTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=clients", "server.address=127.0.0.1",
        "management.endpoints.web.exposure.include=health,mesh,metrics", "management.endpoint.health.show-details=always"})
class ActuatorTest {
  // servers of its own: ClientInjectionTest stops its servers when it ends, and may run first
  static final Backends backends = new Backends();
  static final int[] PAYMENTS = {backends.grpc("payments-v1"), backends.grpc("payments-v2")};
  static final int[] INVENTORY = {backends.http("inventory-v1"), backends.http("inventory-v2")};

  @AfterAll
  static void stop() throws InterruptedException {
    backends.close();
  }

  @DynamicPropertySource
  static void endpoints(DynamicPropertyRegistry r) {
    ClientInjectionTest.endpoints(r, PAYMENTS, INVENTORY);
  }

  @Component
  static class Checkout {
    @MeshClient("payments") SimpleServiceGrpc.SimpleServiceBlockingStub payments;
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(Checkout.class)
  static class App {}

  @LocalServerPort int port;
  @Autowired Mesh mesh;
  @Autowired MeterRegistry meters;
  @Autowired Checkout checkout;
  final HttpClient http = HttpClient.newHttpClient();
  final ObjectMapper json = new ObjectMapper();

  JsonNode get(String path, int status) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(status);
    return r.body().isEmpty() ? null : json.readTree(r.body());
  }

  void call() {
    checkout.payments.unaryRpc(SimpleRequest.newBuilder().setRequestMessage("hi").build());
  }

  @Test
  void theEndpointServesTheSnapshot() throws Exception {
    call();
    JsonNode s = get("/actuator/mesh", 200);
    assertThat(s.get("service").asText()).isEqualTo("checkout");
    assertThat(s.get("mtls").get("mode").asText()).isEqualTo("DISABLE");
    assertThat(s.get("policySources").get(0).get("name").asText()).isEqualTo("inline");
    assertThat(s.get("documents").toString()).contains("VirtualService payments").contains("DestinationRule inventory");
    List<String> destinations = new ArrayList<>();
    s.get("destinations").forEach(d -> destinations.add(d.get("service").asText()));
    assertThat(destinations).contains("payments");

    JsonNode payments = get("/actuator/mesh/payments", 200);
    assertThat(payments.get("routes").get(0).get("targets").get(0).get("subset").asText()).isEqualTo("v2");
    assertThat(payments.get("subsets").toString()).contains("\"breaker\":\"closed\"").contains("127.0.0.1:" + PAYMENTS[1]);
    assertThat(payments.get("registry").get("endpointsKnown").asBoolean()).isTrue();
    get("/actuator/mesh/nowhere", 404);
  }

  @Test
  void healthShowsRegistryPolicyAndReadiness() throws Exception {
    call();
    JsonNode h = get("/actuator/health", 200);
    JsonNode m = h.get("components").get("mesh");
    assertThat(m.get("status").asText()).isEqualTo("UP");
    assertThat(m.get("details").get("registry").get("status").asText()).isEqualTo("reachable");
    assertThat(m.get("details").get("policy").get("status").asText()).isEqualTo("accepted");
    assertThat(m.get("details").get("ready").asBoolean()).isTrue();
  }

  @Test
  void policyUpdatesAreVisibleThroughTheEndpointAndHealth() throws Exception {
    try {
      updateAndRefuse();
    } finally {
      mesh.updatePolicies("ops", "");
    }
    assertThat(get("/actuator/health", 200).get("components").get("mesh").get("details").get("policy").get("status").asText())
        .isEqualTo("accepted");
  }

  private void updateAndRefuse() throws Exception {
    mesh.updatePolicies("ops", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments-canary }
        spec:
          hosts: [payments]
          http: [{ route: [{ destination: { host: payments, subset: v1 } }], timeout: 750ms }]
        """);
    JsonNode s = get("/actuator/mesh", 200);
    assertThat(s.get("documents").toString()).contains("ops: VirtualService payments-canary");
    JsonNode ops = null;
    for (JsonNode p : s.get("policySources")) {
      if (p.get("name").asText().equals("ops")) {
        ops = p;
      }
    }
    assertThat(ops).isNotNull();
    assertThat(ops.get("documents").asInt()).isEqualTo(1);
    assertThat(ops.get("lastAccepted").isNull()).isFalse();
    JsonNode route = get("/actuator/mesh/payments", 200).get("routes").get(0);
    assertThat(route.get("timeoutMillis").asLong()).isEqualTo(750);
    assertThat(route.get("targets").get(0).get("subset").asText()).isEqualTo("v1");

    assertThatThrownBy(() -> mesh.updatePolicies("ops", "kind: VirtualService\nmetadata: { name: broken }\nspec: { hostz: [x] }\n"))
        .isInstanceOf(MeshConfigException.class);
    JsonNode policy = get("/actuator/health", 200).get("components").get("mesh").get("details").get("policy");
    assertThat(policy.get("status").asText()).isEqualTo("rejected");
    assertThat(policy.get("sources").get("ops").asText()).isEqualTo("ops (line 1), apiVersion: is required");
    assertThat(get("/actuator/mesh/payments", 200).get("routes").get(0).get("timeoutMillis").asLong())
        .as("the last good policy keeps serving").isEqualTo(750);
  }

  @Test
  void theMeshReportsToTheApplicationsMeterRegistry() throws Exception {
    assertThat(mesh.meterRegistry()).isSameAs(meters);
    call();
    JsonNode m = get("/actuator/metrics/mesh.client.requests", 200);
    assertThat(m.get("availableTags").toString()).contains("payments");
  }
}
