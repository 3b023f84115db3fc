package io.meshup.core;

/**
 * The one source of time inside MeshUp: monotonic nanoseconds for latencies and timers, and
 * wall-clock milliseconds for timestamps. Tests pass a fake one and move it forward by hand.
 *
 * <p>Implementations must be thread-safe and must not block.
 */
public interface MeshClock {
  /** Monotonic time in nanoseconds, as {@link System#nanoTime()}. */
  long nanoTime();

  /** Wall-clock time in milliseconds since the epoch, as {@link System#currentTimeMillis()}. */
  long currentTimeMillis();

  /** The system clock. */
  static MeshClock system() {
    return SystemClock.INSTANCE;
  }
}

enum SystemClock implements MeshClock {
  INSTANCE;

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  @Override
  public long currentTimeMillis() {
    return System.currentTimeMillis();
  }
}
