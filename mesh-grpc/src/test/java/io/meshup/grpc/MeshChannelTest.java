package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc.SimpleServiceBlockingStub;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.testing.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** gRPC calls through the mesh against real servers on loopback. */
class MeshChannelTest {
  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();

  TestServers servers;
  TestServers.Instance v1a;
  TestServers.Instance v1b;
  TestServers.Instance v2;
  final FakeClock clock = new FakeClock();
  final List<AutoCloseable> closers = new ArrayList<>();

  @BeforeEach
  void startServers() throws Exception {
    servers = new TestServers();
    v1a = servers.start("v1a", Map.of("version", "v1"));
    v1b = servers.start("v1b", Map.of("version", "v1"));
    v2 = servers.start("v2", Map.of("version", "v2"));
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : closers) {
      c.close();
    }
    servers.close();
  }

  static String dr(String trafficPolicy) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec:
          host: payments
          trafficPolicy: %s
          subsets:
            - { name: v1, labels: { version: v1 } }
            - { name: v2, labels: { version: v2 } }
        ---
        """.formatted(trafficPolicy);
  }

  static String split(int v1, int v2, String extra) {
    return """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - name: split
              route:
                - { destination: { host: payments, subset: v1 }, weight: %d }
                - { destination: { host: payments, subset: v2 }, weight: %d }
        """.formatted(v1, v2) + extra.indent(6);
  }

  SimpleServiceBlockingStub stub(Mesh mesh) {
    ManagedChannel ch = MeshChannels.forService(mesh, "payments");
    closers.add(() -> {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    });
    return SimpleServiceGrpc.newBlockingStub(ch);
  }

  Mesh mesh(String policy, boolean fakeClock) {
    return mesh(policy, fakeClock, servers.endpoints());
  }

  Mesh mesh(String policy, boolean fakeClock, List<Endpoint> endpoints) {
    Mesh.Builder b = Mesh.builder().service("checkout").endpoints("payments", endpoints).policies("test", policy);
    if (fakeClock) {
      b.clock(clock);
    }
    Mesh m = b.build();
    closers.add(m);
    return m;
  }

  Map<String, Integer> send(SimpleServiceBlockingStub stub, int n) {
    Map<String, Integer> byInstance = new HashMap<>();
    for (int i = 0; i < n; i++) {
      byInstance.merge(stub.unaryRpc(REQ).getResponseMessage(), 1, Integer::sum);
    }
    return byInstance;
  }

  @Test
  void splits90To10And50To50WithinTwoPointsOver10000Calls() {
    for (int[] w : new int[][] {{90, 10}, {50, 50}}) {
      // round robin inside each subset, so that "both v1 instances serve" does not depend on peak
      // EWMA's reaction to one slow call under strictly sequential traffic
      Mesh mesh = mesh(dr("{ loadBalancer: { simple: ROUND_ROBIN } }") + split(w[0], w[1], ""), false);
      Map<String, Integer> seen = send(stub(mesh), 10_000);
      double v1Share = (seen.getOrDefault("v1a", 0) + seen.getOrDefault("v1b", 0)) / 100.0;
      assertThat(v1Share).as("v1 share for %d/%d: %s", w[0], w[1], seen).isBetween(w[0] - 2.0, w[0] + 2.0);
      assertThat(seen.get("v1a")).as("both v1 instances serve").isGreaterThan(w[0] * 10 / 5);
      assertThat(mesh.meterRegistry().get("mesh.client.requests")
          .tags("service", "payments", "route", "split", "subset", "v2", "outcome", "success").timer().count())
          .isEqualTo((long) seen.get("v2"));
    }
  }

  @Test
  void policyUpdateMidTrafficSwapsTheSplitWithNoFailedCall() throws Exception {
    Mesh mesh = mesh(dr("{}") + split(90, 10, ""), false);
    SimpleServiceBlockingStub stub = stub(mesh);
    java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    CountDownLatch running = new CountDownLatch(100);
    Thread traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          stub.unaryRpc(REQ);
        } catch (StatusRuntimeException e) {
          failed.incrementAndGet();
        }
        running.countDown();
      }
    });
    traffic.start();
    assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();
    mesh.updatePolicies("update", split(10, 90, ""));
    Map<String, Integer> after = send(stub, 2_000);
    stop.set(true);
    traffic.join();
    assertThat(failed.get()).isZero();
    assertThat(after.getOrDefault("v2", 0) / 20.0).isBetween(85.0, 95.0);
  }

  @Test
  void headerAndPathMatchesChooseTheRoute() {
    String vs = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - name: jason
              match: [{ headers: { end-user: { exact: jason } } }]
              route: [{ destination: { host: payments, subset: v2 } }]
            - name: unary
              match: [{ uri: { regex: "/grpc\\\\.testing\\\\.SimpleService/Unary.*" } }]
              route: [{ destination: { host: payments, subset: v1 } }]
        """;
    SimpleServiceBlockingStub stub = stub(mesh(dr("{}") + vs, false));
    assertThat(send(stub, 50)).containsOnlyKeys("v1a", "v1b");
    Metadata h = new Metadata();
    h.put(Metadata.Key.of("end-user", Metadata.ASCII_STRING_MARSHALLER), "jason");
    assertThat(send(stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)), 50)).containsOnlyKeys("v2");

    Mesh other = mesh(dr("{}") + vs.replace("Unary.*", "Streaming.*"), false);
    assertThatThrownBy(() -> stub(other).unaryRpc(REQ))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
          assertThat(e.getStatus().getDescription()).contains("no route of service payments matches POST /grpc.testing.SimpleService/UnaryRpc");
        });
  }

  @Test
  void breakerOpensFailsFastAndClosesAgain() {
    String policy = dr("{ circuitBreaker: { slidingWindowSize: 20, minimumNumberOfCalls: 10, failureRateThreshold: 50, waitDurationInOpenState: 10s, permittedNumberOfCallsInHalfOpenState: 3 }, outlierDetection: { consecutive5xxErrors: 0 } }")
        + split(0, 100, "");
    Mesh mesh = mesh(policy, true);
    SimpleServiceBlockingStub stub = stub(mesh);
    v2.failWith.set(Status.INTERNAL.withDescription("v2 is broken"));
    for (int i = 0; i < 10; i++) {
      assertThatThrownBy(() -> stub.unaryRpc(REQ)).hasMessageContaining("v2 is broken");
    }
    int reached = v2.calls.get();
    StatusRuntimeException fast = (StatusRuntimeException) org.assertj.core.api.Assertions.catchThrowable(() -> stub.unaryRpc(REQ));
    assertThat(fast.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(fast.getStatus().getDescription()).isEqualTo("meshup: payments subset v2: circuit breaker is open (route split)");
    assertThat(v2.calls.get()).as("failing fast: the server is not called").isEqualTo(reached);

    v2.failWith.set(null);
    clock.advance(Duration.ofSeconds(10));
    assertThatThrownBy(() -> stub.unaryRpc(REQ)).as("still open at the end of the wait").hasMessageContaining("circuit breaker is open");
    clock.advance(Duration.ofMillis(1));
    send(stub, 3);
    assertThat(mesh.meterRegistry().get("mesh.circuitbreaker.state").tags("subset", "v2", "state", "closed").gauge().value())
        .isEqualTo(1);
    assertThat(send(stub, 20)).containsOnlyKeys("v2");
  }

  @Test
  void failingEndpointIsEjectedAndComesBack() {
    Mesh mesh = mesh(dr("{ loadBalancer: { simple: ROUND_ROBIN }, outlierDetection: { consecutive5xxErrors: 5, baseEjectionTime: 30s, maxEjectionPercent: 50 }, circuitBreaker: { enabled: false } }")
        + split(100, 0, ""), true);
    SimpleServiceBlockingStub stub = stub(mesh);
    v1a.failWith.set(Status.INTERNAL.withDescription("v1a is broken"));
    int failures = 0;
    for (int i = 0; i < 200 && failures < 5; i++) {
      try {
        stub.unaryRpc(REQ);
      } catch (StatusRuntimeException e) {
        failures++;
      }
    }
    assertThat(failures).isEqualTo(5);
    int reached = v1a.calls.get();
    assertThat(send(stub, 100)).containsOnlyKeys("v1b");
    assertThat(v1a.calls.get()).isEqualTo(reached);
    assertThat(mesh.meterRegistry().get("mesh.outlier.ejections").tags("service", "payments", "subset", "v1").counter().count()).isEqualTo(1);

    v1a.failWith.set(null);
    clock.advance(Duration.ofSeconds(30));
    assertThat(send(stub, 200)).containsKeys("v1a", "v1b");
  }

  @Test
  void routeTimeoutBecomesTheDeadlineUnlessTheCallersIsEarlier() {
    CountDownLatch hold = new CountDownLatch(1);
    v1a.hold.set(hold);
    v1b.hold.set(hold);
    Mesh mesh = mesh(dr("{}") + split(100, 0, "").replace("- name: split", "- name: split\n      timeout: 200ms"), false);
    SimpleServiceBlockingStub stub = stub(mesh);
    assertThatThrownBy(() -> stub.unaryRpc(REQ))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    long start = System.nanoTime();
    assertThatThrownBy(() -> stub.withDeadlineAfter(20, TimeUnit.MILLISECONDS).unaryRpc(REQ))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    assertThat(mesh.meterRegistry().get("mesh.client.requests").tags("outcome", "timeout").timer().count()).isEqualTo(2);
    hold.countDown();
  }

  @Test
  void retriesFollowTheRouteWithinTheBudget() {
    Mesh mesh = mesh(dr("{ outlierDetection: { consecutive5xxErrors: 0 } }") + split(100, 0, "").replace("- name: split",
        "- name: split\n      retries: { attempts: 2, retryOn: unavailable }"), false);
    ManagedChannel channel = MeshChannels.forService(mesh, "payments");
    // UNAVAILABLE from a server may follow processing: only a method marked idempotent is retried
    MethodDescriptor<SimpleRequest, SimpleResponse> idempotent =
        SimpleServiceGrpc.getUnaryRpcMethod().toBuilder().setIdempotent(true).build();
    v1a.failNext.set(1);
    v1b.failNext.set(1);
    assertThat(ClientCalls.blockingUnaryCall(channel, idempotent, CallOptions.DEFAULT, REQ).getResponseMessage())
        .isIn("v1a", "v1b");
    assertThat(mesh.meterRegistry().get("mesh.client.retries").tags("result", "granted").counter().count())
        .as("each retry goes to the other endpoint, which fails once too").isEqualTo(2);
    assertThat(v1a.calls.get() + v1b.calls.get()).isEqualTo(3);

    v1a.failWith.set(Status.UNAVAILABLE);
    v1b.failWith.set(Status.UNAVAILABLE);
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel, idempotent, CallOptions.DEFAULT, REQ))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(v1a.calls.get() + v1b.calls.get()).as("first try + 2 retries").isEqualTo(6);

    assertThatThrownBy(() -> stub(mesh).unaryRpc(REQ)).isInstanceOf(StatusRuntimeException.class);
    assertThat(v1a.calls.get() + v1b.calls.get()).as("a method not marked idempotent: no retry").isEqualTo(7);
    channel.shutdownNow();
  }

  @Test
  void callThatNeverReachedAServerIsRetriedTransparently() throws Exception {
    List<Endpoint> eps = new ArrayList<>(servers.endpoints());
    eps.add(new Endpoint("dead", "127.0.0.1", TestServers.deadPort(), Map.of("version", "v1"), 1));
    Mesh mesh = mesh(dr("{ loadBalancer: { simple: ROUND_ROBIN } }") + split(100, 0, ""), false, eps);
    Map<String, Integer> seen = send(stub(mesh), 300);
    assertThat(seen).containsOnlyKeys("v1a", "v1b");
    assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(300);
  }

  @Test
  void injectedAbortFailsWithTheConfiguredStatus() {
    Mesh mesh = mesh(dr("{}") + split(100, 0, "").replace("- name: split",
        "- name: split\n      fault: { abort: { grpcStatus: RESOURCE_EXHAUSTED, percentage: { value: 100 } } }"), false);
    assertThatThrownBy(() -> stub(mesh).unaryRpc(REQ))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
          assertThat(e.getStatus().getDescription()).isEqualTo("meshup: fault injected by route split");
        });
    assertThat(v1a.calls.get() + v1b.calls.get()).isZero();
  }
}
