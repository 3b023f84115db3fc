package io.meshup.etcd.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meshup.core.internal.config.NodeSettings;
import io.meshup.core.internal.config.YamlReader;
import io.meshup.etcd.internal.proto.KeyValue;
import io.meshup.etcd.testing.EtcdCluster;
import io.meshup.etcd.testing.EtcdOps;
import io.meshup.etcd.testing.TcpProxy;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The watch itself against a real member: a range bigger than a page, a catch-up bigger than one
 * message (sent in fragments, applied as one change), listeners that throw, and close.
 */
class PrefixWatchTest {
  // a small request limit, so that a catch-up of a few hundred keys exceeds it plus gRPC's overhead
  @RegisterExtension
  static EtcdCluster etcd = EtcdCluster.single().withArgs("--max-request-bytes", "4096");

  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  EtcdOps ops;
  String prefix;
  EtcdClient client;

  @BeforeEach
  void setUp() {
    ops = new EtcdOps(etcd);
    prefix = "watched-" + Long.toHexString(System.nanoTime()) + "/";
  }

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    scheduler.shutdownNow();
  }

  EtcdClient client(String endpoints) {
    client = new EtcdClient(EtcdSettings.read(new NodeSettings(new YamlReader(k -> null).read("test",
        "{ endpoints: [" + endpoints + "] }")), "test"));
    return client;
  }

  PrefixWatch watch(EtcdClient c, PrefixWatch.Listener listener) {
    ByteString key = ByteString.copyFromUtf8(prefix);
    return new PrefixWatch("test:" + prefix, key, PrefixWatch.prefixEnd(key), c, scheduler,
        new Backoff(Duration.ofMillis(20), Duration.ofMillis(200), new SplittableRandom(1)), meters, listener);
  }

  @Test
  void aRangeBiggerThanAPageIsReadWholeAtOneRevision() {
    int n = PrefixWatch.PAGE_SIZE * 2 + 17;
    for (int i = 0; i < n; i++) {
      ops.put(prefix + String.format("%05d", i), "v" + i);
    }
    List<Integer> sizes = new CopyOnWriteArrayList<>();
    PrefixWatch w = watch(client(etcd.clientEndpoints()), (kvs, rev) -> sizes.add(kvs.size()));
    w.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> !sizes.isEmpty());
    assertThat(sizes.get(0)).isEqualTo(n);
    ops.put(prefix + "zz", "one more");
    await().atMost(Duration.ofSeconds(5)).until(() -> sizes.contains(n + 1));
    w.close();
  }

  @Test
  void aCatchUpSentInFragmentsIsAppliedAsOneChange() throws Exception {
    try (TcpProxy proxy = TcpProxy.to(etcd.clientEndpoint(0))) {
      List<Integer> sizes = new CopyOnWriteArrayList<>();
      PrefixWatch w = watch(client(proxy.address()), (kvs, rev) -> sizes.add(kvs.size()));
      w.start();
      await().atMost(Duration.ofSeconds(5)).until(w::connected);
      proxy.cut();
      await().atMost(Duration.ofSeconds(5)).until(() -> !w.connected());
      String value = "x".repeat(3_000);
      for (int i = 0; i < 250; i++) {
        ops.put(prefix + i, value); // 250 x 3 kB: well over 4 kB + 512 kB, so etcd fragments the catch-up
      }
      proxy.heal();
      await().atMost(Duration.ofSeconds(10)).until(() -> sizes.contains(250));
      assertThat(w.fragmentsReceived()).as("responses that were fragments").isPositive();
      assertThat(sizes).containsExactly(0, 250);
      w.close();
    }
  }

  @Test
  void aListenerThatThrowsDoesNotEndTheWatchAndNothingIsDeliveredAfterClose() {
    AtomicInteger calls = new AtomicInteger();
    List<Integer> afterClose = new CopyOnWriteArrayList<>();
    EtcdClient c = client(etcd.clientEndpoints());
    PrefixWatch w = watch(c, (kvs, rev) -> {
      if (calls.incrementAndGet() <= 2) {
        throw new Error("a listener's bug"); // any throwable, not only exceptions
      }
    });
    w.start();
    await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 1);
    ops.put(prefix + "a", "1");
    await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 2);
    ops.put(prefix + "b", "2");
    await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 3);
    w.close();
    int atClose = calls.get();
    // a second watch on the same keys proves the next change was sent before the first is checked
    List<Map<String, KeyValue>> seen = new CopyOnWriteArrayList<>();
    PrefixWatch probe = watch(c, (kvs, rev) -> seen.add(kvs));
    probe.start();
    ops.put(prefix + "c", "3");
    await().atMost(Duration.ofSeconds(5)).until(() -> seen.stream().anyMatch(m -> m.containsKey(prefix + "c")));
    assertThat(calls.get()).isEqualTo(atClose);
    assertThat(afterClose).isEmpty();
    probe.close();
  }
}
