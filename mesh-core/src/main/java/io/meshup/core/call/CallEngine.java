package io.meshup.core.call;

import io.meshup.core.MeshClock;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongBinaryOperator;

/**
 * Runs a mesh's logical calls: one per {@link io.meshup.core.Mesh}, shared by every transport.
 * Transports extend {@link EngineCall} for each call and start it; the engine owns everything
 * between the call and the wire (see {@link EngineCall} for the lifecycle).
 *
 * <p>Thread-safe. The settings are fixed when the mesh is built.
 */
public final class CallEngine {
  /** Replays of attempts that never reached a server, beyond the route's retries. */
  public static final int DEFAULT_MAX_REPLAYS = 4;
  /** First retry backoff, doubled each retry up to {@link #BACKOFF_MAX_NANOS}, jittered over its upper half. */
  public static final long BACKOFF_BASE_NANOS = TimeUnit.MILLISECONDS.toNanos(25);
  /** Longest retry backoff. */
  public static final long BACKOFF_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
  /**
   * How long an attempt may wait for its response headers when nothing shorter bounds it, on
   * transports that cannot tell a frozen peer by themselves (HTTP/1.1 has no ping): 30 s.
   */
  public static final Duration DEFAULT_HEADERS_TIMEOUT = Duration.ofSeconds(30);

  private final MeshClock clock;
  private final ScheduledExecutorService scheduler;
  private final boolean hasCertificates;
  private final long headersTimeoutNanos;
  private final long discoveryTimeoutNanos;
  private final int maxReplays;
  private final LongBinaryOperator random;
  private final Set<EngineCall> waiting = ConcurrentHashMap.newKeySet();
  private final io.meshup.core.internal.trace.Tracing tracing;
  private volatile boolean shutdown;

  /**
   * @param clock the mesh's clock
   * @param scheduler runs the engine's timers (delays, backoffs, deadlines); never blocking work
   * @param hasCertificates whether the mesh has certificates (mutual TLS is possible)
   * @param headersTimeout see {@link #DEFAULT_HEADERS_TIMEOUT}; zero for none
   * @param discoveryTimeout how long a call with no deadline waits for the registry's first
   *     answer about its destination; zero not to wait
   * @param random draws a long in [origin, bound) for backoff jitter (tests pass a fixed one)
   */
  public CallEngine(MeshClock clock, ScheduledExecutorService scheduler, boolean hasCertificates,
      Duration headersTimeout, Duration discoveryTimeout, LongBinaryOperator random) {
    this(clock, scheduler, hasCertificates, headersTimeout, discoveryTimeout, random, null);
  }

  /**
   * As {@link #CallEngine(MeshClock, ScheduledExecutorService, boolean, Duration, Duration, LongBinaryOperator)},
   * with a span per logical call and per attempt through {@code openTelemetry} (or, when null, the
   * global OpenTelemetry if one was installed; with neither, nothing is traced).
   */
  public CallEngine(MeshClock clock, ScheduledExecutorService scheduler, boolean hasCertificates,
      Duration headersTimeout, Duration discoveryTimeout, LongBinaryOperator random,
      io.opentelemetry.api.OpenTelemetry openTelemetry) {
    this.tracing = io.meshup.core.internal.trace.Tracing.of(openTelemetry);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
    this.hasCertificates = hasCertificates;
    this.headersTimeoutNanos = headersTimeout.toNanos();
    this.discoveryTimeoutNanos = discoveryTimeout.toNanos();
    this.maxReplays = DEFAULT_MAX_REPLAYS;
    this.random = random != null ? random : (origin, bound) -> ThreadLocalRandom.current().nextLong(origin, bound);
  }

  /** The mesh's clock; every deadline the engine hands a transport is on it. */
  public MeshClock clock() {
    return clock;
  }

  /** True once {@link #shutdown()} ran: new calls fail with {@link CallFailure.Kind#SHUT_DOWN}. */
  public boolean isShutdown() {
    return shutdown;
  }

  /**
   * Refuses new calls and ends every call waiting on a delay or backoff with
   * {@link CallFailure.Kind#SHUT_DOWN}; calls with an attempt in flight end when it does (and are
   * then not retried). Idempotent.
   */
  public void shutdown() {
    shutdown = true;
    for (EngineCall c : waiting) {
      c.shutDown();
    }
  }

  /** The mesh's tracing, or null when no tracer is installed. */
  io.meshup.core.internal.trace.Tracing tracing() {
    return tracing;
  }

  boolean hasCertificates() {
    return hasCertificates;
  }

  long headersTimeoutNanos() {
    return headersTimeoutNanos;
  }

  long discoveryTimeoutNanos() {
    return discoveryTimeoutNanos;
  }

  int maxReplays() {
    return maxReplays;
  }

  /** The jittered backoff before retry number {@code retry} (1-based). */
  long backoff(int retry) {
    long cap = Math.min(BACKOFF_MAX_NANOS, BACKOFF_BASE_NANOS << Math.min(retry - 1, 10));
    return random.applyAsLong(cap / 2, cap + 1);
  }

  void waiting(EngineCall call, boolean waits) {
    if (waits) {
      waiting.add(call);
      if (shutdown) {
        call.shutDown();
      }
    } else {
      waiting.remove(call);
    }
  }

  /** Schedules {@code task}; null when the scheduler refuses (the mesh is closing). */
  ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    try {
      return scheduler.schedule(task, Math.max(delayNanos, 0), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      return null;
    }
  }
}
