package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.StatusRuntimeException;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A 3-member etcd cluster losing its leader (SIGKILL), then a second member (no quorum), under
 * steady gRPC traffic: no call to a healthy endpoint fails, the watches come back once quorum does,
 * and later changes reach the routing table.
 */
class EtcdClusterFailoverTest {
  @RegisterExtension
  static EtcdCluster cluster = EtcdCluster.of(3);

  final TestServers t = new TestServers();

  @AfterEach
  void tearDown() throws Exception {
    t.close();
    for (int i = 0; i < cluster.size(); i++) {
      cluster.launchOnly(i);
    }
  }

  static String goValue(int port, String version) {
    return "{\"Op\":0,\"Addr\":\"127.0.0.1:" + port + "\",\"Metadata\":{\"version\":\"" + version + "\"}}";
  }

  static double gauge(Mesh mesh, String watch) {
    var g = mesh.meterRegistry().find("mesh.registry.watch.connected").tags("watch", watch).gauge();
    return g == null ? -1 : g.value();
  }

  static List<String> ids(Mesh mesh, String service) {
    return mesh.endpoints(service).stream().map(Endpoint::id).sorted().toList();
  }

  @Test
  void leaderKilledThenQuorumLostFailsNoCallAndWatchesReturnWithQuorum() throws Exception {
    EtcdOps ops = new EtcdOps(cluster);
    String service = "ledger-" + Long.toHexString(System.nanoTime());
    String prefix = "services/" + service + "/";
    int a = t.server("a").getPort();
    int b = t.server("b").getPort();
    int self = t.server("self").getPort();
    int later = t.server("later").getPort();
    ops.put(prefix + "a", goValue(a, "v1"));
    ops.put(prefix + "b", goValue(b, "v1"));
    // an instance that registers itself: its lease must outlive the leader change and the lost quorum
    t.closeLater(Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: ["%s"]
              registration: { port: %d, id: self, metadata: { version: v1 }, ttl: 5s, drainTime: 0s }
        """.formatted(service, cluster.clientEndpoints(), self)));
    Mesh caller = t.closeLater(Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry:
            type: etcd
            etcd:
              endpoints: ["%s"]
        """.formatted(cluster.clientEndpoints())));
    String watch = "service:" + service;
    await().atMost(Duration.ofSeconds(5)).until(() -> ids(caller, service).equals(List.of("a", "b", "self")));
    await().atMost(Duration.ofSeconds(5)).until(() -> gauge(caller, watch) == 1);

    SimpleServiceGrpc.SimpleServiceBlockingStub stub = t.stub(caller, service);
    AtomicInteger ok = new AtomicInteger();
    Map<String, Integer> failures = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    Thread[] traffic = new Thread[2];
    for (int i = 0; i < traffic.length; i++) {
      traffic[i] = new Thread(() -> {
        while (!stop.get()) {
          try {
            stub.withDeadlineAfter(2, TimeUnit.SECONDS).unaryRpc(TestServers.REQ);
            ok.incrementAndGet();
          } catch (StatusRuntimeException e) {
            failures.merge(e.getStatus().getCode() + ": " + e.getStatus().getDescription(), 1, Integer::sum);
          }
        }
      }, "traffic-" + i);
      traffic[i].start();
    }
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > 500);

      // 1. the leader is SIGKILLed; the others elect a new one
      int first = await().atMost(Duration.ofSeconds(5)).until(cluster::leader, l -> l >= 0);
      long k1 = System.nanoTime();
      cluster.kill(first);
      int second = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
          .until(cluster::leader, l -> l >= 0 && l != first);
      long elected = System.nanoTime();
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5)).until(() -> gauge(caller, watch) == 1);
      long watchBack1 = System.nanoTime();
      int atElection = ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > atElection + 500);
      long t1 = System.nanoTime();
      ops.put(prefix + "later", goValue(later, "v2"));
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1))
          .until(() -> ids(caller, service).contains("later"));
      long change1 = System.nanoTime() - t1;
      System.out.printf("etcd cluster: leader m%d killed; m%d elected after %d ms; watch established (again, or still) %d ms "
          + "after the kill; a change then reached the routing table in %d ms%n", first, second,
          TimeUnit.NANOSECONDS.toMillis(elected - k1), TimeUnit.NANOSECONDS.toMillis(watchBack1 - k1),
          TimeUnit.NANOSECONDS.toMillis(change1));

      // 2. a second member goes: no quorum; the survivor, without a leader, ends the watch streams
      cluster.kill(second);
      int survivor = 3 - first - second;
      long k2 = System.nanoTime();
      await().atMost(Duration.ofSeconds(15)).until(() -> gauge(caller, watch) == 0);
      long noLeader = System.nanoTime();
      int atLoss = ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > atLoss + 1_000);
      assertThat(ids(caller, service)).as("the last known endpoints serve while etcd has no quorum")
          .containsExactly("a", "b", "later", "self");

      // 3. quorum returns (the first member restarts with its data); the watch must be back within 2 s
      cluster.launchOnly(first);
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5)).until(() -> cluster.leader() >= 0);
      long quorum = System.nanoTime();
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5)).until(() -> gauge(caller, watch) == 1);
      long watchBack2 = System.nanoTime();
      long t2 = System.nanoTime();
      ops.delete(prefix + "b");
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1))
          .until(() -> ids(caller, service).equals(List.of("a", "later", "self")));
      long change2 = System.nanoTime() - t2;
      int atEnd = ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > atEnd + 500);
      stop.set(true);
      for (Thread th : traffic) {
        th.join();
      }
      System.out.printf("etcd cluster: m%d killed too (only m%d left): the watch was ended %d ms later; quorum back "
          + "(m%d restarted): watch established %d ms after a leader was elected; a change then reached the routing "
          + "table in %d ms; %d calls ok, failed: %s%n", second, survivor,
          TimeUnit.NANOSECONDS.toMillis(noLeader - k2), first, TimeUnit.NANOSECONDS.toMillis(watchBack2 - quorum),
          TimeUnit.NANOSECONDS.toMillis(change2), ok.get(), failures);
      assertThat(failures).as("calls to healthy endpoints that failed").isEmpty();
      assertThat(watchBack2 - quorum).as("watch back after quorum").isLessThan(TimeUnit.SECONDS.toNanos(2));
      assertThat(ops.get("services/" + service + "/self")).as("the lease outlived the lost quorum").isNotNull();
    } finally {
      stop.set(true);
      for (Thread th : traffic) {
        th.join();
      }
    }
  }
}
