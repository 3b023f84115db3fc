package io.meshup.consul.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Consul blocking query, repeated: carries the index, delivers each new value, backs off with
 * jitter on errors (keeping the last value in force), and resets the index when Consul's goes
 * backwards (an agent restart or a new leader), as Consul's documentation asks. Runs on a thread
 * of its own, which no answer ends (any throwable from a fetch or a delivery is logged and the
 * watch goes on); {@link #close()} ends it.
 */
abstract class BlockingWatch<T> implements Runnable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BlockingWatch.class);
  static final long MIN_BACKOFF_MS = 100;
  static final long MAX_BACKOFF_MS = 10_000;
  /** An unchanged answer faster than this did not block: pause before asking again. */
  static final long MIN_BLOCK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
  static final long NON_BLOCKING_PAUSE_MS = 250;

  private final String name;
  private final CountDownLatch closed = new CountDownLatch(1);
  private final Counter failures;
  private final Counter resets;
  private long index;
  private int consecutiveFailures;
  private boolean delivered;

  BlockingWatch(String name, MeterRegistry meters) {
    this.name = name;
    this.failures = Counter.builder("mesh.registry.watch.errors").description("Failed Consul blocking queries")
        .tags("watch", name, "kind", "request_failed").register(meters);
    this.resets = Counter.builder("mesh.registry.watch.errors").description("Failed Consul blocking queries")
        .tags("watch", name, "kind", "index_reset").register(meters);
  }

  /** Runs one query: from {@code index}, waiting at most the configured wait. */
  abstract ConsulApi.Result<T> fetch(long index);

  /** Receives a value; called from the watch thread, never concurrently. */
  abstract void deliver(T value);

  /** Called on each failure; the default does nothing. */
  void failed(Exception e) {}

  @Override
  public void run() {
    while (closed.getCount() > 0) {
      ConsulApi.Result<T> r;
      long asked = System.nanoTime();
      try {
        r = fetch(index);
      } catch (Throwable t) {
        // no answer, however broken, may end the watch's thread
        Exception e = t instanceof Exception ex ? ex : new RuntimeException(t);
        if (closed.getCount() == 0) {
          return;
        }
        consecutiveFailures++;
        failures.increment();
        long cap = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS << Math.min(consecutiveFailures - 1, 10));
        long backoff = ThreadLocalRandom.current().nextLong(cap / 2, cap + 1);
        if (consecutiveFailures == 1 || consecutiveFailures % 10 == 0) {
          log.warn("Consul watch {} failed ({} in a row), keeping the last known state; retrying in {} ms: {}",
              name, consecutiveFailures, backoff, e.toString());
        }
        try {
          failed(e);
        } catch (Throwable t2) {
          log.error("Consul watch {}: handling a failure failed", name, t2);
        }
        pause(backoff);
        continue;
      }
      if (consecutiveFailures > 0) {
        log.info("Consul watch {} recovered after {} failures", name, consecutiveFailures);
        consecutiveFailures = 0;
      }
      long n = r.index();
      if (n < index) {
        resets.increment();
        log.info("Consul watch {}: index went backwards ({} -> {}), resetting", name, index, n);
        index = 0;
        continue;
      }
      boolean changed = n != index || !delivered;
      if (!changed && System.nanoTime() - asked < MIN_BLOCK_NANOS) {
        // the agent (or a proxy in front of it) answered at once with nothing new: do not spin
        pause(NON_BLOCKING_PAUSE_MS);
      }
      index = Math.max(n, 1);
      if (changed && closed.getCount() > 0) {
        try {
          deliver(r.value());
        } catch (Throwable e) {
          log.error("Consul watch {}: could not apply an update; the last good state keeps serving: {}", name, e.toString());
        }
        delivered = true;
      }
    }
  }

  private void pause(long millis) {
    try {
      closed.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closed.countDown();
    }
  }

  String name() {
    return name;
  }

  @Override
  public void close() {
    closed.countDown();
  }
}
