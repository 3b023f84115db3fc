package io.meshup.jmh;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowSynchronizationStrategy;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowType;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.internal.policy.PolicyModel;
import io.meshup.core.internal.resilience.Breakers;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RouteTarget;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The pieces of {@link RequestPathBenchmark#requestPath}, one by one, to attribute its time and
 * allocation: the balancer's pick alone, the Resilience4j breaker as MeshUp configures it (and with
 * the other window synchronisation strategy), the Micrometer request timer, and the clock.
 *
 * <p>Run with {@code java -jar jmh/target/benchmarks.jar RequestPathPartsBenchmark -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class RequestPathPartsBenchmark {
  /** The pieces are independent of the endpoint count except pick; 1000 is the middle case. */
  @Param({"1000"})
  public int endpoints;

  private Mesh mesh;
  private Mesh meshRoundRobin;
  private io.meshup.core.internal.routing.Target target;
  private io.meshup.core.internal.routing.Target targetRoundRobin;
  private CircuitBreaker lockFreeBreaker;
  private CircuitBreaker synchronizedBreaker;
  private Timer timer;
  private final MeshClock clock = MeshClock.system();
  private final long rtt = 150;

  @Setup(Level.Trial)
  public void setUp() {
    List<Endpoint> eps = RequestPathBenchmark.endpointList(endpoints);
    mesh = RequestPathBenchmark.mesh(eps, "");
    meshRoundRobin = RequestPathBenchmark.mesh(eps, """
          trafficPolicy:
            loadBalancer:
              simple: ROUND_ROBIN
        """);
    RequestAttributes attrs = new RequestPathBenchmark.GrpcCall();
    target = firstV1(mesh, attrs);
    targetRoundRobin = firstV1(meshRoundRobin, attrs);

    // Exactly what SubsetRuntime gets (Breakers.create: count-based window, LOCK_FREE strategy) ...
    lockFreeBreaker = Breakers.create("parts lock-free", PolicyModel.CircuitBreaker.DEFAULT, clock);
    // ... and the same breaker with the other window strategy (a ReentrantLock around a ring).
    PolicyModel.CircuitBreaker p = PolicyModel.CircuitBreaker.DEFAULT;
    synchronizedBreaker = CircuitBreaker.of("parts synchronized", CircuitBreakerConfig.custom()
        .failureRateThreshold(p.failureRateThreshold())
        .slowCallRateThreshold(p.slowCallRateThreshold())
        .slowCallDurationThreshold(p.slowCallDurationThreshold())
        .slidingWindow(p.slidingWindowSize(), p.minimumNumberOfCalls(), SlidingWindowType.COUNT_BASED,
            SlidingWindowSynchronizationStrategy.SYNCHRONIZED)
        .waitDurationInOpenState(p.waitDurationInOpenState())
        .permittedNumberOfCallsInHalfOpenState(p.permittedNumberOfCallsInHalfOpenState())
        .automaticTransitionFromOpenToHalfOpenEnabled(false)
        .writableStackTraceEnabled(false)
        .build());

    // The request timer as Metrics.requestTimer registers it on Mesh's default registry.
    timer = Timer.builder("mesh.client.requests")
        .tags("service", "payments", "route", "split", "subset", "v1", "outcome", "success")
        .register(new SimpleMeterRegistry());
  }

  private static io.meshup.core.internal.routing.Target firstV1(Mesh mesh, RequestAttributes attrs) {
    for (int i = 0; i < 10_000; i++) {
      RouteTarget t = mesh.router(RequestPathBenchmark.SERVICE).select(attrs);
      if (t.subset().equals("v1")) {
        return (io.meshup.core.internal.routing.Target) t;
      }
    }
    throw new IllegalStateException("never drew subset v1");
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    mesh.close();
    meshRoundRobin.close();
  }

  /** The default balancer's pick (peak EWMA, power of two choices) on subset v1, nothing else. */
  @Benchmark
  public EndpointHandle pickPeakEwma() {
    return target.pick(null);
  }

  /** Round robin's pick on subset v1. */
  @Benchmark
  public EndpointHandle pickRoundRobin() {
    return targetRoundRobin.pick(null);
  }

  /** The breaker's share of one pass, as configured by Breakers.create (LOCK_FREE window). */
  @Benchmark
  public boolean breakerLockFree() {
    boolean ok = lockFreeBreaker.tryAcquirePermission();
    lockFreeBreaker.onSuccess(rtt, TimeUnit.NANOSECONDS);
    return ok;
  }

  /** The same with SlidingWindowSynchronizationStrategy.SYNCHRONIZED. */
  @Benchmark
  public boolean breakerSynchronized() {
    boolean ok = synchronizedBreaker.tryAcquirePermission();
    synchronizedBreaker.onSuccess(rtt, TimeUnit.NANOSECONDS);
    return ok;
  }

  /** Micrometer's Timer.record on a SimpleMeterRegistry (Mesh's default registry). */
  @Benchmark
  public Timer timerRecord() {
    timer.record(rtt, TimeUnit.NANOSECONDS);
    return timer;
  }

  /** One MeshClock.nanoTime(); the pass reads it three times (pick, begin, record). */
  @Benchmark
  public long nanoTime() {
    return clock.nanoTime();
  }
}
