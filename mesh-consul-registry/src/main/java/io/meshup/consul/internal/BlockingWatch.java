package io.meshup.consul.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Consul blocking query, repeated: carries the index, delivers each new value, backs off with
 * jitter on errors (keeping the last value in force), and resets the index when Consul's goes
 * backwards (an agent restart or a new leader), as Consul's documentation asks. Runs on a thread
 * of its own, which no answer ends (any throwable from a fetch or a delivery is logged and the
 * watch goes on); {@link #close()} ends it.
 *
 * <p>The watch is in one of three states, and logs one line when it changes state, not one per
 * failure: answering ({@code mesh.registry.watch.connected} 1); failing (0: a WARN with the first
 * error, then DEBUG; an INFO when it answers again); stale (0: the servers that answer have not
 * heard from a leader for longer than the maximum staleness and the leader cannot be asked; their
 * answers are used, counted as {@code kind=stale}). While failing or stale it asks with a short
 * wait ({@link #RECOVERY_WAIT}), so it notices within about a second that Consul is back, then
 * blocks for the full wait again.
 */
abstract class BlockingWatch<T> implements Runnable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BlockingWatch.class);
  /** An unchanged answer faster than this did not block: pause before asking again. */
  static final long MIN_BLOCK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
  static final long NON_BLOCKING_PAUSE_MS = 250;
  /** The wait of the queries of a watch that is failing or stale. */
  static final Duration RECOVERY_WAIT = Duration.ofSeconds(1);

  private enum State { ANSWERING, FAILING, STALE }

  private final String name;
  private final Duration wait;
  private final ConsulSettings.Backoff backoff;
  private final CountDownLatch closed = new CountDownLatch(1);
  private final Counter failures;
  private final Counter resets;
  private final Counter staleAnswers;
  private final AtomicInteger connected = new AtomicInteger();
  private final AtomicLong lastContact = new AtomicLong();
  private long index;
  private int consecutiveFailures;
  private long failingSince;
  private boolean delivered;
  private State state = State.ANSWERING;

  /** A watch with a 30 s wait and the default backoff. */
  BlockingWatch(String name, MeterRegistry meters) {
    this(name, meters, Duration.ofSeconds(30), ConsulSettings.Backoff.DEFAULT);
  }

  BlockingWatch(String name, MeterRegistry meters, Duration wait, ConsulSettings.Backoff backoff) {
    this.name = name;
    this.wait = wait;
    this.backoff = backoff;
    this.failures = errors(meters, name, "request_failed");
    this.resets = errors(meters, name, "index_reset");
    this.staleAnswers = errors(meters, name, "stale");
    Gauge.builder("mesh.registry.watch.connected", connected, AtomicInteger::get)
        .description("1 while the Consul watch gets answers (within the maximum staleness), 0 while it fails or they are too old")
        .tags("watch", name).register(meters);
    Gauge.builder("mesh.registry.watch.staleness", lastContact, v -> v.get() / 1000.0)
        .description("How long the server that last answered the watch had not heard from the leader (X-Consul-LastContact)")
        .baseUnit("seconds").tags("watch", name).register(meters);
  }

  /** The counter {@code mesh.registry.watch.errors{watch,kind}}. */
  static Counter errors(MeterRegistry meters, String watch, String kind) {
    return Counter.builder("mesh.registry.watch.errors").description("Failed Consul reads, index resets and too stale answers")
        .tags("watch", watch, "kind", kind).register(meters);
  }

  /** Runs one query: from {@code index}, waiting at most {@code wait}. */
  abstract ConsulApi.Result<T> fetch(long index, Duration wait);

  /** Receives a value; called from the watch thread, never concurrently. */
  abstract void deliver(T value);

  /** Called on each failure; the default does nothing. */
  void failed(Exception e) {}

  /** Called when the watch starts answering again after failures; the default does nothing. */
  void recovered() {}

  /** Called when Consul's index went backwards, before the query from index 0; the default does nothing. */
  void indexReset() {}

  @Override
  public void run() {
    while (closed.getCount() > 0) {
      ConsulApi.Result<T> r;
      long asked = System.nanoTime();
      try {
        r = fetch(index, state == State.ANSWERING ? wait : RECOVERY_WAIT);
      } catch (Throwable t) {
        // no answer, however broken, may end the watch's thread
        Exception e = t instanceof Exception ex ? ex : new RuntimeException(t);
        if (closed.getCount() == 0) {
          return;
        }
        fail(e);
        continue;
      }
      answered(r);
      // Consul's advice: an index of 0 is a bug on its side (or a proxy's); treat it as 1, never as a reset
      long n = Math.max(r.index(), 1);
      if (n < index) {
        resets.increment();
        log.info("Consul watch {}: index went backwards ({} -> {}), reading it all again", name, index, n);
        index = 0;
        safely("handling an index reset", this::indexReset);
        continue;
      }
      boolean changed = n != index || !delivered;
      if (!changed && System.nanoTime() - asked < MIN_BLOCK_NANOS) {
        // the agent (or a proxy in front of it) answered at once with nothing new: do not spin
        pause(NON_BLOCKING_PAUSE_MS);
      }
      index = n;
      if (changed && closed.getCount() > 0) {
        T value = r.value();
        safely("applying an update (the last good state keeps serving)", () -> deliver(value));
        delivered = true;
      }
    }
  }

  private void fail(Exception e) {
    consecutiveFailures++;
    failures.increment();
    connected.set(0);
    long delay = backoff.delayMillis(consecutiveFailures);
    if (state != State.FAILING) {
      failingSince = System.nanoTime();
      log.warn("Consul watch {} failed, keeping the last known state; retrying every {} ms at most until it answers: {}",
          name, backoff.max().toMillis(), e.toString());
      state = State.FAILING;
    } else {
      log.debug("Consul watch {} failed again ({} in a row), retrying in {} ms: {}", name, consecutiveFailures, delay, e.toString());
    }
    safely("handling a failure", () -> failed(e));
    pause(delay);
  }

  private void answered(ConsulApi.Result<T> r) {
    lastContact.set(r.lastContactMillis());
    if (r.tooStale()) {
      staleAnswers.increment();
      connected.set(0);
      if (state != State.STALE) {
        log.warn("Consul watch {}: the server answering has not heard from a leader for {} ms and the leader cannot be "
            + "asked; using its answers (data a leader committed) and checking every second", name, r.lastContactMillis());
        if (state == State.FAILING) {
          consecutiveFailures = 0;
        }
        state = State.STALE;
      }
      return;
    }
    connected.set(1);
    if (state == State.FAILING) {
      log.info("Consul watch {} answers again after {} failures in {} ms", name, consecutiveFailures,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - failingSince));
      consecutiveFailures = 0;
      state = State.ANSWERING;
      safely("handling the recovery", this::recovered);
    } else if (state == State.STALE) {
      log.info("Consul watch {}: answers are current again ({} ms behind the leader)", name, r.lastContactMillis());
      state = State.ANSWERING;
      safely("handling the recovery", this::recovered);
    }
  }

  private void safely(String what, Runnable r) {
    try {
      r.run();
    } catch (Throwable t) {
      log.error("Consul watch {}: {} failed: {}", name, what, t.toString(), t);
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

  /** Whether the watch is answering (not failing, not stale). */
  boolean answering() {
    return connected.get() == 1;
  }

  @Override
  public void close() {
    closed.countDown();
  }
}
