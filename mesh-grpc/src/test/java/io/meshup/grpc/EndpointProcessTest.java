package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshTestAccess;
import io.meshup.core.testing.ChildProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Endpoints as real processes, frozen (SIGSTOP) and killed (SIGKILL) under steady load, as hosts
 * freeze and crash: frozen endpoints are found without the caller's help (HTTP/2 keepalive),
 * ejected and taken back when they resume; three of four killed leave the fourth serving every
 * call; a method not marked idempotent is never executed twice, whatever the retry policy says.
 */
class EndpointProcessTest {
  static final MethodDescriptor<SimpleRequest, SimpleResponse> IDEMPOTENT =
      SimpleServiceGrpc.getUnaryRpcMethod().toBuilder().setIdempotent(true).build();
  static final MethodDescriptor<SimpleRequest, SimpleResponse> NOT_IDEMPOTENT = SimpleServiceGrpc.getUnaryRpcMethod();

  @TempDir
  Path dir;
  final List<ChildProcess> processes = new ArrayList<>();
  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
    for (ChildProcess p : processes) {
      p.close();
    }
  }

  List<Endpoint> start(int n) throws Exception {
    return ChildProcess.endpoints(EchoProcess.class, n, dir, processes);
  }

  Mesh client(List<Endpoint> eps, String policy) {
    Mesh m = Mesh.builder().service("checkout").endpoints("echo", eps).policies("p", policy).build();
    closers.add(m);
    return m;
  }

  static String policy(String trafficPolicy, String retries) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: echo }
        spec: { host: echo, trafficPolicy: %s }
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: echo }
        spec:
          hosts: [echo]
          http: [{ route: [{ destination: { host: echo } }] %s }]
        """.formatted(trafficPolicy, retries);
  }

  static SimpleRequest req(String s) {
    return SimpleRequest.newBuilder().setRequestMessage(s).build();
  }

  /** Steady load from one thread; records each call's time and outcome. */
  static final class Load implements AutoCloseable {
    final List<Long> okMillis = new CopyOnWriteArrayList<>();
    final List<Long> failedMillis = new CopyOnWriteArrayList<>();
    final List<Status.Code> failures = new CopyOnWriteArrayList<>();
    final Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
    final AtomicLong longestNanos = new AtomicLong();
    final AtomicBoolean stop = new AtomicBoolean();
    final Thread thread;

    Load(ManagedChannel ch, MethodDescriptor<SimpleRequest, SimpleResponse> m, long deadlineMillis, String prefix) {
      AtomicInteger n = new AtomicInteger();
      thread = new Thread(() -> {
        while (!stop.get()) {
          CallOptions o = deadlineMillis > 0 ? CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)
              : CallOptions.DEFAULT;
          long start = System.nanoTime();
          try {
            SimpleResponse r = ClientCalls.blockingUnaryCall(ch, m, o, req(prefix + n.incrementAndGet()));
            servedBy.computeIfAbsent(r.getResponseMessage(), k -> new AtomicInteger()).incrementAndGet();
            okMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
          } catch (StatusRuntimeException e) {
            failures.add(e.getStatus().getCode());
            failedMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
          }
          longestNanos.accumulateAndGet(System.nanoTime() - start, Math::max);
        }
      }, "load-" + prefix);
      thread.start();
    }

    int served(String id) {
      AtomicInteger a = servedBy.get(id);
      return a == null ? 0 : a.get();
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      thread.join(30_000);
    }
  }

  @Test
  void aFrozenEndpointIsFoundEjectedAndTakenBackWhenItResumes() throws Exception {
    List<Endpoint> eps = start(4);
    // tcpKeepalive is TCP's own (socket options, as Envoy sets them): a stopped process's kernel still answers
    // its probes, so the frozen endpoint is found by MeshUp's own HTTP/2 keepalive (GrpcConnections: a ping
    // after 10 s without reads, answered within 10 s); eject for 3 s
    Mesh mesh = client(eps, policy("{ connectionPool: { tcp: { tcpKeepalive: { time: 10s, interval: 1s, probes: 1 } } },"
        + " outlierDetection: { baseEjectionTime: 3s, maxEjectionPercent: 25 } }",
        ", retries: { attempts: 2, retryOn: \"reset,unavailable\" }"));
    ManagedChannel ch = MeshChannels.forService(mesh, "echo");
    closers.add(ch::shutdownNow);
    try (Load patient = new Load(ch, IDEMPOTENT, 0, "p");
        Load patient2 = new Load(ch, IDEMPOTENT, 0, "q");
        Load patient3 = new Load(ch, IDEMPOTENT, 0, "r");
        Load hurried = new Load(ch, IDEMPOTENT, 500, "h")) {
      await().atMost(Duration.ofSeconds(20)).until(() -> patient.okMillis.size() > 200 && hurried.okMillis.size() > 200);
      processes.get(1).freeze();
      long frozenAt = System.nanoTime();
      // found within the keepalive limit (10 s + 10 s), then ejected
      await().atMost(Duration.ofSeconds(30)).until(() -> mesh.meterRegistry().get("mesh.outlier.ejections").counter().count() >= 1);
      long detectedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - frozenAt);
      int servedByE1 = patient.served("e1") + hurried.served("e1");
      processes.get(1).resume();
      // back in the rotation once its ejection ends and a probe succeeds
      await().atMost(Duration.ofSeconds(20)).until(() -> patient.served("e1") + hurried.served("e1") > servedByE1 + 20);
      System.out.printf("frozen endpoint: ejected %d ms after SIGSTOP; longest call without a deadline %d ms,"
          + " with a 500 ms deadline %d ms; failures %s / %s%n", detectedMillis,
          TimeUnit.NANOSECONDS.toMillis(patient.longestNanos.get()), TimeUnit.NANOSECONDS.toMillis(hurried.longestNanos.get()),
          patient.failures, hurried.failures);
      for (Load l : List.of(patient, patient2, patient3)) {
        assertThat(TimeUnit.NANOSECONDS.toMillis(l.longestNanos.get()))
            .as("no call without a deadline hung past the keepalive limit (10 s + 10 s), with room for a retry")
            .isLessThan(24_000);
        assertThat(l.failures).as("the idempotent calls stuck on the frozen endpoint were retried elsewhere").isEmpty();
      }
      assertThat(TimeUnit.NANOSECONDS.toMillis(hurried.longestNanos.get())).as("calls with a deadline end by it")
          .isLessThan(1_500);
      assertThat(mesh.meterRegistry().get("mesh.outlier.ejections").counter().count()).isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  void threeOfFourKilledLeaveTheFourthServingEveryNewCall() throws Exception {
    List<Endpoint> eps = start(4);
    Mesh mesh = client(eps, policy("{}", ""));
    ManagedChannel ch = MeshChannels.forService(mesh, "echo");
    closers.add(ch::shutdownNow);
    List<Load> loads = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        loads.add(new Load(ch, NOT_IDEMPOTENT, 5_000, "k" + i + "-"));
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> loads.stream().allMatch(l -> l.okMillis.size() > 100));
      ChildProcess.killAll(processes.subList(0, 3));
      int okAtKill = loads.stream().mapToInt(l -> l.okMillis.size()).sum();
      await().atMost(Duration.ofSeconds(20)).until(() -> loads.stream().mapToInt(l -> l.okMillis.size()).sum() > okAtKill + 2000);
    } finally {
      for (Load l : loads) {
        l.close();
      }
    }
    int failed = loads.stream().mapToInt(l -> l.failures.size()).sum();
    int ok = loads.stream().mapToInt(l -> l.okMillis.size()).sum();
    System.out.printf("3 of 4 killed: %d calls ok, %d failed (%s)%n", ok, failed,
        loads.stream().flatMap(l -> l.failures.stream()).toList());
    // at most the calls in flight on the killed endpoints when they died, and those sent on a dead
    // connection before the client saw it close (a non-idempotent call that may have reached the
    // server is not replayed): a couple per loading thread, not a share of the traffic
    assertThat(failed).isLessThanOrEqualTo(2 * loads.size());
    assertThat(MeshTestAccess.breaker(mesh, "echo", "").getState().name()).isEqualTo("CLOSED");
  }

  @Test
  void aMethodNotMarkedIdempotentIsNeverExecutedTwiceUnderARetryPolicy() throws Exception {
    List<Endpoint> eps = start(4);
    Mesh mesh = client(eps, policy("{}", ", retries: { attempts: 3, retryOn: \"unavailable,reset,5xx,connect-failure\" }"));
    ManagedChannel ch = MeshChannels.forService(mesh, "echo");
    closers.add(ch::shutdownNow);
    List<Load> loads = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        loads.add(new Load(ch, NOT_IDEMPOTENT, 5_000, "n" + i + "-"));
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> loads.stream().allMatch(l -> l.okMillis.size() > 100));
      ChildProcess.killAll(processes.subList(0, 2));
      int okAtKill = loads.stream().mapToInt(l -> l.okMillis.size()).sum();
      await().atMost(Duration.ofSeconds(20)).until(() -> loads.stream().mapToInt(l -> l.okMillis.size()).sum() > okAtKill + 1000);
    } finally {
      for (Load l : loads) {
        l.close();
      }
    }
    Map<String, Integer> executions = new HashMap<>();
    for (int i = 0; i < 4; i++) {
      for (String line : Files.readAllLines(dir.resolve("e" + i + ".log"), StandardCharsets.UTF_8)) {
        if (!line.isEmpty()) {
          executions.merge(line, 1, Integer::sum);
        }
      }
    }
    List<String> twice = executions.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
    int failed = loads.stream().mapToInt(l -> l.failures.size()).sum();
    System.out.printf("non-idempotent under retries, 2 of 4 killed: %d executions, %d executed twice, %d calls failed%n",
        executions.size(), twice.size(), failed);
    assertThat(twice).as("no call executed twice on the servers").isEmpty();
    assertThat(failed).as("at most the calls in flight on the killed endpoints").isLessThanOrEqualTo(2 * loads.size());
  }
}
