package io.meshup.etcd.internal;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Retry delays: {@code initial} doubling per consecutive failure up to {@code max}, each drawn
 * uniformly from the upper half of that step ("equal jitter"), so clients that failed together do
 * not retry together. Not thread-safe: each watch holds its own and uses it from its serial executor.
 */
final class Backoff {
  private final long initialNanos;
  private final long maxNanos;
  private final RandomGenerator random;
  private int failures;

  Backoff(Duration initial, Duration max, RandomGenerator random) {
    this.initialNanos = initial.toNanos();
    this.maxNanos = max.toNanos();
    this.random = random;
  }

  /** Counts a failure and returns the delay before the next attempt, in nanoseconds. */
  long nextDelayNanos() {
    failures++;
    long step = initialNanos;
    for (int i = 1; i < failures && step < maxNanos; i++) {
      step *= 2;
    }
    step = Math.min(step, maxNanos);
    return step / 2 + random.nextLong(step / 2 + 1);
  }

  /** Consecutive failures since the last {@link #reset()}. */
  int failures() {
    return failures;
  }

  /** Starts over after a success. */
  void reset() {
    failures = 0;
  }
}
