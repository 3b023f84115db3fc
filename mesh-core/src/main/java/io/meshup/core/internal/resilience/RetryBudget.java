package io.meshup.core.internal.resilience;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Finagle's retry budget: retries may be at most {@code percentCanRetry} of the requests seen over
 * the last {@code ttl}, plus {@code minRetriesPerSecond} each second of it, so a failing destination
 * cannot be hammered by retries. Lock-free: ten time buckets of counters; racing updates may lose
 * a count at a bucket boundary, which only makes the budget marginally looser or tighter.
 */
public final class RetryBudget {
  private static final int BUCKETS = 10;

  private final long bucketNanos;
  private final double percent;
  private final double reserve;
  private final AtomicLongArray epochs = new AtomicLongArray(BUCKETS);
  private final AtomicLongArray requests = new AtomicLongArray(BUCKETS);
  private final AtomicLongArray retries = new AtomicLongArray(BUCKETS);

  /**
   * @param ttlNanos the window, for example 10 s
   * @param percentCanRetry share of requests that may be retried, 0..1 (0.2 by default)
   * @param minRetriesPerSecond retries always allowed per second of the window (10 by default)
   */
  public RetryBudget(long ttlNanos, double percentCanRetry, double minRetriesPerSecond) {
    this.bucketNanos = Math.max(ttlNanos / BUCKETS, 1);
    this.percent = percentCanRetry;
    this.reserve = minRetriesPerSecond * (ttlNanos / 1e9);
    for (int i = 0; i < BUCKETS; i++) {
      epochs.set(i, Long.MIN_VALUE);
    }
  }

  /** Counts one logical call (the engine calls this once per call, whatever its attempts). */
  public void onRequest(long now) {
    requests.incrementAndGet(bucket(now));
  }

  /** Takes one retry from the budget when there is one. */
  public boolean tryRetry(long now) {
    long epoch = Math.floorDiv(now, bucketNanos);
    long req = 0;
    long ret = 0;
    for (int i = 0; i < BUCKETS; i++) {
      long e = epochs.get(i);
      if (e > epoch - BUCKETS && e <= epoch) {
        req += requests.get(i);
        ret += retries.get(i);
      }
    }
    if (ret + 1 > req * percent + reserve) {
      return false;
    }
    retries.incrementAndGet(bucket(now));
    return true;
  }

  private int bucket(long now) {
    long epoch = Math.floorDiv(now, bucketNanos);
    int i = (int) Math.floorMod(epoch, (long) BUCKETS);
    long seen = epochs.get(i);
    if (seen != epoch && epochs.compareAndSet(i, seen, epoch)) {
      requests.set(i, 0);
      retries.set(i, 0);
    }
    return i;
  }
}
