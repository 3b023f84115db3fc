package io.meshup.core;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.EngineCall;
import io.meshup.core.call.CallEngine;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.Protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.internal.routing.EndpointState;
import io.meshup.core.route.Rejection;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.FakeScheduler;
import io.meshup.core.testing.RetryTable;
import io.meshup.core.testing.TestCall;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The call engine's rules, one by one, on the fake clock with a fake transport ({@link TestCall}):
 * the shared retry table, deadlines through delays, backoffs and attempts, cancellation, faults,
 * the retry budget, replays, the breaker on logical calls, panic, probes and shutdown. Backoffs
 * draw their lowest value, so times are exact.
 */
class CallEngineTest {
  static final int UNAVAILABLE = 14;
  final FakeClock clock = new FakeClock();
  final FakeScheduler scheduler = new FakeScheduler(clock);
  final List<Mesh> meshes = new ArrayList<>();

  @AfterEach
  void close() {
    meshes.forEach(Mesh::close);
  }

  static String dr(String trafficPolicy) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec:
          host: payments
          trafficPolicy: %s
        ---
        """.formatted(trafficPolicy);
  }

  static String vs(String route) {
    return """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - name: main
              route: [{ destination: { host: payments } }]
        %s
        """.formatted(route.indent(6));
  }

  Mesh mesh(String policy, int endpoints) {
    List<Endpoint> eps = new ArrayList<>();
    for (int i = 0; i < endpoints; i++) {
      eps.add(new Endpoint("e" + i, "127.0.0.1", 9000 + i, Map.of(), 1));
    }
    Mesh.Builder b = Mesh.builder().service("checkout").clock(clock).scheduler(scheduler).random((origin, bound) -> origin)
        .endpoints("payments", eps);
    if (!policy.isEmpty()) {
      b.policies("test", policy);
    }
    Mesh m = b.build();
    meshes.add(m);
    return m;
  }

  Mesh retrying(String retryOn, int endpoints) {
    return mesh(dr("{ outlierDetection: { consecutive5xxErrors: 0 } }")
        + vs("retries: { attempts: 2, perTryTimeout: 1s, retryOn: \"" + retryOn + "\" }"), endpoints);
  }

  static TestCall call(Mesh mesh, Protocol protocol) {
    return TestCall.of(mesh, "payments", protocol, "/p", "POST", Map.of());
  }

  double retries(Mesh mesh, String result) {
    return mesh.meterRegistry().get("mesh.client.retries").tags("result", result).counter().count();
  }

  static Stream<RetryTable.Row> table() {
    return RetryTable.rows().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void theSharedTable(RetryTable.Row row) {
    Mesh mesh = retrying(row.retryOn(), 3);
    TestCall c = call(mesh, row.protocol());
    c.start(0, false, row.idempotent(), false);
    assertThat(c.attempts).hasSize(1);
    c.end(row.end(), row.code());
    switch (row.next()) {
      case REPLAY:
        assertThat(c.attempts).as("sent again at once").hasSize(2);
        assertThat(c.last().replay()).isTrue();
        assertThat(c.last().endpoint()).as("on another endpoint").isNotEqualTo(c.attempts.get(0).endpoint());
        assertThat(retries(mesh, "granted")).as("no budget spent").isZero();
        break;
      case RETRY:
        assertThat(c.attempts).as("not before the backoff").hasSize(1);
        assertThat(c.done()).isFalse();
        scheduler.advance(Duration.ofMillis(12));
        assertThat(c.attempts).hasSize(1);
        scheduler.advance(Duration.ofNanos(500_000)); // the lowest backoff: half of 25 ms
        assertThat(c.attempts).hasSize(2);
        assertThat(c.last().endpoint()).as("on another endpoint").isNotEqualTo(c.attempts.get(0).endpoint());
        assertThat(retries(mesh, "granted")).isEqualTo(1);
        break;
      default:
        assertThat(c.done()).as("the call ended").isTrue();
        scheduler.advance(Duration.ofSeconds(1));
        assertThat(c.attempts).hasSize(1);
        if (row.end() == AttemptEnd.TIMEOUT) {
          assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.ATTEMPT_TIMEOUT);
          assertThat(c.failure.message()).contains("perTryTimeout of route main");
        } else {
          assertThat(c.completedWith).as("with the attempt's own result").isEqualTo(1);
        }
        break;
    }
  }

  @Test
  void aResponseArrivingWhileTheAttemptStartsIsDecidedLaterInOrder() {
    Mesh mesh = retrying("5xx", 3);
    TestCall c = TestCall.of(mesh, "payments", Protocol.HTTP, "/p", "GET", Map.of());
    c.respondDuringStart = 503;
    c.start(0, false, true, false);
    assertThat(c.verdicts).as("the engine was busy starting the attempt").containsExactly(EngineCall.Verdict.LATER);
    assertThat(c.decided).as("decided once the start was done: retried").containsExactly(false);
    c.respondDuringStart = 0;
    c.end(AttemptEnd.STATUS, 503);
    scheduler.advance(Duration.ofMillis(13));
    assertThat(c.attempts).as("retried after the backoff, elsewhere").hasSize(2);
    assertThat(c.last().endpoint()).isNotEqualTo(c.attempts.get(0).endpoint());

    assertThat(c.respond(200)).as("nothing else runs now: decided at once").isEqualTo(EngineCall.Verdict.COMMIT);
    assertThat(c.decided).hasSize(1);
    c.end(AttemptEnd.STATUS, 200);
    assertThat(c.completedWith).isEqualTo(2);
  }

  @Test
  void aLaterVerdictOnTheLastAllowedAttemptCommits() {
    Mesh mesh = retrying("5xx", 3);
    TestCall c = TestCall.of(mesh, "payments", Protocol.HTTP, "/p", "GET", Map.of());
    c.respondDuringStart = 503;
    c.start(0, false, true, false);
    for (int i = 0; i < 2; i++) {
      c.end(AttemptEnd.STATUS, 503);
      scheduler.advance(Duration.ofMillis(100));
    }
    assertThat(c.attempts).as("the first try and two retries").hasSize(3);
    assertThat(c.verdicts).containsOnly(EngineCall.Verdict.LATER);
    assertThat(c.decided).as("retry, retry, then the last 503 goes to the caller").containsExactly(false, false, true);
    c.end(AttemptEnd.STATUS, 503);
    assertThat(c.completedWith).isEqualTo(3);
  }

  @Test
  void replaysAreBoundedAndAvoidTheEndpointsTried() {
    Mesh mesh = mesh("", 6);
    TestCall c = call(mesh, Protocol.GRPC).start();
    for (int i = 0; i < CallEngine.DEFAULT_MAX_REPLAYS; i++) {
      c.end(AttemptEnd.NOT_SENT, UNAVAILABLE);
    }
    assertThat(c.attempts).hasSize(1 + CallEngine.DEFAULT_MAX_REPLAYS);
    Set<String> used = new HashSet<>();
    c.attempts.forEach(a -> used.add(a.endpoint()));
    assertThat(used).as("every replay on an endpoint not tried yet").hasSize(c.attempts.size());
    c.end(AttemptEnd.NOT_SENT, UNAVAILABLE);
    assertThat(c.completedWith).as("no route retries: the last replay's failure stands").isEqualTo(5);
  }

  @Test
  void replaysSpendNoBreakerPermitAndTheBreakerSeesTheLogicalCall() {
    Mesh mesh = mesh(dr("{ circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10 } }") + vs(""), 4);
    for (int i = 0; i < 10; i++) {
      TestCall c = call(mesh, Protocol.GRPC).start();
      c.end(AttemptEnd.NOT_SENT, UNAVAILABLE).end(AttemptEnd.NOT_SENT, UNAVAILABLE).end(AttemptEnd.STATUS, 0);
      assertThat(c.completedWith).isEqualTo(3);
    }
    CircuitBreaker b = breaker(mesh);
    assertThat(b.getMetrics().getNumberOfSuccessfulCalls()).isEqualTo(10);
    assertThat(b.getMetrics().getNumberOfFailedCalls()).isZero();
    assertThat(mesh.meterRegistry().get("mesh.client.requests").tags("outcome", "success").timer().count()).isEqualTo(10);
    assertThat(mesh.meterRegistry().get("mesh.client.attempts").tags("outcome", "failure").timer().count()).isEqualTo(20);
  }

  CircuitBreaker breaker(Mesh mesh) {
    return mesh.runtimeOf("payments").subset("").orElseThrow().breaker();
  }

  @Test
  void aRetriedFailureCountsOnceForTheBreakerWhenTheCallFails() {
    Mesh mesh = mesh(dr("{ circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10 }, outlierDetection: { consecutive5xxErrors: 0 } }")
        + vs("retries: { attempts: 2, retryOn: unavailable }"), 3);
    TestCall c = call(mesh, Protocol.GRPC);
    c.start(0, false, true, false);
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    scheduler.advance(Duration.ofMillis(13));
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    scheduler.advance(Duration.ofMillis(25));
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    assertThat(c.completedWith).isEqualTo(3);
    assertThat(breaker(mesh).getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
  }

  @Test
  void everyAttemptCarriesWhatRemainsOfTheDeadlineAndABackoffMustFitInIt() {
    Mesh mesh = retrying("5xx", 3);
    TestCall c = call(mesh, Protocol.GRPC);
    c.startWithin(Duration.ofMillis(100).toNanos(), true, false);
    assertThat(c.last().timeoutNanos()).isEqualTo(Duration.ofMillis(100).toNanos());
    scheduler.advance(Duration.ofMillis(50));
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    scheduler.advance(Duration.ofNanos(12_500_000));
    assertThat(c.attempts).hasSize(2);
    assertThat(c.last().timeoutNanos()).as("the rest of the caller's deadline").isEqualTo(Duration.ofNanos(37_500_000).toNanos());
    scheduler.advance(Duration.ofMillis(30));
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    // 7.5 ms remain; the next backoff (25 ms) does not fit: no retry, the attempt's own result
    assertThat(c.completedWith).isEqualTo(2);
    assertThat(scheduler.pending()).isZero();
  }

  @Test
  void theRouteTimeoutBindsWhenEarlierThanTheCallersDeadline() {
    Mesh mesh = mesh(vs("timeout: 50ms"), 1);
    TestCall c = call(mesh, Protocol.HTTP);
    c.startWithin(Duration.ofSeconds(10).toNanos(), true, false);
    assertThat(c.last().timeoutNanos()).isEqualTo(Duration.ofMillis(50).toNanos());
    scheduler.advance(Duration.ofMillis(49));
    assertThat(c.cancels).isEmpty();
    scheduler.advance(Duration.ofMillis(1));
    // HTTP: the engine itself ends the attempt at the deadline (the JDK bounds only the headers)
    assertThat(c.cancels).extracting(CallFailure::kind).containsExactly(CallFailure.Kind.DEADLINE_EXCEEDED);
    c.end(AttemptEnd.CANCELLED, 0);
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.DEADLINE_EXCEEDED);
    assertThat(c.failure.routeTimeout()).isTrue();
    assertThat(c.failure.message()).contains("the timeout of route main");
  }

  @Test
  void aDeadlineAlreadyPassedSendsNothing() {
    Mesh mesh = mesh("", 1);
    TestCall c = call(mesh, Protocol.GRPC);
    c.startWithin(-1, false, false);
    assertThat(c.attempts).isEmpty();
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.DEADLINE_EXCEEDED);
  }

  @Test
  void anInjectedDelayHoldsTheDeadline() {
    Mesh mesh = mesh(vs("fault: { delay: { fixedDelay: 5s, percentage: { value: 100 } } }"), 1);
    TestCall c = call(mesh, Protocol.GRPC);
    c.startWithin(Duration.ofSeconds(1).toNanos(), false, false);
    scheduler.advance(Duration.ofMillis(999));
    assertThat(c.done()).isFalse();
    scheduler.advance(Duration.ofMillis(1));
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.DEADLINE_EXCEEDED);
    assertThat(c.attempts).as("no attempt outlives the deadline").isEmpty();
  }

  @Test
  void anInjectedDelayWithinTheDeadlineDelaysTheFirstAttempt() {
    Mesh mesh = mesh(vs("fault: { delay: { fixedDelay: 200ms, percentage: { value: 100 } } }"), 1);
    TestCall c = call(mesh, Protocol.GRPC);
    c.startWithin(Duration.ofSeconds(1).toNanos(), false, false);
    assertThat(c.attempts).isEmpty();
    scheduler.advance(Duration.ofMillis(200));
    assertThat(c.attempts).hasSize(1);
    assertThat(c.last().timeoutNanos()).isEqualTo(Duration.ofMillis(800).toNanos());
  }

  @Test
  void anInjectedAbortSendsNothingAndTakesNoPermit() {
    Mesh mesh = mesh(vs("fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }"), 1);
    TestCall c = call(mesh, Protocol.HTTP).start();
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.FAULT_ABORT);
    assertThat(c.failure.abortHttpStatus()).isEqualTo(503);
    assertThat(c.failure.message()).isEqualTo("meshup: fault injected by route main");
    assertThat(breaker(mesh).getMetrics().getNumberOfBufferedCalls()).isZero();
  }

  @Test
  void cancellingDuringABackoffEndsTheCallAndItsTimer() {
    Mesh mesh = retrying("5xx", 2);
    TestCall c = call(mesh, Protocol.HTTP);
    c.start(0, false, true, false);
    c.end(AttemptEnd.STATUS, 503);
    assertThat(scheduler.pending()).as("the backoff").isEqualTo(1);
    c.cancel("user", null);
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.CANCELLED);
    assertThat(scheduler.pending()).isZero();
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(c.attempts).hasSize(1);
  }

  @Test
  void cancellingDuringAnAttemptCancelsItAndEndsTheCallWhenItCloses() {
    Mesh mesh = retrying("5xx,reset,cancelled", 2);
    TestCall c = call(mesh, Protocol.GRPC);
    c.start(0, false, true, false);
    c.cancel("user", null);
    assertThat(c.cancels).extracting(CallFailure::kind).containsExactly(CallFailure.Kind.CANCELLED);
    assertThat(c.done()).isFalse();
    c.end(AttemptEnd.CANCELLED, 1);
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.CANCELLED);
    assertThat(c.failure.message()).isEqualTo("meshup: cancelled by the caller: user");
    assertThat(c.attempts).hasSize(1);
  }

  @Test
  void cancellingBeforeTheStartSendsNothing() {
    Mesh mesh = mesh("", 1);
    TestCall c = call(mesh, Protocol.GRPC);
    c.cancel("early", null);
    c.start();
    assertThat(c.attempts).isEmpty();
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.CANCELLED);
  }

  @Test
  void retriesStopAtTheBudgetAndTheOverBudgetOnesAreCounted() {
    Mesh mesh = mesh(dr("{ outlierDetection: { consecutive5xxErrors: 0 }, circuitBreaker: { enabled: false } }")
        + vs("retries: { attempts: 1, retryOn: 5xx }"), 2);
    // 10 s window: 20 % of calls plus 10 per second, so 100 calls allow 120 retries
    int retried = 0;
    for (int i = 0; i < 130; i++) {
      TestCall c = call(mesh, Protocol.HTTP);
      c.start(0, false, true, false);
      c.end(AttemptEnd.STATUS, 503);
      if (!c.done()) {
        retried++;
        scheduler.advance(Duration.ofMillis(13));
        c.end(AttemptEnd.STATUS, 200);
      }
    }
    assertThat(retried).isEqualTo(126); // (130 calls * 0.2) + 100
    assertThat(retries(mesh, "over_budget")).isEqualTo(4);
  }

  @Test
  void stoppingReplaysEndsRetriesForTheCall() {
    Mesh mesh = retrying("5xx", 2);
    TestCall c = call(mesh, Protocol.GRPC);
    c.start(0, false, true, false);
    c.stopReplays();
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    assertThat(c.completedWith).isEqualTo(1);
    TestCall d = call(mesh, Protocol.GRPC).start();
    d.stopReplays();
    d.end(AttemptEnd.NOT_SENT, UNAVAILABLE);
    assertThat(d.completedWith).as("not even a replay").isEqualTo(1);
  }

  @Test
  void overTheReplayBoundWhileWaitingEndsTheCallWithTheLastAttempt() {
    Mesh mesh = retrying("5xx", 2);
    TestCall c = call(mesh, Protocol.GRPC);
    c.start(0, false, true, false);
    c.end(AttemptEnd.STATUS, UNAVAILABLE);
    assertThat(c.done()).isFalse();
    c.stopReplays();
    assertThat(c.completedWith).isEqualTo(1);
  }

  @Test
  void aStreamsPerTryTimeoutEndsAtItsResponseHeaders() {
    Mesh mesh = mesh(vs("retries: { attempts: 2, perTryTimeout: 100ms, retryOn: deadline-exceeded }"), 2);
    TestCall stream = call(mesh, Protocol.GRPC);
    stream.startWithin(Duration.ofSeconds(10).toNanos(), true, true);
    assertThat(stream.last().timeoutNanos()).as("the transport keeps the call's deadline for a stream")
        .isEqualTo(Duration.ofSeconds(10).toNanos());
    scheduler.advance(Duration.ofMillis(50));
    stream.attemptCommitted(1);
    scheduler.advance(Duration.ofSeconds(5));
    assertThat(stream.cancels).as("committed before its per-try timeout: it runs on").isEmpty();

    TestCall slow = call(mesh, Protocol.GRPC);
    slow.startWithin(Duration.ofSeconds(10).toNanos(), true, true);
    scheduler.advance(Duration.ofMillis(100));
    assertThat(slow.cancels).extracting(CallFailure::kind).containsExactly(CallFailure.Kind.ATTEMPT_TIMEOUT);
    slow.end(AttemptEnd.CANCELLED, 1);
    scheduler.advance(Duration.ofMillis(13));
    assertThat(slow.attempts).as("a per-try timeout, retried").hasSize(2);
  }

  @Test
  void aLongStreamNeverLooksSlowToTheBreakerNorTheBalancer() {
    Mesh mesh = mesh(dr("{ circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10, slowCallDurationThreshold: 1s, slowCallRateThreshold: 50 } }")
        + vs(""), 1);
    for (int i = 0; i < 30; i++) {
      TestCall s = call(mesh, Protocol.GRPC);
      s.start(0, false, false, true);
      scheduler.advance(Duration.ofMillis(2));
      s.attemptCommitted(1);
      scheduler.advance(Duration.ofSeconds(3));
      s.end(AttemptEnd.STATUS, 0);
    }
    assertThat(breaker(mesh).getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(breaker(mesh).getMetrics().getNumberOfSlowCalls()).isZero();
    EndpointState e = mesh.runtimeOf("payments").endpointState("e0").orElseThrow();
    assertThat(e.cost(clock.nanoTime(), 1e10)).as("the estimate is the time to headers").isLessThan(3e6);
  }

  @Test
  void httpAttemptsWaitForHeadersAtMostTheHeadersTimeoutGrpcOnesRelyOnKeepalive() {
    Mesh mesh = mesh("", 1);
    TestCall http = call(mesh, Protocol.HTTP).start();
    assertThat(http.last().timeoutNanos()).isEqualTo(CallEngine.DEFAULT_HEADERS_TIMEOUT.toNanos());
    http.end(AttemptEnd.TIMEOUT, 0);
    assertThat(http.failure.kind()).isEqualTo(CallFailure.Kind.ATTEMPT_TIMEOUT);
    assertThat(http.failure.message()).contains("no response headers within the mesh's headersTimeout");
    TestCall grpc = call(mesh, Protocol.GRPC).start();
    assertThat(grpc.last().timeoutNanos()).isZero();
  }

  @Test
  void rejectionsNameTheDestinationAndReason() {
    Mesh mesh = mesh(dr("{ connectionPool: { http: { http2MaxRequests: 1 } } }") + vs(""), 1);
    TestCall first = call(mesh, Protocol.GRPC).start();
    TestCall second = call(mesh, Protocol.GRPC).start();
    assertThat(second.failure.kind()).isEqualTo(CallFailure.Kind.REJECTED);
    assertThat(second.failure.rejection()).isEqualTo(Rejection.OVERFLOW);
    assertThat(second.failure.message()).isEqualTo("meshup: payments: concurrent request limit "
        + "(connectionPool.http.http2MaxRequests) reached (route main)");
    first.end(AttemptEnd.STATUS, 0);
    assertThat(call(mesh, Protocol.GRPC).start().attempts).as("the permit came back").hasSize(1);
  }

  @Test
  void anEmptySubsetFailsFastWithNoEndpoints() {
    Mesh mesh = mesh("", 0);
    TestCall c = call(mesh, Protocol.GRPC).start();
    assertThat(c.failure.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
    assertThat(breaker(mesh).getMetrics().getNumberOfBufferedCalls()).isZero();
  }

  @Test
  void noMatchingRouteIsNoRoute() {
    Mesh mesh = mesh(vs("match: [{ uri: { prefix: /only } }]").replace("- name: main", "- name: main"), 1);
    TestCall c = TestCall.of(mesh, "payments", Protocol.HTTP, "/other", "GET", Map.of()).start();
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.NO_ROUTE);
    assertThat(c.failure.message()).isEqualTo("meshup: no route of service payments matches GET /other");
  }

  @Test
  void shutdownEndsCallsWaitingOnABackoff() {
    Mesh mesh = retrying("5xx", 2);
    TestCall c = call(mesh, Protocol.HTTP);
    c.start(0, false, true, false);
    c.end(AttemptEnd.STATUS, 503);
    mesh.callEngine().shutdown();
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.SHUT_DOWN);
    assertThat(call(mesh, Protocol.HTTP).start().failure.kind()).isEqualTo(CallFailure.Kind.SHUT_DOWN);
  }

  @Test
  void withMostOfTheSubsetEjectedEjectionsAreIgnored() {
    Mesh mesh = mesh(dr("{ loadBalancer: { simple: ROUND_ROBIN }, circuitBreaker: { enabled: false },"
        + " outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100 } }") + vs(""), 4);
    // eject e0 and e1: half the subset, no panic yet: picks avoid them
    failUntilEjected(mesh, "e0");
    failUntilEjected(mesh, "e1");
    Set<String> picked = picks(mesh, 40);
    assertThat(picked).containsExactlyInAnyOrder("e2", "e3");
    // a third: fewer than half healthy, so every endpoint is used again (Envoy's panic threshold)
    failUntilEjected(mesh, "e2");
    scheduler.advance(Duration.ofMillis(101)); // the panic check is recounted every 100 ms
    assertThat(picks(mesh, 40)).containsExactlyInAnyOrder("e0", "e1", "e2", "e3");
  }

  private void failUntilEjected(Mesh mesh, String id) {
    EndpointState e = mesh.runtimeOf("payments").endpointState(id).orElseThrow();
    for (int i = 0; i < 100 && !e.isEjected(clock.nanoTime()); i++) {
      TestCall c = call(mesh, Protocol.GRPC).start();
      c.end(AttemptEnd.STATUS, c.last().endpoint().equals(id) ? UNAVAILABLE : 0);
    }
    assertThat(e.isEjected(clock.nanoTime())).isTrue();
  }

  private Set<String> picks(Mesh mesh, int n) {
    Set<String> out = new HashSet<>();
    for (int i = 0; i < n; i++) {
      TestCall c = call(mesh, Protocol.GRPC).start();
      out.add(c.last().endpoint());
      c.end(AttemptEnd.STATUS, 0);
    }
    return out;
  }

  @Test
  void anUnresponsivePeerIsEjectedAtOnce() {
    Mesh mesh = mesh(dr("{ outlierDetection: { consecutive5xxErrors: 5, maxEjectionPercent: 50 } }") + vs(""), 2);
    TestCall c = call(mesh, Protocol.GRPC).start();
    String first = c.last().endpoint();
    c.end(AttemptEnd.UNRESPONSIVE, UNAVAILABLE);
    assertThat(mesh.runtimeOf("payments").endpointState(first).orElseThrow().isEjected(clock.nanoTime()))
        .as("one unanswered keepalive ejects, as a failed health check would").isTrue();
  }

  @Test
  void anEndpointThatOnceAnsweredSlowlyIsProbedWithinSeconds() {
    Mesh mesh = mesh("", 2);
    // warm both endpoints at 1 ms, then e1 answers one call after 10 s (a freeze)
    for (int i = 0; i < 200; i++) {
      TestCall c = call(mesh, Protocol.GRPC).start();
      boolean frozen = i == 100 && c.last().endpoint().equals("e1");
      scheduler.advance(frozen ? Duration.ofSeconds(10) : Duration.ofMillis(1));
      c.end(AttemptEnd.STATUS, 0);
      if (i == 100 && !frozen) {
        i--; // until e1 takes call 100
      }
    }
    List<Long> times = new ArrayList<>();
    long start = clock.nanoTime();
    for (int i = 0; i < 5000 && times.size() < 3; i++) {
      TestCall c = call(mesh, Protocol.GRPC).start();
      if (c.last().endpoint().equals("e1")) {
        times.add(clock.nanoTime() - start);
      }
      scheduler.advance(Duration.ofMillis(1));
      c.end(AttemptEnd.STATUS, 0);
    }
    // the probe comes once its estimate is stale (2 s), not when the 10 s sample has decayed
    // (about 90 s at peak EWMA's 10 s decay); from then on e1 is back in the rotation
    assertThat(times).hasSize(3);
    assertThat(times.get(0)).isLessThan(Duration.ofMillis(2100).toNanos());
    assertThat(times.get(2) - times.get(0)).isLessThan(Duration.ofMillis(100).toNanos());
  }
}
