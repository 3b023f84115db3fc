package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.Protocol;
import io.meshup.core.internal.routing.Target;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.TestCall;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The request path in the core alone, through the call engine on a fake transport: matches, splits, breaker, outlier detection, budget. */
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

  static final int UNAVAILABLE = 14;
  static final int RESOURCE_EXHAUSTED = 8;

  /** One gRPC call through the engine on a fake transport, ended at once as {@code end(endpoint)} says. */
  private TestCall call(Mesh mesh, Req req, java.util.function.Function<String, Integer> codeByEndpoint) {
    TestCall c = TestCall.of(mesh, "payments", Protocol.GRPC, req.path(), req.method(), req.headers()).start();
    while (!c.done()) {
      c.end(AttemptEnd.STATUS, codeByEndpoint.apply(c.last().endpoint()));
    }
    return c;
  }

  @Test
  void breakerOpensFailsFastAndClosesAgainOnTheClock() {
    try (Mesh mesh = mesh()) {
      Req canary = new Req("/", "POST", Map.of("x-canary", "true"));
      for (int i = 0; i < 10; i++) {
        int code = i % 2 == 0 ? UNAVAILABLE : 0;
        TestCall c = call(mesh, canary, ep -> code);
        assertThat(c.completedWith).isEqualTo(1);
      }
      CircuitBreaker breaker = mesh.runtimeOf("payments").subset("v2").orElseThrow().breaker();
      assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);
      TestCall refused = TestCall.of(mesh, "payments", Protocol.GRPC, "/", "POST", Map.of("x-canary", "true")).start();
      assertThat(refused.failure.kind()).isEqualTo(CallFailure.Kind.REJECTED);
      assertThat(refused.failure.rejection()).isEqualTo(Rejection.CIRCUIT_OPEN);
      assertThat(refused.attempts).isEmpty();
      assertThat(mesh.meterRegistry().get("mesh.circuitbreaker.state").tags("subset", "v2", "state", "open").gauge().value()).isEqualTo(1);

      clock.advance(Duration.ofSeconds(5));
      assertThat(TestCall.of(mesh, "payments", Protocol.GRPC, "/", "POST", Map.of("x-canary", "true")).start().failure)
          .as("still open at the end of the wait").isNotNull();
      clock.advance(Duration.ofMillis(1));
      for (int i = 0; i < 2; i++) {
        assertThat(call(mesh, canary, ep -> 0).completedWith).isEqualTo(1);
      }
      assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
      assertThat(mesh.meterRegistry().get("mesh.client.rejections").tags("subset", "v2", "reason", "circuit_open").counter().count()).isEqualTo(2);
    }
  }

  @Test
  void endpointFailingRepeatedlyIsEjectedAndComesBack() {
    try (Mesh mesh = mesh()) {
      Req refund = new Req("/refunds/1", "DELETE", Map.of());
      int failuresOfA = 0;
      while (failuresOfA < 3) {
        TestCall c = call(mesh, refund, ep -> ep.equals("a") ? UNAVAILABLE : 0);
        if (c.last().endpoint().equals("a")) {
          failuresOfA++;
        }
      }
      for (int i = 0; i < 200; i++) {
        assertThat(call(mesh, refund, ep -> 0).last().endpoint()).isEqualTo("b");
      }
      assertThat(mesh.meterRegistry().get("mesh.outlier.ejections").tags("subset", "v1").counter().count()).isEqualTo(1);
      assertThat(mesh.meterRegistry().get("mesh.endpoints").tags("subset", "v1", "state", "ejected").gauge().value()).isEqualTo(1);

      clock.advance(Duration.ofSeconds(30));
      boolean sawA = false;
      for (int i = 0; i < 200 && !sawA; i++) {
        // one probe: a failure on return ejects again at once, for twice as long
        sawA = call(mesh, refund, ep -> ep.equals("a") ? UNAVAILABLE : 0).last().endpoint().equals("a");
      }
      assertThat(sawA).as("a is back after its ejection time").isTrue();
      clock.advance(Duration.ofSeconds(59));
      for (int i = 0; i < 200; i++) {
        assertThat(call(mesh, refund, ep -> 0).last().endpoint()).isEqualTo("b");
      }
    }
  }

  @Test
  void ejectsAtMostTheAllowedShareButAtLeastOne() {
    try (Mesh mesh = mesh()) {
      Req refund = new Req("/refunds/1", "DELETE", Map.of());
      for (int i = 0; i < 8; i++) { // fewer than the breaker's window of 10
        call(mesh, refund, ep -> UNAVAILABLE);
      }
      // 50 % of two endpoints: one ejected, the other keeps serving
      assertThat(mesh.meterRegistry().get("mesh.endpoints").tags("subset", "v1", "state", "ejected").gauge().value()).isEqualTo(1);
      assertThat(call(mesh, refund, ep -> 0).completedWith).isEqualTo(1);
    }
  }

  @Test
  void lastEndpointEjectedStillServes() {
    try (Mesh mesh = mesh()) {
      Req canary = new Req("/", "POST", Map.of("x-canary", "true"));
      for (int i = 0; i < 3; i++) {
        call(mesh, canary, ep -> UNAVAILABLE);
      }
      assertThat(mesh.meterRegistry().get("mesh.endpoints").tags("subset", "v2", "state", "ejected").gauge().value()).isEqualTo(1);
      assertThat(call(mesh, canary, ep -> 0).last().endpoint()).as("panic: route to all rather than none").isEqualTo("c");
    }
  }

  @Test
  void retryBudgetAllowsTwentyPercentPlusReserve() {
    try (Mesh mesh = mesh()) {
      Target t = (Target) mesh.router("payments").select(new Req("/", "POST", Map.of()));
      for (int i = 0; i < 1000; i++) {
        assertThat(t.tryAcquire(clock.nanoTime())).isNull();
        t.callEnded(1, Outcome.SUCCESS);
      }
      int granted = 0;
      while (t.tryRetry(clock.nanoTime()) && granted < 10_000) {
        granted++;
      }
      assertThat(granted).isEqualTo(300); // 20 % of 1000 calls + 10/s over 10 s
      clock.advance(Duration.ofSeconds(11));
      assertThat(t.tryRetry(clock.nanoTime())).as("the window has moved on").isTrue();
    }
  }

  @Test
  void overloadCountsAsSlowNotAsFailure() {
    try (Mesh mesh = mesh()) {
      Req refund = new Req("/refunds/1", "DELETE", Map.of());
      for (int i = 0; i < 10; i++) {
        call(mesh, refund, ep -> RESOURCE_EXHAUSTED);
      }
      assertThat(mesh.runtimeOf("payments").endpointState("a").orElseThrow().isEjected(clock.nanoTime())).isFalse();
      assertThat(mesh.runtimeOf("payments").endpointState("b").orElseThrow().isEjected(clock.nanoTime())).isFalse();
      CircuitBreaker breaker = mesh.runtimeOf("payments").subset("v1").orElseThrow().breaker();
      assertThat(breaker.getMetrics().getNumberOfSlowCalls()).isEqualTo(10);
      assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isZero();
    }
  }

  /** Sequential calls of {@code millis(endpoint)} each, ended as {@code code(i, endpoint)} says; returns the endpoints used. */
  private List<String> sequential(Mesh mesh, int n, java.util.function.ToDoubleFunction<String> millis,
      java.util.function.BiFunction<Integer, String, Integer> code) {
    Req req = new Req("/payments.Payments/Charge", "POST", Map.of());
    List<String> used = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      TestCall c = TestCall.grpc(mesh, "payments", req.path()).start();
      String e = c.last().endpoint();
      clock.advance(Duration.ofNanos((long) (millis.applyAsDouble(e) * 1_000_000)));
      c.end(AttemptEnd.STATUS, code.apply(i, e));
      used.add(e);
    }
    return used;
  }

  private Mesh twoEndpoints() {
    return Mesh.builder().service("checkout").clock(clock)
        .endpoints("payments", List.of(
            new Endpoint("a", "127.0.0.1", 9001, Map.of(), 1),
            new Endpoint("b", "127.0.0.1", 9002, Map.of(), 1)))
        .build();
  }

  @Test
  void aFailureNeitherStarvesAnEndpointNorMakesItLookFaster() {
    try (Mesh mesh = twoEndpoints()) {
      // sequential traffic, 2 ms per call on both endpoints (peak EWMA, the default balancer); call
      // 200 fails (an UNAVAILABLE, not retried: no route retries)
      List<String> used = sequential(mesh, 400, e -> 2, (i, e) -> i == 200 ? UNAVAILABLE : 0);
      long before = used.subList(10, 200).stream().filter("a"::equals).count();
      long afterA = used.subList(201, 391).stream().filter("a"::equals).count();
      // before, a and b shared the calls; after one failure of either, neither is starved
      assertThat(before).isBetween(48L, 142L);
      assertThat(afterA).isBetween(48L, 142L);
      assertThat(190 - afterA).isBetween(48L, 142L);
    }
  }

  /**
   * Sequential calls (nothing pending) to a and b answering in {@code aMillis} and {@code bMillis},
   * long enough (about 20 s on the clock) for the estimates to leave the 30 ms initial RTT behind;
   * returns a's share of the last 1,000.
   */
  private double sequentialShareOfA(double aMillis, double bMillis) {
    try (Mesh mesh = twoEndpoints()) {
      List<String> used = sequential(mesh, 8000, e -> e.equals("a") ? aMillis : bMillis, (i, e) -> 0);
      return used.subList(7000, 8000).stream().filter("a"::equals).count() / 1000.0;
    }
  }

  @Test
  void peakEwmaSharesNearEqualEndpointsAndFavoursAClearlyFasterOne() {
    // 10 % apart: a tie, so the calls are shared instead of the slightly faster one taking them all
    assertThat(sequentialShareOfA(2.0, 2.2)).isBetween(0.35, 0.65);
    // twice as fast: it takes most of them
    assertThat(sequentialShareOfA(2.0, 4.0)).isGreaterThan(0.8);
  }

  @Test
  void aSubsetNoDestinationRuleDefinesLoadsAsInIstioAndItsCallsFailUntilOneDefinesIt() {
    // "The subset must be defined in a corresponding DestinationRule" (istio/api Destination.subset);
    // Istio accepts the VirtualService and fails the calls until it is: so does MeshUp
    String vs = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - route: [{ destination: { host: payments, subset: v1 } }]
        """;
    try (Mesh mesh = Mesh.builder().service("checkout").clock(clock)
        .endpoints("payments", List.of(new Endpoint("a", "127.0.0.1", 9001, Map.of("version", "v1"), 1)))
        .policies("vs.yaml", vs).build()) {
      TestCall before = TestCall.of(mesh, "payments", Protocol.GRPC, "/p.S/M", "POST", Map.of()).start();
      assertThat(before.failure.kind()).isEqualTo(CallFailure.Kind.REJECTED);
      assertThat(before.failure.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
      assertThat(before.attempts).isEmpty();

      mesh.updatePolicies("dr.yaml", """
          apiVersion: networking.istio.io/v1
          kind: DestinationRule
          metadata: { name: payments }
          spec:
            host: payments
            subsets: [{ name: v1, labels: { version: v1 } }]
          """);
      TestCall after = TestCall.of(mesh, "payments", Protocol.GRPC, "/p.S/M", "POST", Map.of()).start();
      assertThat(after.last().endpoint()).isEqualTo("a");
      after.end(AttemptEnd.STATUS, 0);
      assertThat(after.completedWith).as("done by its first attempt").isEqualTo(1);
    }
  }
}
