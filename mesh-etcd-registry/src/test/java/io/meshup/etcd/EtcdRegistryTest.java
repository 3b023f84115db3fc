package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The etcd registry against a real member: discovery, the Go naming layout both ways, registration. */
class EtcdRegistryTest {
  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single();

  EtcdOps ops;
  TestServers t;
  String service;

  @BeforeEach
  void setUp() {
    ops = new EtcdOps(etcd);
    t = new TestServers();
    service = "payments-" + Long.toHexString(System.nanoTime());
  }

  @AfterEach
  void tearDown() throws Exception {
    t.close();
  }

  Mesh mesh(String self, String extra) {
    return t.closeLater(Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: [%s]
        %s
        """.formatted(self, etcd.clientEndpoints(), extra.indent(6))));
  }

  static String goValue(String addr, String metadataJson) {
    return "{\"Op\":0,\"Addr\":\"" + addr + "\",\"Metadata\":" + metadataJson + "}";
  }

  /** Waits until {@code mesh}'s endpoints of {@code service} satisfy {@code condition}; returns the ms it took. */
  static long awaitEndpoints(Mesh mesh, String service, Predicate<List<Endpoint>> condition) {
    long start = System.nanoTime();
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1)).until(() -> condition.test(mesh.endpoints(service)));
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  static List<String> ids(List<Endpoint> eps) {
    return eps.stream().map(Endpoint::id).sorted().toList();
  }

  @Test
  void discoversEndpointsWrittenInTheGoNamingLayoutWithTheirLabels() throws Exception {
    int v1 = t.server("v1").getPort();
    int v2 = t.server("v2").getPort();
    Mesh mesh = mesh("checkout", "");
    assertThat(mesh.endpoints(service)).isEmpty();
    // as go.etcd.io/etcd/client/v3/naming/endpoints writes them (Manager.AddEndpoint)
    ops.put("services/" + service + "/127.0.0.1:" + v1, goValue("127.0.0.1:" + v1, "{\"version\":\"v1\",\"zone\":\"a\"}"));
    ops.put("services/" + service + "/e2", goValue("127.0.0.1:" + v2, "{\"version\":\"v2\",\"weight\":3}"));
    awaitEndpoints(mesh, service, eps -> eps.size() == 2);
    Map<String, Endpoint> byId = new java.util.TreeMap<>();
    mesh.endpoints(service).forEach(e -> byId.put(e.id(), e));
    assertThat(byId.get("127.0.0.1:" + v1).labels()).containsEntry("version", "v1").containsEntry("zone", "a");
    assertThat(byId.get("127.0.0.1:" + v1).port()).isEqualTo(v1);
    assertThat(byId.get("e2").labels()).containsExactlyEntriesOf(Map.of("version", "v2"));
    assertThat(byId.get("e2").weight()).isEqualTo(3);
    assertThat(TestServers.send(t.stub(mesh, service), 200)).containsOnlyKeys("v1", "v2");
    // Go's naming package writes "Metadata":null when there is none
    ops.put("services/" + service + "/e3", goValue("127.0.0.1:" + v2, "null"));
    awaitEndpoints(mesh, service, eps -> eps.size() == 3);
  }

  @Test
  void aChangeReachesTheRoutingTableWithinMilliseconds() throws Exception {
    int port = t.server("a").getPort();
    Mesh mesh = mesh("checkout", "");
    ops.put("services/" + service + "/base", goValue("127.0.0.1:" + port, "{}"));
    awaitEndpoints(mesh, service, eps -> eps.size() == 1);
    List<Long> added = new ArrayList<>();
    List<Long> removed = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      String key = "services/" + service + "/extra-" + i;
      long t0 = System.nanoTime();
      ops.put(key, goValue("127.0.0.1:" + port, "{}"));
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofNanos(200_000)).until(() -> mesh.endpoints(service).size() == 2);
      added.add(System.nanoTime() - t0);
      t0 = System.nanoTime();
      ops.delete(key);
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofNanos(200_000)).until(() -> mesh.endpoints(service).size() == 1);
      removed.add(System.nanoTime() - t0);
    }
    Collections.sort(added);
    Collections.sort(removed);
    System.out.printf("etcd propagation (write acknowledged -> routing table), 20 samples each: added p50 %.1f ms, "
        + "max %.1f ms; removed p50 %.1f ms, max %.1f ms%n", added.get(10) / 1e6, added.get(19) / 1e6,
        removed.get(10) / 1e6, removed.get(19) / 1e6);
    assertThat(added.get(10)).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
    assertThat(removed.get(10)).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
  }

  @Test
  void registersInTheGoNamingLayoutAndDeregistersAndDrainsOnClose() throws Exception {
    int port = t.server("self").getPort();
    Mesh caller = mesh("checkout", "");
    assertThat(caller.endpoints(service)).isEmpty();
    long t0 = System.nanoTime();
    Mesh self = Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: [%s]
              registration: { port: %d, metadata: { version: v3, locality: eu-west }, ttl: 5s, drainTime: 300ms }
        """.formatted(service, etcd.clientEndpoints(), port));
    long registered = awaitEndpoints(caller, service, eps -> eps.size() == 1);
    System.out.printf("etcd registration: mesh built in %d ms, in the caller's routing table %d ms later%n",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) - registered, registered);
    Endpoint e = caller.endpoints(service).get(0);
    assertThat(e.id()).isEqualTo("127.0.0.1:" + port);
    assertThat(e.labels()).containsEntry("version", "v3").containsEntry("locality", "eu-west");
    assertThat(TestServers.send(t.stub(caller, service), 10)).containsOnlyKeys("self");

    // readable by etcd's Go naming package: Addr and Metadata, attached to a lease
    String key = "services/" + service + "/127.0.0.1:" + port;
    @SuppressWarnings("deprecation")
    JsonObject json = new JsonParser().parse(ops.get(key)).getAsJsonObject();
    assertThat(json.get("Addr").getAsString()).isEqualTo("127.0.0.1:" + port);
    assertThat(json.get("Op").getAsInt()).isZero();
    assertThat(json.getAsJsonObject("Metadata").get("version").getAsString()).isEqualTo("v3");
    assertThat(ops.leaseOf(key)).isNotZero();

    // close: the key goes first (callers stop choosing this instance), then the mesh drains
    long c0 = System.nanoTime();
    CompletableFuture<Void> closing = CompletableFuture.runAsync(self::close);
    long gone = awaitEndpoints(caller, service, List::isEmpty);
    assertThat(closing).as("still draining when the caller lost the endpoint").isNotDone();
    closing.get(5, TimeUnit.SECONDS);
    long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - c0);
    System.out.printf("etcd deregistration: gone from the caller's routing table after %d ms; close() took %d ms "
        + "(drainTime 300 ms)%n", gone, closeMs);
    assertThat(closeMs).isGreaterThanOrEqualTo(300);
    assertThat(ops.get(key)).isNull();
  }

  @Test
  void registersAgainWhenItsLeaseIsLost() throws Exception {
    int port = t.server("self").getPort();
    Mesh caller = mesh("checkout", "");
    caller.endpoints(service);
    t.closeLater(Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: [%s]
              registration: { port: %d, ttl: 10s, drainTime: 0s }
        """.formatted(service, etcd.clientEndpoints(), port)));
    awaitEndpoints(caller, service, eps -> eps.size() == 1);
    String key = "services/" + service + "/127.0.0.1:" + port;
    List<Long> samples = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      long lease = ops.leaseOf(key);
      long t0 = System.nanoTime();
      ops.revoke(lease); // as etcd does when the lease expires: the key is deleted
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1))
          .until(() -> ops.leaseOf(key) != 0 && ops.leaseOf(key) != lease);
      awaitEndpoints(caller, service, eps -> eps.size() == 1);
      samples.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }
    System.out.printf("etcd re-registration after the lease was lost (revoked -> new lease, key back, in the caller's "
        + "routing table): %s ms%n", samples);
    assertThat(caller.meterRegistry().find("mesh.registry.watch.errors").tags("watch", "service:" + service)
        .counters()).allMatch(c -> c.count() == 0);
  }

  @Test
  void entriesThatAreNotEndpointsAreLeftOutCountedAndTheWatchGoesOn() throws Exception {
    int port = t.server("good").getPort();
    Mesh mesh = mesh("checkout", "");
    String p = "services/" + service + "/";
    ops.put(p + "good", goValue("127.0.0.1:" + port, "{}"));
    ops.put(p + "not-json", "not json at all");
    ops.put(p + "no-addr", "{\"Metadata\":{}}");
    ops.put(p + "no-port", goValue("127.0.0.1", "{}"));
    ops.put(p + "bad-port", goValue("127.0.0.1:70000", "{}"));
    ops.put(p + "ipv6-unbracketed", goValue("::1:80", "{}"));
    ops.put(p + "array", "[1,2,3]");
    ops.put(p + "deep", "{\"Addr\":\"127.0.0.1:1\",\"Metadata\":" + "[".repeat(5000) + "]".repeat(5000) + "}");
    ops.put(p + "trailing", goValue("127.0.0.1:" + port, "{}") + " {}");
    ops.put(p + "weight", goValue("127.0.0.1:" + port, "{\"weight\":0}"));
    awaitEndpoints(mesh, service, eps -> !eps.isEmpty());
    await().atMost(Duration.ofSeconds(5)).until(() -> invalid(mesh) == 9);
    assertThat(ids(mesh.endpoints(service))).containsExactly("good");
    ops.put(p + "later", goValue("127.0.0.1:" + port, "{}"));
    awaitEndpoints(mesh, service, eps -> eps.size() == 2);
    assertThat(invalid(mesh)).isEqualTo(9); // each bad value is read once, not at every change
  }

  double invalid(Mesh mesh) {
    var c = mesh.meterRegistry().find("mesh.registry.watch.errors").tags("watch", "service:" + service, "kind",
        "invalid_entry").counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void aCustomPrefixIsWatchedInsteadOfTheDefault() throws Exception {
    int port = t.server("x").getPort();
    Mesh mesh = mesh("checkout", "discovery: { prefix: /company/grpc }");
    ops.put("services/" + service + "/ignored", goValue("127.0.0.1:" + port, "{}"));
    ops.put("/company/grpc/" + service + "/x", goValue("127.0.0.1:" + port, "{}"));
    awaitEndpoints(mesh, service, eps -> eps.size() == 1);
    assertThat(ids(mesh.endpoints(service))).containsExactly("x");
    // a service whose name extends this one's is another service
    ops.put("/company/grpc/" + service + "-b/y", goValue("127.0.0.1:" + port, "{}"));
    ops.put("/company/grpc/" + service + "/z", goValue("127.0.0.1:" + port, "{}"));
    awaitEndpoints(mesh, service, eps -> eps.size() == 2);
    assertThat(ids(mesh.endpoints(service))).containsExactly("x", "z");
  }
}
