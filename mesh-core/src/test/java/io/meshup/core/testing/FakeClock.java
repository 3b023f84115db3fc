package io.meshup.core.testing;

import io.meshup.core.MeshClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that moves only when a test moves it. Thread-safe. */
public final class FakeClock implements MeshClock {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final AtomicLong wallMillis = new AtomicLong(1_700_000_000_000L);

  @Override
  public long nanoTime() {
    return nanos.get();
  }

  @Override
  public long currentTimeMillis() {
    return wallMillis.get();
  }

  /** Moves both clocks forward. */
  public void advance(Duration d) {
    nanos.addAndGet(d.toNanos());
    wallMillis.addAndGet(d.toMillis());
  }
}
