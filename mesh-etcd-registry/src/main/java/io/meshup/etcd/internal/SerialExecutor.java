package io.meshup.etcd.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks one at a time, in submission order, on threads of a delegate executor: what one watch
 * or registration uses so that its state is touched by one task at a time without a lock. A task's
 * throwable is logged and the queue goes on. Thread-safe.
 */
final class SerialExecutor implements Executor {
  private static final Logger log = LoggerFactory.getLogger(SerialExecutor.class);

  private final Executor delegate;
  private final String name;
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean running = new AtomicBoolean();

  SerialExecutor(Executor delegate, String name) {
    this.delegate = delegate;
    this.name = name;
  }

  @Override
  public void execute(Runnable task) {
    tasks.add(task);
    schedule();
  }

  private void schedule() {
    if (running.compareAndSet(false, true)) {
      try {
        delegate.execute(this::drain);
      } catch (RuntimeException rejected) {
        // the delegate is shut down: the owner is closing, and queued work no longer matters
        running.set(false);
        tasks.clear();
      }
    }
  }

  private void drain() {
    try {
      Runnable r;
      while ((r = tasks.poll()) != null) {
        try {
          r.run();
        } catch (Throwable t) {
          log.error("etcd {}: a task failed; it goes on", name, t);
        }
      }
    } finally {
      running.set(false);
    }
    if (!tasks.isEmpty()) {
      schedule();
    }
  }
}
