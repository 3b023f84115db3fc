package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.core.Mesh;
import io.meshup.core.testing.ChildProcess;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Health by lease: an instance in a JVM of its own registers with a 2 s lease; when the process is
 * killed, or frozen (as a partition would cut it off) past the TTL, etcd deletes its key and callers
 * stop routing to it; a frozen one that resumes registers again.
 */
class EtcdLeaseTest {
  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single();

  TestServers t;
  EtcdOps ops;
  String service;

  @BeforeEach
  void setUp() {
    t = new TestServers();
    ops = new EtcdOps(etcd);
    service = "worker-" + Long.toHexString(System.nanoTime());
  }

  @AfterEach
  void tearDown() throws Exception {
    t.close();
  }

  Mesh caller() {
    Mesh m = t.closeLater(Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry:
            type: etcd
            etcd: { endpoints: [%s] }
        """.formatted(etcd.clientEndpoints())));
    m.endpoints(service);
    return m;
  }

  @Test
  void theKeyGoesWithinTheTtlWhenTheProcessDies() throws Exception {
    Mesh caller = caller();
    try (ChildProcess child = ChildProcess.start(RegisteringInstance.class, etcd.clientEndpoints(), service, "2s")) {
      await().atMost(Duration.ofSeconds(5)).until(() -> caller.endpoints(service).size() == 1);
      assertThat(TestServers.send(t.stub(caller, service), 10)).containsOnlyKeys("child");
      long t0 = System.nanoTime();
      child.kill();
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> caller.endpoints(service).isEmpty());
      long gone = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.printf("etcd lease expiry: instance SIGKILLed, gone from the caller's routing table %d ms later (ttl 2 s)%n", gone);
      assertThat(gone).as("removed by the lease's expiry, not before").isBetween(900L, 6_000L);
      assertThat(ops.get("services/" + service + "/127.0.0.1:" + child.port())).isNull();
    }
  }

  @Test
  void aProcessFrozenPastItsTtlIsRemovedAndRegistersAgainWhenItResumes() throws Exception {
    Mesh caller = caller();
    try (ChildProcess child = ChildProcess.start(RegisteringInstance.class, etcd.clientEndpoints(), service, "2s")) {
      await().atMost(Duration.ofSeconds(5)).until(() -> caller.endpoints(service).size() == 1);
      long t0 = System.nanoTime();
      child.freeze(); // SIGSTOP: its connections stay open, its keep-alives stop
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> caller.endpoints(service).isEmpty());
      long gone = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      long t1 = System.nanoTime();
      child.resume();
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> caller.endpoints(service).size() == 1);
      long back = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1);
      System.out.printf("etcd lease: instance frozen, gone from the caller's routing table after %d ms (ttl 2 s); "
          + "resumed, registered again and back %d ms later%n", gone, back);
      assertThat(TestServers.send(t.stub(caller, service), 10)).containsOnlyKeys("child");
    }
  }
}
