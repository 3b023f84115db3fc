package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.testing.FakeClock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The request path in the core alone: matches, splits, breaker, outlier detection, budget. */
class RoutingTest {
  final FakeClock clock = new FakeClock();

  static final String POLICY = """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: payments }
      spec:
        host: payments
        trafficPolicy:
          loadBalancer: { simple: ROUND_ROBIN }   # so a returning endpoint is picked at once, whatever its latency
          circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10, failureRateThreshold: 50, waitDurationInOpenState: 5s, permittedNumberOfCallsInHalfOpenState: 2 }
          outlierDetection: { consecutive5xxErrors: 3, baseEjectionTime: 30s, maxEjectionPercent: 50 }
        subsets:
          - { name: v1, labels: { version: v1 } }
          - { name: v2, labels: { version: v2 } }
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: payments }
      spec:
        hosts: [payments]
        http:
          - name: canary-header
            match: [{ headers: { x-canary: { exact: "true" } } }]
            route: [{ destination: { host: payments, subset: v2 } }]
          - name: refunds
            match: [{ uri: { prefix: /refunds/ }, method: { exact: DELETE } }, { uri: { regex: "/payments\\\\.Refunds/.*" } }]
            route: [{ destination: { host: payments, subset: v1 } }]
            timeout: 3s
          - name: default
            route:
              - { destination: { host: payments, subset: v1 }, weight: 90 }
              - { destination: { host: payments, subset: v2 }, weight: 10 }
      """;

  Mesh mesh() {
    return Mesh.builder().service("checkout").clock(clock)
        .endpoints("payments", List.of(
            new Endpoint("a", "127.0.0.1", 9001, Map.of("version", "v1"), 1),
            new Endpoint("b", "127.0.0.1", 9002, Map.of("version", "v1"), 1),
            new Endpoint("c", "127.0.0.1", 9003, Map.of("version", "v2"), 1)))
        .policies("test", POLICY).build();
  }

  record Req(String path, String method, Map<String, String> headers) implements RequestAttributes {
    @Override
    public String header(String name) {
      return headers.get(name);
    }
  }

  @Test
  void firstMatchingRouteWinsByHeaderPathAndMethod() {
    try (Mesh mesh = mesh()) {
      ServiceRouter r = mesh.router("payments");
      assertThat(r.select(new Req("/charges/1", "GET", Map.of("x-canary", "true"))).route().name()).isEqualTo("canary-header");
      assertThat(r.select(new Req("/refunds/7", "DELETE", Map.of())).route().name()).isEqualTo("refunds");
      assertThat(r.select(new Req("/refunds/7", "GET", Map.of())).route().name()).isEqualTo("default");
      assertThat(r.select(new Req("/payments.Refunds/Create", "POST", Map.of("x-canary", "false"))).route().name()).isEqualTo("refunds");
      assertThat(r.select(new Req("/refunds/7", "DELETE", Map.of())).route().timeoutNanos()).isEqualTo(Duration.ofSeconds(3).toNanos());
    }
  }

  @Test
  void weightedPickIsPerRequest() {
    try (Mesh mesh = mesh()) {
      ServiceRouter r = mesh.router("payments");
      Map<String, Integer> bySubset = new HashMap<>();
      Req req = new Req("/charges/1", "POST", Map.of());
      for (int i = 0; i < 10_000; i++) {
        bySubset.merge(r.select(req).subset(), 1, Integer::sum);
      }
      assertThat(bySubset.get("v2") / 100.0).isBetween(8.0, 12.0);
    }
  }

  @Test
  void breakerOpensFailsFastAndClosesAgainOnTheClock() {
    try (Mesh mesh = mesh()) {
      RouteTarget v2 = mesh.router("payments").select(new Req("/", "POST", Map.of("x-canary", "true")));
      for (int i = 0; i < 10; i++) {
        assertThat(v2.tryAcquire()).isNull();
        EndpointHandle e = v2.pick(null);
        v2.record(e, v2.begin(e), i % 2 == 0 ? Outcome.FAILURE : Outcome.SUCCESS);
      }
      CircuitBreaker breaker = mesh.runtimeOf("payments").subset("v2").orElseThrow().breaker();
      assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);
      assertThat(v2.tryAcquire()).isEqualTo(Rejection.CIRCUIT_OPEN);
      assertThat(mesh.meterRegistry().get("mesh.circuitbreaker.state").tags("subset", "v2", "state", "open").gauge().value()).isEqualTo(1);

      clock.advance(Duration.ofSeconds(5));
      assertThat(v2.tryAcquire()).as("still open at the end of the wait").isEqualTo(Rejection.CIRCUIT_OPEN);
      clock.advance(Duration.ofMillis(1));
      for (int i = 0; i < 2; i++) {
        assertThat(v2.tryAcquire()).isNull();
        EndpointHandle e = v2.pick(null);
        v2.record(e, v2.begin(e), Outcome.SUCCESS);
      }
      assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
      assertThat(mesh.meterRegistry().get("mesh.client.requests").tags("subset", "v2", "outcome", "circuit_open").timer().count()).isEqualTo(2);
    }
  }

  @Test
  void endpointFailingRepeatedlyIsEjectedAndComesBack() {
    try (Mesh mesh = mesh()) {
      RouteTarget v1 = mesh.router("payments").select(new Req("/refunds/1", "DELETE", Map.of()));
      EndpointHandle a = handle(mesh, "a");
      for (int i = 0; i < 3; i++) {
        v1.tryAcquire();
        v1.record(a, v1.begin(a), Outcome.FAILURE);
      }
      for (int i = 0; i < 200; i++) {
        assertThat(v1.pick(null).endpoint().id()).isEqualTo("b");
      }
      assertThat(mesh.meterRegistry().get("mesh.outlier.ejections").tags("subset", "v1").counter().count()).isEqualTo(1);
      assertThat(mesh.meterRegistry().get("mesh.endpoints").tags("subset", "v1", "state", "ejected").gauge().value()).isEqualTo(1);

      clock.advance(Duration.ofSeconds(30));
      boolean sawA = false;
      for (int i = 0; i < 200 && !sawA; i++) {
        sawA = v1.pick(null).endpoint().id().equals("a");
      }
      assertThat(sawA).as("a is back after its ejection time").isTrue();
      // one probe: a failure on return ejects again at once, for twice as long
      v1.tryAcquire();
      v1.record(a, v1.begin(a), Outcome.FAILURE);
      clock.advance(Duration.ofSeconds(59));
      for (int i = 0; i < 200; i++) {
        assertThat(v1.pick(null).endpoint().id()).isEqualTo("b");
      }
    }
  }

  @Test
  void ejectsAtMostTheAllowedShareButAtLeastOne() {
    try (Mesh mesh = mesh()) {
      RouteTarget v1 = mesh.router("payments").select(new Req("/refunds/1", "DELETE", Map.of()));
      for (String id : List.of("a", "b")) {
        EndpointHandle e = handle(mesh, id);
        for (int i = 0; i < 3; i++) {
          v1.tryAcquire();
          v1.record(e, v1.begin(e), Outcome.FAILURE);
        }
      }
      // 50 % of two endpoints: one ejected, the other keeps serving
      assertThat(mesh.meterRegistry().get("mesh.endpoints").tags("subset", "v1", "state", "ejected").gauge().value()).isEqualTo(1);
      assertThat(v1.pick(null)).isNotNull();
    }
  }

  @Test
  void lastEndpointEjectedStillServes() {
    try (Mesh mesh = mesh()) {
      RouteTarget v2 = mesh.router("payments").select(new Req("/", "POST", Map.of("x-canary", "true")));
      EndpointHandle c = handle(mesh, "c");
      for (int i = 0; i < 3; i++) {
        v2.record(c, v2.begin(c), Outcome.FAILURE);
      }
      assertThat(v2.pick(null).endpoint().id()).as("panic: route to all rather than none").isEqualTo("c");
    }
  }

  @Test
  void retryBudgetAllowsTwentyPercentPlusReserve() {
    try (Mesh mesh = mesh()) {
      RouteTarget t = mesh.router("payments").select(new Req("/", "POST", Map.of()));
      EndpointHandle e = t.pick(null);
      for (int i = 0; i < 1000; i++) {
        t.record(e, t.begin(e), Outcome.SUCCESS);
      }
      int granted = 0;
      while (t.tryRetry() && granted < 10_000) {
        granted++;
        t.record(e, t.begin(e), Outcome.SUCCESS); // the retry's own attempt: not a new request
      }
      assertThat(granted).isEqualTo(300); // 20 % of 1000 first tries + 10/s over 10 s
      clock.advance(Duration.ofSeconds(11));
      assertThat(t.tryRetry()).as("the window has moved on").isTrue();
    }
  }

  @Test
  void overloadCountsAsSlowNotAsFailure() {
    try (Mesh mesh = mesh()) {
      RouteTarget v1 = mesh.router("payments").select(new Req("/refunds/1", "DELETE", Map.of()));
      EndpointHandle a = handle(mesh, "a");
      for (int i = 0; i < 10; i++) {
        v1.record(a, v1.begin(a), Outcome.OVERLOAD);
      }
      assertThat(mesh.runtimeOf("payments").endpointState("a").orElseThrow().isEjected(clock.nanoTime())).isFalse();
      CircuitBreaker breaker = mesh.runtimeOf("payments").subset("v1").orElseThrow().breaker();
      assertThat(breaker.getMetrics().getNumberOfSlowCalls()).isEqualTo(10);
      assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isZero();
    }
  }

  @Test
  void aFailureNeitherStarvesAnEndpointNorMakesItLookFaster() {
    try (Mesh mesh = Mesh.builder().service("checkout").clock(clock)
        .endpoints("payments", List.of(
            new Endpoint("a", "127.0.0.1", 9001, Map.of(), 1),
            new Endpoint("b", "127.0.0.1", 9002, Map.of(), 1)))
        .build()) {
      ServiceRouter router = mesh.router("payments");
      Req req = new Req("/payments.Payments/Charge", "POST", Map.of());
      Map<String, Integer> before = new HashMap<>();
      Map<String, Integer> after = new HashMap<>();
      // sequential traffic, 2 ms per call on both endpoints (peak EWMA, the default balancer)
      for (int i = 0; i < 400; i++) {
        RouteTarget t = router.select(req);
        EndpointHandle e = t.pick(null);
        long start = t.begin(e);
        clock.advance(java.time.Duration.ofMillis(2));
        boolean fail = i == 200;   // one fast failure, a 0 ms 503
        t.record(e, fail ? clock.nanoTime() : start, fail ? Outcome.FAILURE : Outcome.SUCCESS);
        if (i >= 10 && i < 200) {
          before.merge(e.endpoint().id(), 1, Integer::sum);
        } else if (i > 200 && i <= 390) {
          after.merge(e.endpoint().id(), 1, Integer::sum);
        }
      }
      // before, a and b shared the calls; after one fast failure of either, neither is starved
      // (a fixed failure penalty decaying over the 10 s EWMA window used to park it for ~55 s)
      assertThat(before.getOrDefault("a", 0)).isBetween(48, 142);
      assertThat(after.getOrDefault("a", 0)).isBetween(48, 142);
      assertThat(after.getOrDefault("b", 0)).isBetween(48, 142);
    }
  }

  /**
   * Sequential calls (nothing pending) to a and b answering in {@code aMillis} and {@code bMillis},
   * long enough (about 20 s on the clock) for the estimates to leave the 30 ms initial RTT behind;
   * returns a's share of the last 1,000.
   */
  private double sequentialShareOfA(double aMillis, double bMillis) {
    try (Mesh mesh = Mesh.builder().service("checkout").clock(clock)
        .endpoints("payments", List.of(
            new Endpoint("a", "127.0.0.1", 9001, Map.of(), 1),
            new Endpoint("b", "127.0.0.1", 9002, Map.of(), 1)))
        .build()) {
      ServiceRouter router = mesh.router("payments");
      Req req = new Req("/payments.Payments/Charge", "POST", Map.of());
      int a = 0;
      for (int i = 0; i < 8000; i++) {
        RouteTarget t = router.select(req);
        EndpointHandle e = t.pick(null);
        long start = t.begin(e);
        boolean isA = e.endpoint().id().equals("a");
        clock.advance(Duration.ofNanos((long) ((isA ? aMillis : bMillis) * 1_000_000)));
        t.record(e, start, Outcome.SUCCESS);
        if (i >= 7000 && isA) {
          a++;
        }
      }
      return a / 1000.0;
    }
  }

  @Test
  void peakEwmaSharesNearEqualEndpointsAndFavoursAClearlyFasterOne() {
    // 10 % apart: a tie, so the calls are shared instead of the slightly faster one taking them all
    assertThat(sequentialShareOfA(2.0, 2.2)).isBetween(0.35, 0.65);
    // twice as fast: it takes most of them
    assertThat(sequentialShareOfA(2.0, 4.0)).isGreaterThan(0.8);
  }

  private static EndpointHandle handle(Mesh mesh, String id) {
    return mesh.runtimeOf("payments").endpointState(id).orElseThrow();
  }
}
