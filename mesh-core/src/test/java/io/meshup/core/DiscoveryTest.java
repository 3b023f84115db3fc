package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallFailure;
import io.meshup.core.internal.routing.EndpointState;
import io.meshup.core.route.Rejection;
import io.meshup.core.testing.ControlledRegistry;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.FakeScheduler;
import io.meshup.core.testing.TestCall;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Where the registry's answers meet calls: a first call waits for the registry's first answer (up
 * to its deadline, or the discovery timeout), and says why when it fails; an empty answer after
 * endpoints were listed is held off for the grace period (gRFC A53's case); a new endpoint starts
 * from its peers' latency estimate and takes a fair share at once. All on the fake clock.
 */
class DiscoveryTest {
  final FakeClock clock = new FakeClock();
  final FakeScheduler scheduler = new FakeScheduler(clock);
  final ControlledRegistry registry = new ControlledRegistry();
  final List<Mesh> meshes = new ArrayList<>();

  @AfterEach
  void close() {
    meshes.forEach(Mesh::close);
  }

  Mesh mesh(String defaults) {
    Mesh m = Mesh.builder().yaml("mesh:\n  service: checkout\n" + (defaults.isEmpty() ? "" : "  defaults: " + defaults + "\n"))
        .clock(clock).scheduler(scheduler).random((origin, bound) -> origin).registry(registry).build();
    meshes.add(m);
    return m;
  }

  static Endpoint ep(String id) {
    return new Endpoint(id, "127.0.0.1", 9000 + id.hashCode() % 100, Map.of(), 1);
  }

  static TestCall call(Mesh mesh) {
    return TestCall.grpc(mesh, "payments", "/p");
  }

  @Test
  void aFirstCallWaitsForTheRegistrysFirstAnswerThenGoes() {
    Mesh mesh = mesh("");
    TestCall c = call(mesh).startWithin(TimeUnit.SECONDS.toNanos(5), true, false);
    assertThat(c.attempts).as("nothing to pick yet: the call waits, it does not fail").isEmpty();
    assertThat(c.done()).isFalse();
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(c.done()).isFalse();

    registry.answer("payments", ep("a"));
    assertThat(c.attempts).hasSize(1);
    assertThat(c.last().endpoint()).isEqualTo("a");
    c.end(AttemptEnd.STATUS, 0);
    assertThat(c.completedWith).isEqualTo(1);
    assertThat(MeshTestAccess.discoveryWaiters(mesh, "payments")).isZero();
  }

  @Test
  void theDeadlineEndsTheWaitAndSaysWhatItWaitedFor() {
    Mesh mesh = mesh("");
    TestCall c = call(mesh).startWithin(TimeUnit.MILLISECONDS.toNanos(300), true, false);
    scheduler.advance(Duration.ofMillis(300));
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.DEADLINE_EXCEEDED);
    assertThat(c.failure.message()).isEqualTo("meshup: payments: deadline exceeded after 300 ms (the caller's deadline;"
        + " 0 attempts; waiting for endpoints: the registry has not answered yet)");
    assertThat(MeshTestAccess.discoveryWaiters(mesh, "payments")).as("withdrawn when the call ended").isZero();
  }

  @Test
  void withoutADeadlineTheDiscoveryTimeoutBoundsTheWait() {
    Mesh mesh = mesh("{ discoveryTimeout: 2s }");
    TestCall c = call(mesh).start();
    scheduler.advance(Duration.ofMillis(1999));
    assertThat(c.done()).isFalse();
    scheduler.advance(Duration.ofMillis(1));
    assertThat(c.failure.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
    assertThat(c.failure.message()).endsWith(": no endpoint is registered (route default); the registry has not answered yet"
        + " (waited 2000 ms)");
  }

  @Test
  void aRegistryFailureBeforeItsFirstAnswerEndsTheWaitWithTheCause() {
    Mesh mesh = mesh("");
    TestCall c = call(mesh).startWithin(TimeUnit.SECONDS.toNanos(5), true, false);
    registry.fail("payments", new java.io.IOException("connection refused"));
    assertThat(c.failure.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
    assertThat(c.failure.message()).contains("the registry failed before listing any: java.io.IOException: connection refused");
    TestCall later = call(mesh).startWithin(TimeUnit.SECONDS.toNanos(5), true, false);
    assertThat(later.failure).as("a known failure is not waited for again").isNotNull();
  }

  @Test
  void closingTheMeshEndsCallsWaitingForTheRegistry() {
    Mesh mesh = mesh("");
    TestCall c = call(mesh).startWithin(TimeUnit.SECONDS.toNanos(5), true, false);
    mesh.close();
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.SHUT_DOWN);
  }

  @Test
  void aCancelledWaitingCallEndsAndIsWithdrawn() {
    Mesh mesh = mesh("");
    TestCall c = call(mesh).startWithin(TimeUnit.SECONDS.toNanos(5), true, false);
    c.cancel("gone", null);
    assertThat(c.failure.kind()).isEqualTo(CallFailure.Kind.CANCELLED);
    assertThat(MeshTestAccess.discoveryWaiters(mesh, "payments")).isZero();
    registry.answer("payments", ep("a"));
    assertThat(c.attempts).as("nothing sent for a cancelled call").isEmpty();
  }

  @Test
  void callsThatGiveUpLeaveNothingBehind() {
    Mesh mesh = mesh("");
    for (int i = 0; i < 1000; i++) {
      call(mesh).startWithin(TimeUnit.MILLISECONDS.toNanos(10), true, false);
      scheduler.advance(Duration.ofMillis(10));
    }
    assertThat(MeshTestAccess.discoveryWaiters(mesh, "payments")).isZero();
  }

  @Test
  void anEmptyAnswerAfterEndpointsIsHeldForTheGracePeriodThenApplied() {
    Mesh mesh = mesh("{ emptyEndpointsGrace: 10s }");
    mesh.router("payments");
    registry.answer("payments", ep("a"), ep("b"));

    registry.fail("payments", new java.io.IOException("connection refused")); // the agent restarts
    registry.answer("payments"); // with an empty catalog
    assertThat(mesh.meterRegistry().counter("mesh.registry.empty.held").count()).isEqualTo(1.0);
    TestCall c = call(mesh).start();
    assertThat(c.attempts).as("the last known endpoints still serve").hasSize(1);
    c.end(AttemptEnd.STATUS, 0);

    registry.answer("payments", ep("b")); // instances re-registered: a real answer applies at once
    scheduler.advance(Duration.ofSeconds(20));
    TestCall d = call(mesh).start();
    assertThat(d.last().endpoint()).isEqualTo("b");
    d.end(AttemptEnd.STATUS, 0);

    registry.fail("payments", new java.io.IOException("connection refused"));
    registry.answer("payments");
    registry.answer("payments"); // a second empty answer neither applies nor restarts the grace
    scheduler.advance(Duration.ofMillis(9999));
    assertThat(call(mesh).start().attempts).hasSize(1);
    scheduler.advance(Duration.ofMillis(1));
    TestCall e = call(mesh).start();
    assertThat(e.failure.rejection()).as("still empty after the grace: applied").isEqualTo(Rejection.NO_ENDPOINTS);
    assertThat(mesh.meterRegistry().counter("mesh.registry.empty.held").count()).isEqualTo(2.0);
  }

  @Test
  void anEmptyAnswerFromARegistryThatKeptAnsweringAppliesAtOnce() {
    // the last instance deregistered or failing its health checks: nothing was reset, nothing to hold
    Mesh mesh = mesh("{ emptyEndpointsGrace: 10s }");
    mesh.router("payments");
    registry.answer("payments", ep("a"));
    registry.answer("payments");
    assertThat(call(mesh).start().failure.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
    assertThat(mesh.meterRegistry().counter("mesh.registry.empty.held").count()).isZero();
  }

  @Test
  void theEndpointGaugeFollowsTheRuntimeInForceThroughIdleReleaseAndPolicyUpdates() {
    Mesh mesh = mesh("{ idleTimeout: 1s }");
    mesh.router("payments");
    registry.answer("payments", ep("a"), ep("b"));
    assertThat(healthy(mesh)).isEqualTo(2);

    scheduler.advance(Duration.ofSeconds(5));
    assertThat(mesh.destinationCount()).isZero();
    mesh.router("payments");
    registry.answer("payments", ep("c"), ep("d"), ep("e"));
    assertThat(healthy(mesh)).as("a runtime made again after the idle release").isEqualTo(3);

    mesh.updatePolicies("test", """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec: { host: payments }
        """);
    registry.answer("payments", ep("a"));
    assertThat(healthy(mesh)).as("after a policy update rebuilt the subsets").isEqualTo(1);
  }

  static double healthy(Mesh mesh) {
    return mesh.meterRegistry().get("mesh.endpoints").tags("service", "payments", "subset", "all", "state", "healthy")
        .gauge().value();
  }

  @Test
  void withNoGraceAnEmptyAnswerAppliesAtOnce() {
    Mesh mesh = mesh("{ emptyEndpointsGrace: 0s }");
    mesh.router("payments");
    registry.answer("payments", ep("a"));
    registry.fail("payments", new java.io.IOException("connection refused"));
    registry.answer("payments");
    assertThat(call(mesh).start().failure.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
  }

  @Test
  void aNewEndpointStartsFromItsPeersEstimateAndTakesAFairShareAtOnce() {
    Mesh mesh = mesh("");
    mesh.router("payments");
    registry.answer("payments", ep("a"), ep("b"), ep("c"));
    // warm the three: 1 ms each
    for (int i = 0; i < 300; i++) {
      TestCall c = call(mesh).start();
      clock.advance(Duration.ofMillis(1));
      c.end(AttemptEnd.STATUS, 0);
    }
    registry.answer("payments", ep("a"), ep("b"), ep("c"), ep("d"));
    EndpointState d = MeshTestAccess.endpoint(mesh, "payments", "d");
    EndpointState a = MeshTestAccess.endpoint(mesh, "payments", "a");
    long now = clock.nanoTime();
    assertThat(d.stale(now)).as("seeded, not an unknown to probe").isFalse();
    assertThat(d.cost(now, io.meshup.core.internal.lb.Balancer.EWMA_TAU_NANOS))
        .isCloseTo(a.cost(now, io.meshup.core.internal.lb.Balancer.EWMA_TAU_NANOS), org.assertj.core.data.Percentage.withPercentage(20));

    // 8 calls in flight at a time, 400 calls: the new endpoint takes about a quarter from the start
    Map<String, Integer> served = new HashMap<>();
    List<TestCall> inFlight = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      TestCall c = call(mesh).start();
      served.merge(c.last().endpoint(), 1, Integer::sum);
      inFlight.add(c);
      if (inFlight.size() == 8) {
        clock.advance(Duration.ofMillis(1));
        inFlight.forEach(x -> x.end(AttemptEnd.STATUS, 0));
        inFlight.clear();
      }
    }
    assertThat(served.get("d")).as("served by the new endpoint: %s", served).isBetween(70, 130);
  }
}
