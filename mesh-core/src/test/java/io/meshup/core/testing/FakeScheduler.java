package io.meshup.core.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A scheduler on a {@link FakeClock}: tasks run only when the test moves time with
 * {@link #advance} (on the test's thread, in due order, each at its instant), as grpc-java's
 * FakeClock. Thread-safe to schedule into.
 */
public final class FakeScheduler implements ScheduledExecutorService {
  private final FakeClock clock;
  private final PriorityQueue<Task> queue = new PriorityQueue<>();
  private final AtomicLong seq = new AtomicLong();
  private volatile boolean shutdown;

  public FakeScheduler(FakeClock clock) {
    this.clock = clock;
  }

  /** Moves the clock forward by {@code d}, running every task due on the way at its instant. */
  public void advance(Duration d) {
    long end = clock.nanoTime() + d.toNanos();
    while (true) {
      Task t;
      synchronized (this) {
        t = queue.peek();
        if (t == null || t.due > end) {
          break;
        }
        queue.poll();
      }
      long now = clock.nanoTime();
      if (t.due > now) {
        clock.advance(Duration.ofNanos(t.due - now));
      }
      t.run();
    }
    long now = clock.nanoTime();
    if (end > now) {
      clock.advance(Duration.ofNanos(end - now));
    }
  }

  /** Runs what is due now without moving the clock. */
  public void runDue() {
    advance(Duration.ZERO);
  }

  /** One-shot tasks waiting (cancelled and periodic ones excluded). */
  public synchronized int pending() {
    int n = 0;
    for (Task t : queue) {
      if (!t.cancelled && t.period == 0) {
        n++;
      }
    }
    return n;
  }

  private synchronized Task add(Runnable r, long delayNanos, long periodNanos) {
    if (shutdown) {
      throw new java.util.concurrent.RejectedExecutionException("shut down");
    }
    Task t = new Task(r, clock.nanoTime() + Math.max(delayNanos, 0), periodNanos, seq.incrementAndGet());
    queue.add(t);
    return t;
  }

  private final class Task implements ScheduledFuture<Object>, Runnable {
    final Runnable body;
    long due;
    final long period;
    final long order;
    volatile boolean cancelled;
    volatile boolean done;

    Task(Runnable body, long due, long period, long order) {
      this.body = body;
      this.due = due;
      this.period = period;
      this.order = order;
    }

    @Override
    public void run() {
      if (cancelled) {
        return;
      }
      body.run();
      if (period > 0 && !cancelled) {
        synchronized (FakeScheduler.this) {
          due += period;
          queue.add(this);
        }
      } else {
        done = true;
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(due - clock.nanoTime(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed o) {
      Task t = (Task) o;
      return due != t.due ? Long.compare(due, t.due) : Long.compare(order, t.order);
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean was = !cancelled && !done;
      cancelled = true;
      synchronized (FakeScheduler.this) {
        queue.remove(this);
      }
      return was;
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return done || cancelled;
    }

    @Override
    public Object get() {
      return null;
    }

    @Override
    public Object get(long timeout, TimeUnit unit) {
      return null;
    }
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    return add(command, unit.toNanos(delay), 0);
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
    return add(command, unit.toNanos(initialDelay), unit.toNanos(period));
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
    return add(command, unit.toNanos(initialDelay), unit.toNanos(delay));
  }

  @Override
  public void execute(Runnable command) {
    add(command, 0, 0);
  }

  @Override
  public void shutdown() {
    shutdown = true;
  }

  @Override
  public List<Runnable> shutdownNow() {
    shutdown = true;
    synchronized (this) {
      List<Runnable> out = new ArrayList<>(queue);
      queue.clear();
      return out;
    }
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    return shutdown;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return true;
  }

  @Override
  public <T> Future<T> submit(Callable<T> task) {
    throw new UnsupportedOperationException();
  }

  @Override
  public <T> Future<T> submit(Runnable task, T result) {
    throw new UnsupportedOperationException();
  }

  @Override
  public Future<?> submit(Runnable task) {
    return add(task, 0, 0);
  }

  @Override
  public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks) {
    throw new UnsupportedOperationException();
  }

  @Override
  public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks) throws InterruptedException, ExecutionException {
    throw new UnsupportedOperationException();
  }

  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException, ExecutionException, TimeoutException {
    throw new UnsupportedOperationException();
  }
}
