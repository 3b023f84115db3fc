package io.meshup.jmh;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallEngine;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.EngineCall;
import io.meshup.core.call.Protocol;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.ServiceRouter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * One complete logical call through MeshUp's call engine, as a transport drives it: a new
 * {@link EngineCall} started (route match + weighted draw, concurrency limit + circuit breaker
 * permit, deadline, balancer pick, attempt started) and its attempt reported closed (balancer,
 * outlier detection, breaker, call timer and attempt counter). The transport here sends nothing:
 * only MeshUp's own work per call is measured, the call object included.
 *
 * <p>Benchmarks:
 *
 * <ul>
 *   <li>{@link #baseline}: a random index into an array of the same N objects plus one atomic
 *       increment; results are given as ratios to it, from the same run.
 *   <li>{@link #requestPath}: the default policy (peak-EWMA power of two, Resilience4j breaker on).
 *   <li>{@link #requestPathBreakerOff}: as above, with {@code circuitBreaker.enabled: false}.
 *   <li>{@link #requestPathRoundRobin}: as above, with {@code loadBalancer.simple: ROUND_ROBIN}
 *       (breaker on).
 *   <li>{@link #selectOnly}: route matching and the weighted draw alone.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class RequestPathBenchmark {
  static final String SERVICE = "payments";

  /** Endpoints of service payments; half version=v1, half version=v2. */
  @Param({"10", "1000", "10000"})
  public int endpoints;

  private Mesh mesh;
  private Mesh meshBreakerOff;
  private Mesh meshRoundRobin;
  private ServiceRouter router;
  private ServiceRouter routerBreakerOff;
  private ServiceRouter routerRoundRobin;
  private final RequestAttributes attrs = new GrpcCall();

  private Object[] baselineObjects;
  private final AtomicInteger baselineCounter = new AtomicInteger();

  @Setup(Level.Trial)
  public void setUp() {
    List<Endpoint> eps = endpointList(endpoints);
    mesh = mesh(eps, "");
    meshBreakerOff = mesh(eps, """
          trafficPolicy:
            circuitBreaker:
              enabled: false
        """);
    meshRoundRobin = mesh(eps, """
          trafficPolicy:
            loadBalancer:
              simple: ROUND_ROBIN
        """);
    router = mesh.router(SERVICE);
    routerBreakerOff = meshBreakerOff.router(SERVICE);
    routerRoundRobin = meshRoundRobin.router(SERVICE);
    baselineObjects = eps.toArray();

    check(mesh, router, true);
    check(meshBreakerOff, routerBreakerOff, false);
    check(meshRoundRobin, routerRoundRobin, true);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    mesh.close();
    meshBreakerOff.close();
    meshRoundRobin.close();
  }

  // ---- benchmarks -------------------------------------------------------------------------

  /** The yardstick: one random array read and one atomic increment. */
  @Benchmark
  public Object baseline(Blackhole bh) {
    bh.consume(baselineCounter.incrementAndGet());
    Object[] objs = baselineObjects;
    return objs[ThreadLocalRandom.current().nextInt(objs.length)];
  }

  /** One logical call through the engine: default policy (peak EWMA, breaker on). */
  @Benchmark
  public EndpointHandle requestPath() {
    return onePass(mesh, router, attrs);
  }

  /** As {@link #requestPath}, with the DestinationRule's circuit breaker disabled. */
  @Benchmark
  public EndpointHandle requestPathBreakerOff() {
    return onePass(meshBreakerOff, routerBreakerOff, attrs);
  }

  /** As {@link #requestPath}, with round robin instead of peak EWMA (breaker on). */
  @Benchmark
  public EndpointHandle requestPathRoundRobin() {
    return onePass(meshRoundRobin, routerRoundRobin, attrs);
  }

  /** Route matching and the weighted target draw alone. */
  @Benchmark
  public RouteTarget selectOnly() {
    return router.select(attrs);
  }

  static EndpointHandle onePass(Mesh mesh, ServiceRouter router, RequestAttributes attrs) {
    BenchCall c = new BenchCall(mesh.callEngine(), router, attrs);
    c.start(0, false, false, false);
    EndpointHandle e = c.endpoint();
    if (e != null) {
      c.attemptClosed(1, AttemptEnd.STATUS, 0);
    }
    return e;
  }

  /** A logical call on a transport that sends nothing: the attempt is closed by the benchmark. */
  static final class BenchCall extends EngineCall {
    private final RequestAttributes attrs;

    BenchCall(CallEngine engine, ServiceRouter router, RequestAttributes attrs) {
      super(engine, router, Protocol.GRPC);
      this.attrs = attrs;
    }

    @Override
    public String path() {
      return attrs.path();
    }

    @Override
    public String method() {
      return attrs.method();
    }

    @Override
    public String header(String lowerCaseName) {
      return attrs.header(lowerCaseName);
    }

    @Override
    protected void startAttempt() {}

    @Override
    protected void cancelAttempt(CallFailure why) {}

    @Override
    protected void completeWithAttempt() {}

    @Override
    protected void fail(CallFailure failure) {}

    @Override
    protected boolean detectsUnresponsivePeers() {
      return true;
    }

    @Override
    protected boolean enforcesDeadlineThroughResponse() {
      return true;
    }
  }

  // ---- setup ------------------------------------------------------------------------------

  static List<Endpoint> endpointList(int n) {
    Map<String, String> v1 = Map.of("version", "v1");
    Map<String, String> v2 = Map.of("version", "v2");
    List<Endpoint> eps = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      eps.add(Endpoint.of("127.0.0.1", 10000 + i, i % 2 == 0 ? v1 : v2));
    }
    return eps;
  }

  /** The policy; {@code trafficPolicy} is YAML indented under the DestinationRule's spec, or empty. */
  static String policy(String trafficPolicy) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: payments
        spec:
          host: payments
        %s  subsets:
          - name: v1
            labels:
              version: v1
          - name: v2
            labels:
              version: v2
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: payments
        spec:
          hosts:
          - payments
          http:
          - name: canary
            match:
            - headers:
                x-canary:
                  exact: "true"
            route:
            - destination:
                host: payments
                subset: v2
          - name: split
            match:
            - uri:
                prefix: /
            route:
            - destination:
                host: payments
                subset: v1
              weight: 90
            - destination:
                host: payments
                subset: v2
              weight: 10
            timeout: 2s
        """.formatted(trafficPolicy);
  }

  static Mesh mesh(List<Endpoint> eps, String trafficPolicy) {
    return Mesh.builder()
        .service("bench")
        .endpoints(SERVICE, eps)
        .policies("bench-policy", policy(trafficPolicy))
        .build();
  }

  /** Fails the trial early if the mesh is not what the benchmark claims to measure. */
  static void check(Mesh mesh, ServiceRouter router, boolean breakerExpected) {
    for (String subset : new String[] {"v1", "v2"}) {
      // a subset with a breaker reports state closed = 1; one without reports 0 for every state
      double closed = mesh.meterRegistry().get("mesh.circuitbreaker.state")
          .tags("service", SERVICE, "subset", subset, "state", "closed").gauge().value();
      if ((closed == 1) != breakerExpected) {
        throw new IllegalStateException("subset " + subset + ": breaker closed gauge " + closed + ", expected "
            + (breakerExpected ? "a breaker" : "none"));
      }
    }
    RequestAttributes plain = new GrpcCall();
    int v2 = 0;
    for (int i = 0; i < 1000; i++) {
      RouteTarget t = router.select(plain);
      if (t == null || !t.route().name().equals("split")) {
        throw new IllegalStateException("expected route 'split', got " + (t == null ? null : t.route()));
      }
      if (t.route().timeoutNanos() != TimeUnit.SECONDS.toNanos(2)) {
        throw new IllegalStateException("expected a 2 s timeout, got " + t.route().timeoutNanos() + " ns");
      }
      if (t.subset().equals("v2")) {
        v2++;
      }
      EndpointHandle e = onePass(mesh, router, plain);
      if (e == null) {
        throw new IllegalStateException("no endpoint picked");
      }
    }
    if (v2 < 50 || v2 > 160) {
      throw new IllegalStateException("expected about 10 % of draws on v2, got " + v2 + " of 1000");
    }
    RouteTarget canary = router.select(new GrpcCall("true"));
    if (canary == null || !canary.route().name().equals("canary") || !canary.subset().equals("v2")) {
      throw new IllegalStateException("x-canary: true should route to subset v2, got " + canary);
    }
  }

  /**
   * A gRPC unary call to {@code /payments.Payments/Charge} as a transport would present it:
   * preallocated, answering from constants, so the benchmark itself allocates nothing.
   */
  static final class GrpcCall implements RequestAttributes {
    private final String canary;

    GrpcCall() {
      this(null);
    }

    GrpcCall(String canary) {
      this.canary = canary;
    }

    @Override
    public String path() {
      return "/payments.Payments/Charge";
    }

    @Override
    public String method() {
      return "POST";
    }

    @Override
    public String header(String lowerCaseName) {
      if ("content-type".equals(lowerCaseName)) {
        return "application/grpc";
      }
      if ("te".equals(lowerCaseName)) {
        return "trailers";
      }
      if ("x-canary".equals(lowerCaseName)) {
        return canary;
      }
      return null;
    }
  }
}
