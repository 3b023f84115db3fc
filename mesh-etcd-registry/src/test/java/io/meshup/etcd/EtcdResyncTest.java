package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import io.meshup.etcd.testing.TcpProxy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A mesh cut off from etcd while the keys change and the history is compacted, and an etcd rebuilt
 * from scratch: the last known endpoints serve meanwhile, and afterwards the watch reads the keys
 * again and the endpoints are right.
 */
class EtcdResyncTest {
  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single();

  EtcdOps ops;
  TestServers t;
  String service;

  @BeforeEach
  void setUp() {
    ops = new EtcdOps(etcd);
    t = new TestServers();
    service = "inventory-" + Long.toHexString(System.nanoTime());
  }

  @AfterEach
  void tearDown() throws Exception {
    t.close();
  }

  static double count(Mesh mesh, String watch, String kind) {
    var c = mesh.meterRegistry().find("mesh.registry.watch.errors").tags("watch", watch, "kind", kind).counter();
    return c == null ? 0 : c.count();
  }

  static double connected(Mesh mesh, String watch) {
    var g = mesh.meterRegistry().find("mesh.registry.watch.connected").tags("watch", watch).gauge();
    return g == null ? -1 : g.value();
  }

  static List<String> endpoints(Mesh mesh, String service) {
    return mesh.endpoints(service).stream().map(e -> e.id() + "=" + e.labels().getOrDefault("version", "")).sorted().toList();
  }

  @Test
  void afterADisconnectTheWatchResumesFromTheLastRevisionAndMissesNoChange() throws Exception {
    String p = "services/" + service + "/";
    int a = t.server("a").getPort();
    ops.put(p + "a", EtcdRegistryTest.goValue("127.0.0.1:" + a, "{\"version\":\"v1\"}"));
    try (TcpProxy proxy = TcpProxy.to(etcd.clientEndpoint(0))) {
      Mesh mesh = t.closeLater(Mesh.fromYamlString("""
          mesh:
            service: checkout
            registry:
              type: etcd
              etcd: { endpoints: [%s] }
          """.formatted(proxy.address())));
      String watch = "service:" + service;
      await().atMost(Duration.ofSeconds(5)).until(() -> endpoints(mesh, service).equals(List.of("a=v1")));
      await().atMost(Duration.ofSeconds(5)).until(() -> connected(mesh, watch) == 1);
      proxy.cut();
      await().atMost(Duration.ofSeconds(10)).until(() -> connected(mesh, watch) == 0);
      // every kind of change, including one that is undone before the watch is back
      ops.put(p + "a", EtcdRegistryTest.goValue("127.0.0.1:" + a, "{\"version\":\"v2\"}"));
      ops.put(p + "b", EtcdRegistryTest.goValue("127.0.0.1:" + a, "{\"version\":\"v1\"}"));
      ops.put(p + "c", EtcdRegistryTest.goValue("127.0.0.1:" + a, "{}"));
      ops.delete(p + "c");
      assertThat(endpoints(mesh, service)).containsExactly("a=v1");
      proxy.heal();
      await().atMost(Duration.ofSeconds(10)).until(() -> endpoints(mesh, service).equals(List.of("a=v2", "b=v1")));
      assertThat(count(mesh, watch, "compacted")).isZero();
      assertThat(count(mesh, watch, "revision_reset")).isZero();
    }
  }

  @Test
  void compactionDuringALongDisconnectIsFollowedByAFullReadAndTheRightEndpoints() throws Exception {
    String p = "services/" + service + "/";
    int a = t.server("a").getPort();
    int b = t.server("b").getPort();
    int c = t.server("c").getPort();
    int d = t.server("d").getPort();
    ops.put(p + "a", EtcdRegistryTest.goValue("127.0.0.1:" + a, "{\"version\":\"v1\"}"));
    ops.put(p + "b", EtcdRegistryTest.goValue("127.0.0.1:" + b, "{\"version\":\"v1\"}"));
    ops.put(p + "c", EtcdRegistryTest.goValue("127.0.0.1:" + c, "{\"version\":\"v1\"}"));
    try (TcpProxy proxy = TcpProxy.to(etcd.clientEndpoint(0))) {
      Mesh mesh = t.closeLater(Mesh.fromYamlString("""
          mesh:
            service: checkout
            registry:
              type: etcd
              etcd: { endpoints: [%s] }
          """.formatted(proxy.address())));
      String watch = "service:" + service;
      await().atMost(Duration.ofSeconds(5)).until(() -> endpoints(mesh, service).equals(List.of("a=v1", "b=v1", "c=v1")));
      await().atMost(Duration.ofSeconds(5)).until(() -> connected(mesh, watch) == 1);
      SimpleServiceGrpc.SimpleServiceBlockingStub stub = t.stub(mesh, service);

      proxy.cut();
      await().atMost(Duration.ofSeconds(10)).until(() -> connected(mesh, watch) == 0);
      // meanwhile: one instance goes, one arrives, one changes, and the history is compacted past all of it
      ops.delete(p + "a");
      ops.put(p + "d", EtcdRegistryTest.goValue("127.0.0.1:" + d, "{\"version\":\"v2\"}"));
      ops.put(p + "b", EtcdRegistryTest.goValue("127.0.0.1:" + b, "{\"version\":\"v2\"}"));
      for (int i = 0; i < 50; i++) {
        ops.put("unrelated/" + service, "filler " + i);
      }
      ops.compact(ops.revision());
      // a long disconnect: the watch retries with backoff, several times, while the old endpoints serve
      await().atMost(Duration.ofSeconds(20)).until(() -> count(mesh, watch, "request_failed") >= 4);
      assertThat(endpoints(mesh, service)).containsExactly("a=v1", "b=v1", "c=v1");
      // which of them the balancer favours is its business (peak EWMA on a loaded machine); none other serves
      assertThat(TestServers.send(stub, 300).keySet()).isNotEmpty().isSubsetOf("a", "b", "c");

      long healed = System.nanoTime();
      proxy.heal();
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2))
          .until(() -> endpoints(mesh, service).equals(List.of("b=v2", "c=v1", "d=v2")));
      long resynced = System.nanoTime() - healed;
      System.out.printf("etcd resync after a disconnect of %.0f failed retries and a compaction: endpoints right %d ms "
          + "after the network came back%n", count(mesh, watch, "request_failed"), TimeUnit.NANOSECONDS.toMillis(resynced));
      assertThat(count(mesh, watch, "compacted")).isEqualTo(1);
      assertThat(TestServers.send(stub, 300).keySet()).isNotEmpty().isSubsetOf("b", "c", "d");
      // and it watches again from there
      ops.delete(p + "c");
      await().atMost(Duration.ofSeconds(5)).until(() -> endpoints(mesh, service).equals(List.of("b=v2", "d=v2")));
    }
  }

  @Test
  void anEtcdRebuiltFromScratchIsReadAgain() throws Exception {
    int x = t.server("x").getPort();
    int y = t.server("y").getPort();
    try (EtcdCluster own = EtcdCluster.single().start()) {
      EtcdOps o = new EtcdOps(own);
      String p = "services/" + service + "/";
      o.put(p + "x", EtcdRegistryTest.goValue("127.0.0.1:" + x, "{}"));
      for (int i = 0; i < 30; i++) {
        o.put("filler", "revision " + i);
      }
      Mesh mesh = t.closeLater(Mesh.fromYamlString("""
          mesh:
            service: checkout
            registry:
              type: etcd
              etcd: { endpoints: [%s] }
          """.formatted(own.clientEndpoints())));
      await().atMost(Duration.ofSeconds(5)).until(() -> mesh.endpoints(service).stream().map(Endpoint::id).toList()
          .equals(List.of("x")));
      // a new, empty cluster on the same address: its revisions start over below what the watch has seen
      own.wipeAndRestart();
      o.put(p + "y", EtcdRegistryTest.goValue("127.0.0.1:" + y, "{}"));
      await().atMost(Duration.ofSeconds(15)).until(() -> mesh.endpoints(service).stream().map(Endpoint::id).toList()
          .equals(List.of("y")));
      assertThat(count(mesh, "service:" + service, "revision_reset")).isGreaterThanOrEqualTo(1);
    }
  }
}
