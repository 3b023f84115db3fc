package io.meshup.consul;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A scheduler whose periodic tasks run only when a test calls {@link #runPeriodic()}; one-shot
 * tasks run as usual. Thread-safe.
 */
final class ManualScheduler extends ScheduledThreadPoolExecutor {
  private final List<Runnable> periodic = new CopyOnWriteArrayList<>();

  ManualScheduler() {
    super(1, r -> {
      Thread t = new Thread(r, "test-scheduler");
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
    periodic.add(command);
    return schedule(() -> {}, 1, TimeUnit.DAYS);
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
    periodic.add(command);
    return schedule(() -> {}, 1, TimeUnit.DAYS);
  }

  /** Runs each periodic task once, on the calling thread. */
  void runPeriodic() {
    periodic.forEach(Runnable::run);
  }
}
