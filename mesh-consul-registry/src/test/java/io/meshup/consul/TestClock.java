package io.meshup.consul;

import io.meshup.core.MeshClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that starts at the real time and then moves only when a test moves it. Thread-safe. */
final class TestClock implements MeshClock {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final AtomicLong wallMillis = new AtomicLong(System.currentTimeMillis());

  @Override
  public long nanoTime() {
    return nanos.get();
  }

  @Override
  public long currentTimeMillis() {
    return wallMillis.get();
  }

  /** Moves both clocks forward. */
  void advance(Duration d) {
    nanos.addAndGet(d.toNanos());
    wallMillis.addAndGet(d.toMillis());
  }

  /** Moves the wall clock to {@code epochMillis} (forward only). */
  void advanceTo(long epochMillis) {
    advance(Duration.ofMillis(epochMillis - wallMillis.get()));
  }
}
