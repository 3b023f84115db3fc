package io.meshup.core.call;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bound on what a transport keeps of requests for replay, as gRFC A6 bounds grpc-java's retry
 * buffer: at most {@link #PER_CALL_BYTES} per call and {@link #PER_CHANNEL_BYTES} across one
 * channel's calls. A call over either bound stops keeping its messages (and is not tried again,
 * {@link EngineCall#stopReplays()}); a call that commits, or ends, gives its bytes back.
 *
 * <p>Thread-safe, lock-free.
 */
public final class ReplayBudget {
  /** What one call may keep: 1 MiB. */
  public static final long PER_CALL_BYTES = 1 << 20;
  /** What one channel's calls may keep together: 16 MiB. */
  public static final long PER_CHANNEL_BYTES = 16 << 20;

  private final long limit;
  private final AtomicLong used = new AtomicLong();

  /** A channel's budget of {@link #PER_CHANNEL_BYTES}. */
  public ReplayBudget() {
    this(PER_CHANNEL_BYTES);
  }

  /** A budget of {@code limit} bytes. */
  public ReplayBudget(long limit) {
    this.limit = limit;
  }

  /**
   * Reserves {@code bytes} more for a call that keeps {@code callBytes} already.
   *
   * @return false (nothing reserved) when the call or the channel would go over its bound
   */
  public boolean reserve(long callBytes, long bytes) {
    if (callBytes + bytes > PER_CALL_BYTES) {
      return false;
    }
    long u;
    do {
      u = used.get();
      if (u + bytes > limit) {
        return false;
      }
    } while (!used.compareAndSet(u, u + bytes));
    return true;
  }

  /** Gives back bytes a call no longer keeps. */
  public void release(long bytes) {
    if (bytes > 0) {
      used.addAndGet(-bytes);
    }
  }

  /** Bytes kept now across the channel (for tests and the admin view). */
  public long used() {
    return used.get();
  }
}
