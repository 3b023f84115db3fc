package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.spi.ServiceRegistry;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.FakeScheduler;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A registry whose watch, on close, waits for a delivery in progress (as a registry with its own
 * delivery thread does): the mesh closes watches, when a destination goes idle and when the mesh
 * closes, without holding the lock a delivery takes, so neither waits on the other.
 */
class RegistryWatchCloseTest {
  /** Each watch delivers from a thread of its own, over and over, until closed; close joins it. */
  static final class BusyRegistry implements ServiceRegistry {
    final List<Thread> threads = new CopyOnWriteArrayList<>();
    final CountDownLatch delivered = new CountDownLatch(50);

    @Override
    public Watch watch(String service, EndpointListener listener) {
      List<Endpoint> eps = List.of(new Endpoint("a", "127.0.0.1", 9001, Map.of(), 1));
      listener.onEndpoints(eps);
      Thread t = new Thread(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          listener.onEndpoints(eps);
          delivered.countDown();
        }
      }, "busy-registry-" + service);
      t.setDaemon(true);
      t.start();
      threads.add(t);
      return () -> {
        t.interrupt();
        try {
          t.join(); // waits for the delivery in progress, which takes the mesh's lock
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };
    }

    @Override
    public void close() {}
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void anIdleDestinationsWatchClosesWhileItDelivers() throws Exception {
    FakeClock clock = new FakeClock();
    FakeScheduler scheduler = new FakeScheduler(clock);
    BusyRegistry registry = new BusyRegistry();
    try (Mesh mesh = Mesh.builder().yaml("mesh:\n  service: checkout\n  defaults: { idleTimeout: 1s }\n").clock(clock)
        .scheduler(scheduler).registry(registry).build()) {
      mesh.router("payments");
      assertThat(registry.delivered.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(mesh.destinationCount()).isEqualTo(1);
      scheduler.advance(Duration.ofSeconds(5));
      assertThat(mesh.destinationCount()).as("released while its watch was delivering").isZero();
      assertThat(registry.threads.get(0).isAlive()).isFalse();
    }
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void closingTheMeshClosesWatchesThatAreDelivering() throws Exception {
    BusyRegistry registry = new BusyRegistry();
    Mesh mesh = Mesh.builder().service("checkout").registry(registry).build();
    mesh.router("payments");
    mesh.router("ledger");
    assertThat(registry.delivered.await(30, TimeUnit.SECONDS)).isTrue();
    mesh.close();
    assertThat(registry.threads).hasSize(2).noneMatch(Thread::isAlive);
  }
}
