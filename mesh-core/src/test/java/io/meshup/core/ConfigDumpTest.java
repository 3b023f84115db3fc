package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.Protocol;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.testing.ControlledRegistry;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.TestCall;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The admin endpoint's {@code /config_dump}, read over HTTP after each kind of change (a policy
 * update, a rejected one, an ejection, a breaker opening, a certificate rotation, a registry
 * outage) and checked field by field; and {@code /healthz}, {@code /ready}, {@code /metrics}.
 */
class ConfigDumpTest {
  static final String POLICY = """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: payments }
      spec:
        host: payments
        trafficPolicy:
          loadBalancer: { simple: ROUND_ROBIN }
          circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10, failureRateThreshold: 50, waitDurationInOpenState: 30s }
          outlierDetection: { consecutive5xxErrors: 3, baseEjectionTime: 30s, maxEjectionPercent: 50 }
        subsets:
          - { name: v1, labels: { version: v1 } }
          - { name: v2, labels: { version: v2 } }
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: payments }
      spec:
        hosts: [payments]
        http:
          - name: canary
            match: [{ headers: { x-canary: { exact: "true" } } }]
            route: [{ destination: { host: payments, subset: v2 } }]
          - name: refunds
            match: [{ uri: { prefix: /refunds/ } }]
            route: [{ destination: { host: payments, subset: v1 } }]
            timeout: 3s
          - name: split
            route:
              - { destination: { host: payments, subset: v1 }, weight: 90 }
              - { destination: { host: payments, subset: v2 }, weight: 10 }
            retries: { attempts: 2, perTryTimeout: 1s, retryOn: unavailable }
      """;

  static final String SPLIT_50_50 = """
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: payments }
      spec:
        hosts: [payments]
        http:
          - name: split
            route:
              - { destination: { host: payments, subset: v1 }, weight: 50 }
              - { destination: { host: payments, subset: v2 }, weight: 50 }
      """;

  static final List<Endpoint> PAYMENTS = List.of(
      new Endpoint("a", "127.0.0.1", 9001, Map.of("version", "v1"), 1),
      new Endpoint("b", "127.0.0.1", 9002, Map.of("version", "v1"), 1),
      new Endpoint("c", "127.0.0.1", 9003, Map.of("version", "v2"), 1),
      new Endpoint("d", "127.0.0.1", 9004, Map.of("version", "v2"), 1));

  final FakeClock clock = new FakeClock();
  final ControlledRegistry registry = new ControlledRegistry();
  final DevCertificateAuthority ca = DevCertificateAuthority.create("dump.test", clock, Duration.ofHours(1));
  final DevCertificateAuthority.Source certs = ca.source("checkout");
  final HttpClient http = HttpClient.newHttpClient();
  Mesh mesh;

  @BeforeEach
  void setUp() {
    mesh = Mesh.builder().service("checkout").clock(clock).registry(registry).certificates(certs)
        .adminAddress(new InetSocketAddress("127.0.0.1", 0))
        .policies("inline", POLICY).build();
    mesh.router("payments");
    registry.answer("payments", PAYMENTS);
  }

  @AfterEach
  void tearDown() {
    mesh.close();
  }

  @Test
  @SuppressWarnings("unchecked")
  void theDumpShowsWhatIsInForceAfterEachKindOfChange() throws Exception {
    // at start
    Map<String, Object> dump = dump();
    assertThat(dump.get("service")).isEqualTo("checkout");
    assertThat(dump.get("ready")).isEqualTo(true);
    assertThat(map(dump, "mtls")).containsEntry("mode", "STRICT").containsEntry("peerAuthentication", null);
    Map<String, Object> cert = map(dump, "certificate");
    assertThat(cert.get("spiffeId")).isEqualTo(certs.identity().toString());
    assertThat(cert.get("serial")).isEqualTo(certs.current().leaf().getSerialNumber().toString(16));
    assertThat(Instant.parse((String) cert.get("notAfter"))).isEqualTo(certs.current().notAfter());
    assertThat((List<Object>) dump.get("documents")).containsExactlyInAnyOrder("inline: DestinationRule payments",
        "inline: VirtualService payments");
    Map<String, Object> inline = source(dump, "inline");
    assertThat(inline.get("documents")).isEqualTo(2);
    assertThat(inline.get("lastAccepted")).isEqualTo(Instant.ofEpochMilli(clock.currentTimeMillis()).toString());
    assertThat(inline.get("lastRejected")).isNull();
    Map<String, Object> payments = destination(dump, "payments");
    assertThat(map(payments, "registry")).containsEntry("endpointsKnown", true).containsEntry("endpoints", 4)
        .containsEntry("errors", 0).containsEntry("lastError", null);
    List<Map<String, Object>> routes = list(payments, "routes");
    assertThat(routes).extracting(r -> r.get("name")).containsExactly("canary", "refunds", "split");
    assertThat(routes.get(1)).containsEntry("timeoutMillis", 3000).containsEntry("matches", 1);
    assertThat(routes.get(2)).containsEntry("retryAttempts", 2).containsEntry("perTryTimeoutMillis", 1000)
        .containsEntry("matches", 0);
    assertThat(list(routes.get(2), "targets")).containsExactly(
        Map.of("service", "payments", "subset", "v1", "weight", 90),
        Map.of("service", "payments", "subset", "v2", "weight", 10));
    assertThat(list(payments, "subsets")).extracting(s -> s.get("name")).containsExactly("all", "v1", "v2");
    Map<String, Object> v1 = subset(payments, "v1");
    assertThat(v1).containsEntry("balancer", "ROUND_ROBIN").containsEntry("breaker", "closed").containsEntry("inFlight", 0)
        .containsEntry("labels", Map.of("version", "v1"));
    assertThat(list(v1, "endpoints")).extracting(e -> e.get("id"), e -> e.get("address"), e -> e.get("ejected"))
        .containsExactly(org.assertj.core.groups.Tuple.tuple("a", "127.0.0.1:9001", false),
            org.assertj.core.groups.Tuple.tuple("b", "127.0.0.1:9002", false));
    assertThat(list(v1, "endpoints").get(0)).containsEntry("ewmaMillis", 30.0).containsEntry("inFlight", 0)
        .containsEntry("weight", 1).containsEntry("ejectedUntil", null).containsEntry("connectivity", "idle");

    // a policy change
    clock.advance(Duration.ofSeconds(1));
    mesh.updatePolicies("ops", SPLIT_50_50);
    dump = dump();
    assertThat((List<Object>) dump.get("documents")).containsExactlyInAnyOrder("inline: DestinationRule payments",
        "ops: VirtualService payments");
    assertThat(source(dump, "ops")).containsEntry("documents", 1)
        .containsEntry("lastAccepted", Instant.ofEpochMilli(clock.currentTimeMillis()).toString())
        .containsEntry("lastRejected", null).containsEntry("lastError", null);
    assertThat(source(dump, "inline")).containsEntry("documents", 2);
    routes = list(destination(dump, "payments"), "routes");
    assertThat(routes).extracting(r -> r.get("name")).containsExactly("split");
    assertThat(list(routes.get(0), "targets")).extracting(t -> t.get("weight")).containsExactly(50, 50);

    // a rejected policy: recorded with its error; the last good one stays in force
    clock.advance(Duration.ofSeconds(1));
    String accepted = (String) source(dump, "ops").get("lastAccepted");
    assertThatThrownBy(() -> mesh.updatePolicies("ops", SPLIT_50_50.replace("weight: 50 }\n", "weight: -5 }\n")))
        .isInstanceOf(MeshConfigException.class);
    dump = dump();
    Map<String, Object> ops = source(dump, "ops");
    assertThat(ops.get("lastAccepted")).isEqualTo(accepted);
    assertThat(ops.get("lastRejected")).isEqualTo(Instant.ofEpochMilli(clock.currentTimeMillis()).toString());
    assertThat((String) ops.get("lastError")).contains("weight").contains("-5");
    assertThat(list(list(destination(dump, "payments"), "routes").get(0), "targets")).extracting(t -> t.get("weight"))
        .containsExactly(50, 50);

    // an ejection: endpoint a fails 3 times in a row (round robin over v1 alternates a and b)
    mesh.updatePolicies("ops", POLICY.substring(POLICY.indexOf("---") + 4));
    for (int i = 0; i < 6; i++) {
      TestCall c = TestCall.of(mesh, "payments", Protocol.GRPC, "/refunds/1", "POST", Map.of()).start();
      c.end(AttemptEnd.STATUS, 14); // UNAVAILABLE
    }
    dump = dump();
    List<Map<String, Object>> v1Endpoints = list(subset(destination(dump, "payments"), "v1"), "endpoints");
    assertThat(v1Endpoints).filteredOn(e -> e.get("ejected").equals(true)).hasSize(1)
        .allSatisfy(e -> {
          assertThat(e.get("ejections")).isEqualTo(1);
          assertThat(e.get("consecutiveFailures")).isEqualTo(3);
          assertThat(Instant.parse((String) e.get("ejectedUntil")))
              .isEqualTo(Instant.ofEpochMilli(clock.currentTimeMillis()).plusSeconds(30));
        });
    assertThat(v1Endpoints).filteredOn(e -> e.get("ejected").equals(false)).hasSize(1)
        .allSatisfy(e -> assertThat(e.get("ejectedUntil")).isNull());

    // a breaker opening: 10 failed calls to v2
    for (int i = 0; i < 10; i++) {
      TestCall c = TestCall.of(mesh, "payments", Protocol.GRPC, "/", "POST", Map.of("x-canary", "true")).start();
      if (c.failure == null) {
        c.end(AttemptEnd.STATUS, 14);
      }
    }
    dump = dump();
    Map<String, Object> v2 = subset(destination(dump, "payments"), "v2");
    assertThat(v2.get("breaker")).isEqualTo("open");
    assertThat(((Number) v2.get("breakerFailureRate")).doubleValue()).isEqualTo(100.0);
    assertThat(subset(destination(dump, "payments"), "v1").get("breaker")).isEqualTo("closed");

    // a certificate rotation
    String oldSerial = (String) map(dump, "certificate").get("serial");
    certs.rotate();
    dump = dump();
    assertThat(map(dump, "certificate").get("serial")).isNotEqualTo(oldSerial)
        .isEqualTo(certs.current().leaf().getSerialNumber().toString(16));
    assertThat(map(dump, "certificate").get("spiffeId")).isEqualTo(certs.identity().toString());

    // a registry outage: the error shows; the last endpoints stay in force
    clock.advance(Duration.ofSeconds(1));
    registry.fail("payments", new IOException("connection refused"));
    dump = dump();
    Map<String, Object> reg = map(destination(dump, "payments"), "registry");
    assertThat(reg).containsEntry("endpointsKnown", true).containsEntry("endpoints", 4).containsEntry("errors", 1)
        .containsEntry("lastError", "connection refused")
        .containsEntry("lastErrorAt", Instant.ofEpochMilli(clock.currentTimeMillis()).toString());
    assertThat(dump.get("ready")).isEqualTo(true);
    // the registry answers again: the error is gone, the count stays
    registry.answer("payments", PAYMENTS);
    assertThat(map(destination(dump(), "payments"), "registry")).containsEntry("lastError", null).containsEntry("errors", 1);

    // the Java API gives the same values
    MeshSnapshot s = mesh.snapshot();
    assertThat(s.destination("payments").orElseThrow().subsets().get(2).breaker()).isEqualTo("open");
    assertThat(s.policySource("ops").orElseThrow().lastError()).contains("weight");
  }

  @Test
  void readyOnceEveryDestinationHadAnAnswerAndHealthyUntilClosed() throws Exception {
    mesh.router("ledger");
    assertThat(get("/ready").statusCode()).isEqualTo(503);
    assertThat(get("/ready").body()).contains("ledger").doesNotContain("payments");
    registry.fail("ledger", new IOException("no such service"));
    assertThat(get("/ready").statusCode()).as("a known error counts as an answer").isEqualTo(200);
    assertThat(get("/healthz").statusCode()).isEqualTo(200);
    assertThat(get("/nope").statusCode()).isEqualTo(404);
    HttpResponse<String> post = http.send(HttpRequest.newBuilder(uri("/config_dump"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
  }

  @Test
  void metricsAreThePrometheusTextOfTheMeshsRegistry() throws Exception {
    TestCall c = TestCall.of(mesh, "payments", Protocol.GRPC, "/refunds/1", "POST", Map.of()).start();
    c.end(AttemptEnd.STATUS, 0);
    HttpResponse<String> r = get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
    assertThat(r.body())
        .contains("mesh_client_requests_seconds_bucket{outcome=\"success\",route=\"refunds\",service=\"payments\",subset=\"v1\",le=\"0.001\"} 1")
        .contains("mesh_client_attempts_seconds_count{outcome=\"success\",service=\"payments\",subset=\"v1\"} 1")
        .contains("mesh_circuitbreaker_state{service=\"payments\",state=\"closed\",subset=\"v1\"} 1");
  }

  @Test
  void anAdminEndpointIsOffByDefaultAndOnLoopbackWhenAsked() {
    try (Mesh plain = Mesh.builder().service("x").build()) {
      assertThat(plain.adminAddress()).isEmpty();
    }
    try (Mesh fromYaml = Mesh.fromYamlString("mesh: { service: y, admin: { port: 0 } }")) {
      assertThat(fromYaml.adminAddress()).hasValueSatisfying(a -> assertThat(a.getAddress().isLoopbackAddress()).isTrue());
    }
    assertThatThrownBy(() -> Mesh.fromYamlString("mesh: { service: y, admin: { port: 0, bind: all } }"))
        .isInstanceOf(MeshConfigException.class).hasMessageContaining("bind");
  }

  // ---- helpers ---------------------------------------------------------------------------

  URI uri(String path) {
    InetSocketAddress a = mesh.adminAddress().orElseThrow();
    return URI.create("http://127.0.0.1:" + a.getPort() + path);
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> dump() throws Exception {
    HttpResponse<String> r = get("/config_dump");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
    return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(r.body());
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Map<String, Object> m, String key) {
    return (Map<String, Object>) m.get(key);
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> list(Map<String, Object> m, String key) {
    return (List<Map<String, Object>>) m.get(key);
  }

  static Map<String, Object> source(Map<String, Object> dump, String name) {
    return list(dump, "policySources").stream().filter(s -> s.get("name").equals(name)).findFirst().orElseThrow();
  }

  static Map<String, Object> destination(Map<String, Object> dump, String name) {
    return list(dump, "destinations").stream().filter(s -> s.get("service").equals(name)).findFirst().orElseThrow();
  }

  static Map<String, Object> subset(Map<String, Object> destination, String name) {
    return list(destination, "subsets").stream().filter(s -> s.get("name").equals(name)).findFirst().orElseThrow();
  }
}
