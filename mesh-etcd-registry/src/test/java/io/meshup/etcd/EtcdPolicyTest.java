package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.StatusRuntimeException;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Istio-style policy documents under an etcd prefix: one watched source, validated whole, last good kept. */
class EtcdPolicyTest {
  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single();

  EtcdOps ops;
  TestServers t;
  String service;

  @BeforeEach
  void setUp() throws Exception {
    ops = new EtcdOps(etcd);
    t = new TestServers();
    service = "payments-" + Long.toHexString(System.nanoTime());
    int v1 = t.server("v1").getPort();
    int v2 = t.server("v2").getPort();
    ops.put("services/" + service + "/v1", EtcdRegistryTest.goValue("127.0.0.1:" + v1, "{\"version\":\"v1\"}"));
    ops.put("services/" + service + "/v2", EtcdRegistryTest.goValue("127.0.0.1:" + v2, "{\"version\":\"v2\"}"));
  }

  @AfterEach
  void tearDown() throws Exception {
    t.close();
  }

  static String policy(String service, int v1, int v2) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: %1$s }
        spec:
          host: %1$s
          subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: %1$s }
        spec:
          hosts: [%1$s]
          http:
          - route:
            - { destination: { host: %1$s, subset: v1 }, weight: %2$d }
            - { destination: { host: %1$s, subset: v2 }, weight: %3$d }
        """.formatted(service, v1, v2);
  }

  String key() {
    return "meshup/config/" + service + ".yaml";
  }

  Mesh mesh(String extra) {
    return t.closeLater(Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry:
            type: etcd
            etcd:
              endpoints: [%s]
              kv: { prefix: meshup/config/ }
        %s
        """.formatted(etcd.clientEndpoints(), extra)));
  }

  Mesh meshWithPolicy(int v1, int v2) {
    ops.put(key(), policy(service, v1, v2));
    Mesh mesh = mesh("");
    await().atMost(Duration.ofSeconds(5)).until(() -> mesh.policyOrigins().contains(key() + ": VirtualService " + service));
    await().atMost(Duration.ofSeconds(5)).until(() -> mesh.endpoints(service).size() == 2);
    return mesh;
  }

  static double updates(Mesh mesh, String result) {
    var c = mesh.meterRegistry().find("mesh.policy.updates").tags("source", "etcd-kv", "result", result).counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void aPolicyChangeTakesEffectMidTrafficWithNoFailedCall() throws Exception {
    Mesh mesh = meshWithPolicy(90, 10);
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = t.stub(mesh, service);
    Map<String, Integer> before = TestServers.send(stub, 2_000);
    assertThat(before.getOrDefault("v2", 0) / 20.0).isBetween(7.0, 13.0);

    AtomicInteger failed = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(50);
    Thread traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          stub.unaryRpc(TestServers.REQ);
        } catch (StatusRuntimeException e) {
          failed.incrementAndGet();
        }
        started.countDown();
      }
    });
    traffic.start();
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    long t0 = System.nanoTime();
    ops.put(key(), policy(service, 10, 90));
    await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(1)).until(() -> updates(mesh, "accepted") >= 2);
    long applied = System.nanoTime() - t0;
    Map<String, Integer> after = TestServers.send(stub, 2_000);
    stop.set(true);
    traffic.join();
    System.out.printf("etcd KV policy propagation (write acknowledged -> policy in force): %.1f ms%n", applied / 1e6);
    assertThat(failed.get()).isZero();
    assertThat(after.getOrDefault("v2", 0) / 20.0).isBetween(87.0, 93.0);
  }

  @Test
  void aBadDocumentIsRefusedWithItsKeyNamedWhileTheOldSplitServes() throws Exception {
    Mesh mesh = meshWithPolicy(100, 0);
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = t.stub(mesh, service);
    String badKey = "meshup/config/" + service + "-bad.yaml";
    try (StderrCapture log = new StderrCapture()) {
      // an unknown kind under another key: the whole set is refused, naming that key
      ops.put(badKey, policy("other-" + service, 100, 0).replace("kind: DestinationRule", "kind: DestinationRulez"));
      await().atMost(Duration.ofSeconds(5)).until(() -> updates(mesh, "rejected") >= 1);
      await().atMost(Duration.ofSeconds(2)).until(() -> log.text().contains(badKey));
      ops.delete(badKey);
      await().atMost(Duration.ofSeconds(5)).until(() -> updates(mesh, "accepted") >= 2);
      // the good key made invalid: refused with the key and the field
      // (weights are relative, as in Istio: 101 is a valid weight, -1 is not)
      ops.put(key(), policy(service, 100, 0).replace("weight: 100", "weight: -1"));
      await().atMost(Duration.ofSeconds(5)).until(() -> updates(mesh, "rejected") >= 2);
      await().atMost(Duration.ofSeconds(2)).until(() -> log.text().lines()
          .anyMatch(l -> l.contains("Rejected policy from etcd-kv") && l.contains(key()) && l.contains("weight")));
      // bytes that are not UTF-8: refused by key and byte offset
      String binary = "meshup/config/" + service + "-binary.yaml";
      ops.put(binary, new byte[] {'a', ':', ' ', (byte) 0xc3, (byte) 0x28}, 0);
      await().atMost(Duration.ofSeconds(5)).until(() -> updates(mesh, "rejected") >= 3);
      await().atMost(Duration.ofSeconds(2)).until(() -> log.text().lines()
          .anyMatch(l -> l.contains(binary) && l.contains("not UTF-8")));
      ops.delete(binary);
    }
    assertThat(TestServers.send(stub, 500)).containsOnlyKeys("v1");
    assertThat(mesh.policyOrigins()).contains(key() + ": VirtualService " + service);
    // the watch goes on: a valid document is applied
    double accepted = updates(mesh, "accepted");
    ops.put(key(), policy(service, 0, 100));
    await().atMost(Duration.ofSeconds(5)).until(() -> updates(mesh, "accepted") > accepted);
    assertThat(TestServers.send(stub, 200)).containsOnlyKeys("v2");
  }

  @Test
  void etcdDocumentsRankAboveInlineOnesUnlessThePolicyOrderSaysOtherwise() throws Exception {
    String inline = """
          policies:
          - apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: %1$s }
            spec:
              host: %1$s
              subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
          - apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: %1$s-inline }
            spec:
              hosts: [%1$s]
              http: [{ route: [{ destination: { host: %1$s, subset: v2 } }] }]
        """.formatted(service);
    ops.put(key(), policy(service, 100, 0));
    Mesh etcdWins = mesh(inline);
    await().atMost(Duration.ofSeconds(5)).until(() -> updates(etcdWins, "accepted") >= 1);
    assertThat(etcdWins.policySources().keySet()).containsSubsequence("inline", "etcd-kv");
    await().atMost(Duration.ofSeconds(5)).until(() -> etcdWins.endpoints(service).size() == 2);
    assertThat(TestServers.send(t.stub(etcdWins, service), 100)).containsOnlyKeys("v1");

    Mesh inlineWins = mesh(inline + "  policy: { order: [etcd-kv, inline] }\n");
    await().atMost(Duration.ofSeconds(5)).until(() -> updates(inlineWins, "accepted") >= 1);
    assertThat(inlineWins.policySources().keySet()).containsSubsequence("etcd-kv", "inline");
    await().atMost(Duration.ofSeconds(5)).until(() -> inlineWins.endpoints(service).size() == 2);
    assertThat(TestServers.send(t.stub(inlineWins, service), 100)).containsOnlyKeys("v2");
  }
}
