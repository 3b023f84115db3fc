package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.testing.ControlledRegistry;
import io.meshup.core.testing.DrainingRegistry;
import io.meshup.core.call.ReplayBudget;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.spi.ServiceRegistry;
import io.meshup.grpc.internal.GrpcConnections;
import java.lang.ref.WeakReference;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Where two features meet, over gRPC against real servers on loopback: mutual TLS with a route to
 * other services, retries within the caller's deadline, an injected delay within it, long streams
 * and the breaker, the replay buffer's bound, close and drain, and state per destination released
 * when idle. (Frozen and killed endpoint processes: {@link EndpointProcessTest}.)
 */
class CompositionTest {
  static final MethodDescriptor<SimpleRequest, SimpleResponse> IDEMPOTENT =
      SimpleServiceGrpc.getUnaryRpcMethod().toBuilder().setIdempotent(true).build();
  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  <T extends AutoCloseable> T closing(T t) {
    closers.add(t);
    return t;
  }

  /** What one server saw of a call: when it arrived and the deadline it carried. */
  record Seen(long arrivedNanos, Long remainingNanos, String caller) {}

  /** A server of {@code service} (with certificates from {@code ca} when given) that behaves as {@code behaviour} says. */
  final class Backend implements AutoCloseable {
    final String id;
    final Mesh mesh;
    final Server server;
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    final List<String> callers = new CopyOnWriteArrayList<>();
    volatile Status failWith;
    volatile long delayMillis;

    Backend(String service, String id, DevCertificateAuthority ca) throws Exception {
      this.id = id;
      Mesh.Builder b = Mesh.builder().service(service);
      if (ca != null) {
        b.certificates(ca.source(service));
      }
      mesh = b.build();
      ServerInterceptor identity = new ServerInterceptor() {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata h, ServerCallHandler<Q, R> next) {
          WorkloadIdentity caller = MeshServers.CALLER.get();
          callers.add(caller == null ? "anonymous" : caller.service());
          return next.startCall(call, h);
        }
      };
      // on the transport's thread as the headers arrive: when, and the grpc-timeout they carry
      ServerStreamTracer.Factory arrivals = new ServerStreamTracer.Factory() {
        @Override
        public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
          String t = headers.get(InteropService.TIMEOUT);
          seen.add(new Seen(System.nanoTime(), t == null ? null : timeoutNanos(t), null));
          return new ServerStreamTracer() {};
        }
      };
      server = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), ca == null ? MtlsMode.DISABLE : MtlsMode.STRICT)
          .addStreamTracerFactory(arrivals)
          .addService(ServerInterceptors.intercept(new SimpleServiceGrpc.SimpleServiceImplBase() {
            @Override
            public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
              long d = delayMillis;
              if (d > 0) {
                try {
                  TimeUnit.MILLISECONDS.sleep(d);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              Status f = failWith;
              if (f != null) {
                out.onError(f.asRuntimeException());
                return;
              }
              out.onNext(SimpleResponse.newBuilder().setResponseMessage(id).build());
              out.onCompleted();
            }
          }, identity))
          .build().start();
      closers.add(this);
    }

    Endpoint endpoint(Map<String, String> labels) {
      return new Endpoint(id, "127.0.0.1", server.getPort(), labels, 1);
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      mesh.close();
    }
  }

  /** A grpc-timeout header's value (digits and a unit) in nanos. */
  static long timeoutNanos(String t) {
    long v = Long.parseLong(t.substring(0, t.length() - 1));
    switch (t.charAt(t.length() - 1)) {
      case 'H': return TimeUnit.HOURS.toNanos(v);
      case 'M': return TimeUnit.MINUTES.toNanos(v);
      case 'S': return TimeUnit.SECONDS.toNanos(v);
      case 'm': return TimeUnit.MILLISECONDS.toNanos(v);
      case 'u': return TimeUnit.MICROSECONDS.toNanos(v);
      default: return v;
    }
  }

  static SimpleRequest req(String s) {
    return SimpleRequest.newBuilder().setRequestMessage(s).build();
  }

  @Test
  void mutualTlsWithARouteToOtherServicesExpectsTheRoutedServicesIdentity() throws Exception {
    // the first example users copy from Istio's documentation: host myapp.com split over two services
    DevCertificateAuthority ca = DevCertificateAuthority.create("composition.test");
    Backend v1 = new Backend("myapp-v1", "v1", ca);
    Backend v2 = new Backend("myapp-v2", "v2", ca);
    Mesh client = closing(Mesh.builder().service("frontend").certificates(ca.source("frontend"))
        .endpoints("myapp-v1", List.of(v1.endpoint(Map.of())))
        .endpoints("myapp-v2", List.of(v2.endpoint(Map.of())))
        .policies("mission", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: myapp }
            spec:
              hosts: [myapp.com]
              http:
                - match: [{ uri: { prefix: / } }]
                  route:
                    - { destination: { host: myapp-v1 }, weight: 50 }
                    - { destination: { host: myapp-v2 }, weight: 50 }
            """).build());
    ManagedChannel ch = MeshChannels.forService(client, "myapp.com");
    closers.add(ch::shutdownNow);
    Map<String, Integer> served = new ConcurrentHashMap<>();
    for (int i = 0; i < 200; i++) {
      served.merge(SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(req("x"))
          .getResponseMessage(), 1, Integer::sum);
    }
    assertThat(served.values().stream().mapToInt(Integer::intValue).sum()).as("no call failed").isEqualTo(200);
    assertThat(served.get("v1")).isBetween(70, 130);
    assertThat(v1.callers).isNotEmpty().allMatch("frontend"::equals);
    assertThat(v2.callers).isNotEmpty().allMatch("frontend"::equals);
    assertThat(client.meterRegistry().find("mesh.tls.rejections").counters()).allMatch(c -> c.count() == 0);
  }

  @Test
  void everyChannelOfAMeshSharesOneConnectionPerEndpoint() throws Exception {
    Backend a = new Backend("payments", "a", null);
    Backend b = new Backend("payments", "b", null);
    Mesh client = closing(Mesh.builder().service("checkout")
        .endpoints("payments", List.of(a.endpoint(Map.of()), b.endpoint(Map.of()))).build());
    List<ManagedChannel> channels = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ManagedChannel ch = i % 2 == 0 ? MeshChannels.forService(client, "payments")
          : io.grpc.ManagedChannelBuilder.forTarget("meshup://checkout/payments").build();
      channels.add(ch);
      closers.add(ch::shutdownNow);
      for (int j = 0; j < 20; j++) {
        SimpleServiceGrpc.newBlockingStub(ch).unaryRpc(req("x"));
      }
    }
    assertThat(GrpcConnections.of(client).size()).as("one per endpoint, whatever the channels").isEqualTo(2);
    channels.get(0).shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    assertThat(SimpleServiceGrpc.newBlockingStub(channels.get(1)).unaryRpc(req("x")).getResponseMessage())
        .as("shutting one channel down leaves the shared connections to the others").isIn("a", "b");
  }

  @Test
  void noRetryOutlivesTheCallersDeadlineAndEachSeesWhatRemains() throws Exception {
    Backend a = new Backend("payments", "a", null);
    Backend b = new Backend("payments", "b", null);
    Mesh client = closing(Mesh.builder().service("checkout")
        .endpoints("payments", List.of(a.endpoint(Map.of()), b.endpoint(Map.of())))
        .policies("p", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: payments }
            spec: { host: payments, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 0 } } }
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: payments }
            spec:
              hosts: [payments]
              http: [{ route: [{ destination: { host: payments } }], retries: { attempts: 10, retryOn: unavailable } }]
            """).build());
    ManagedChannel ch = MeshChannels.forService(client, "payments");
    closers.add(ch::shutdownNow);
    // open both connections first: grpc-java computes grpc-timeout as a call starts, so on a
    // connection still being opened the header would be older than its frame
    for (int i = 0; i < 10; i++) {
      SimpleServiceGrpc.newBlockingStub(ch).unaryRpc(req("warm"));
    }
    a.seen.clear();
    b.seen.clear();
    for (Backend x : List.of(a, b)) {
      x.failWith = Status.UNAVAILABLE.withDescription("busy");
      x.delayMillis = 100;
    }
    long start = System.nanoTime();
    CallOptions options = CallOptions.DEFAULT.withDeadline(Deadline.after(350, TimeUnit.MILLISECONDS));
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(350); // at or after the caller's
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(ch, IDEMPOTENT, options, req("x")))
        .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode()).isIn(
            Status.Code.DEADLINE_EXCEEDED, Status.Code.UNAVAILABLE));
    long end = System.nanoTime();
    assertThat(TimeUnit.NANOSECONDS.toMillis(end - start)).as("the caller got its answer by its deadline (with room for a loaded machine)").isLessThan(1_000);
    List<Seen> attempts = new ArrayList<>(a.seen);
    attempts.addAll(b.seen);
    attempts.sort((x, y) -> Long.compare(x.arrivedNanos(), y.arrivedNanos()));
    assertThat(attempts.size()).as("first try and retries").isBetween(2, 4);
    for (int i = 0; i < attempts.size(); i++) {
      Seen s = attempts.get(i);
      assertThat(s.arrivedNanos()).as("no attempt was sent after the deadline").isLessThan(deadline);
      assertThat(s.remainingNanos()).as("every attempt carries a deadline").isNotNull();
      // grpc-timeout is computed as the attempt starts and counted by the server from its frame's
      // arrival: the two differ by the time the frame took to leave (ms on a busy 2-core machine;
      // a fresh per-try or route timeout would overshoot by far more)
      assertThat(s.arrivedNanos() + s.remainingNanos()).as("never beyond the caller's")
          .isLessThanOrEqualTo(deadline + TimeUnit.MILLISECONDS.toNanos(50));
    }
    for (int i = 1; i < attempts.size(); i++) {
      assertThat(attempts.get(i).remainingNanos()).isLessThan(attempts.get(i - 1).remainingNanos());
    }
  }

  @Test
  void theCallersContextDeadlineAndCancellationReachRetriesToo() throws Exception {
    Backend a = new Backend("payments", "a", null);
    a.failWith = Status.UNAVAILABLE;
    a.delayMillis = 50;
    Mesh client = closing(Mesh.builder().service("checkout").endpoints("payments", List.of(a.endpoint(Map.of())))
        .policies("p", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: payments }
            spec:
              hosts: [payments]
              http: [{ route: [{ destination: { host: payments } }], retries: { attempts: 10, retryOn: unavailable } }]
            """).build());
    ManagedChannel ch = MeshChannels.forService(client, "payments");
    closers.add(ch::shutdownNow);
    Context.CancellableContext ctx = Context.current().withDeadlineAfter(300, TimeUnit.MILLISECONDS,
        Executors.newSingleThreadScheduledExecutor());
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
    assertThatThrownBy(() -> ctx.call(() -> ClientCalls.blockingUnaryCall(ch, IDEMPOTENT, CallOptions.DEFAULT, req("x"))))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(a.seen).isNotEmpty().allSatisfy(s -> {
      assertThat(s.remainingNanos()).as("the Context's deadline is on every attempt").isNotNull();
      assertThat(s.arrivedNanos()).isLessThan(deadline);
    });
  }

  @Test
  void anInjectedDelayLongerThanTheDeadlineEndsTheCallAtTheDeadline() throws Exception {
    Backend a = new Backend("payments", "a", null);
    Mesh client = closing(Mesh.builder().service("checkout").endpoints("payments", List.of(a.endpoint(Map.of())))
        .policies("p", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: payments }
            spec:
              hosts: [payments]
              http: [{ route: [{ destination: { host: payments } }], fault: { delay: { fixedDelay: 2s, percentage: { value: 100 } } } }]
            """).build());
    ManagedChannel ch = MeshChannels.forService(client, "payments");
    closers.add(ch::shutdownNow);
    long start = System.nanoTime();
    assertThatThrownBy(() -> SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(200, TimeUnit.MILLISECONDS).unaryRpc(req("x")))
        .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(180L, 1000L);
    assertThat(a.seen).as("the delay held the call until its deadline; nothing was sent").isEmpty();
  }

  @Test
  void streamsLongerThanTheSlowCallThresholdLeaveTheBreakerClosed() throws Exception {
    InteropService service = new InteropService();
    Mesh serverMesh = closing(Mesh.builder().service("streams").build());
    Server server = MeshServers.forAddress(serverMesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.DISABLE)
        .addService(service.definition()).build().start();
    closers.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    Mesh client = closing(Mesh.builder().service("checkout")
        .endpoints("streams", List.of(new Endpoint("s0", "127.0.0.1", server.getPort(), Map.of(), 1)))
        .policies("p", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: streams }
            spec:
              host: streams
              trafficPolicy:
                circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10, slowCallDurationThreshold: 2s, slowCallRateThreshold: 50 }
            """).build());
    ManagedChannel ch = MeshChannels.forService(client, "streams");
    closers.add(ch::shutdownNow);
    // 30 server streams of 3 s each (6 messages, 500 ms apart), all at once: each lives past the 2 s
    // threshold, while its headers come well within it even on a loaded machine
    List<InteropTest.Recorder> streams = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      InteropTest.Recorder r = new InteropTest.Recorder();
      ClientCalls.asyncServerStreamingCall(ch.newCall(InteropService.STREAMING_OUTPUT, CallOptions.DEFAULT),
          InteropService.request("sizes=1,1,1,1,1,1;sleepMillis=500", 0), r);
      streams.add(r);
    }
    for (InteropTest.Recorder r : streams) {
      r.await();
      assertThat(r.error).isNull();
      assertThat(r.values).hasSize(6);
    }
    CircuitBreaker breaker = breaker(client, "streams");
    assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(breaker.getMetrics().getNumberOfSlowCalls()).as("a stream's lifetime is not its latency").isZero();
    assertThat(ClientCalls.blockingUnaryCall(ch, InteropService.EMPTY, CallOptions.DEFAULT, new byte[0])).isEmpty();
  }

  static CircuitBreaker breaker(Mesh mesh, String service) {
    return io.meshup.core.MeshTestAccess.breaker(mesh, service, "");
  }

  @Test
  void aClientStreamOf240MiBKeepsNoMoreThanTheReplayBound() throws Exception {
    InteropService service = new InteropService();
    Mesh serverMesh = closing(Mesh.builder().service("sink").build());
    Server server = MeshServers.forAddress(serverMesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.DISABLE)
        .maxInboundMessageSize(8 << 20).addService(service.definition()).build().start();
    closers.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    Mesh client = closing(Mesh.builder().service("checkout")
        .endpoints("sink", List.of(new Endpoint("s0", "127.0.0.1", server.getPort(), Map.of(), 1))).build());
    ManagedChannel ch = MeshChannels.forService(client, "sink");
    closers.add(ch::shutdownNow);
    InteropTest.Recorder r = new InteropTest.Recorder();
    StreamObserver<byte[]> in = ClientCalls.asyncClientStreamingCall(ch.newCall(InteropService.STREAMING_INPUT,
        CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS)), r);
    List<WeakReference<byte[]>> sent = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      byte[] m = InteropService.request("", 4 << 20);
      sent.add(new WeakReference<>(m));
      in.onNext(m);
      m = null;
    }
    // the server has read the first 59 messages once the 60th is being read: MeshUp must keep none
    await().atMost(Duration.ofSeconds(60)).until(() -> service.headers.size() == 1);
    in.onCompleted();
    r.await();
    assertThat(InteropService.settings(r.values.get(0))).containsEntry("aggregate", Long.toString(60L * (4 << 20)));
    // nothing of the stream is kept once it is sent: every message can be collected
    await().atMost(Duration.ofSeconds(20)).until(() -> {
      System.gc();
      return sent.stream().allMatch(w -> w.get() == null);
    });
    assertThat(io.meshup.grpc.internal.TestAccess.replayBudget(ch).used()).isZero();
    assertThat(ReplayBudget.PER_CALL_BYTES).isEqualTo(1 << 20);
  }

  @Test
  void closingDrainsWithNoFailedCallThenRefusesClearly() throws Exception {
    Backend a = new Backend("payments", "a", null);
    DrainingRegistry registry = new DrainingRegistry(Map.of("payments", List.of(a.endpoint(Map.of()))), Duration.ofMillis(700));
    Mesh client = Mesh.builder().service("checkout").registry(registry).build();
    ManagedChannel ch = MeshChannels.forService(client, "payments");
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger okDuringDrain = new AtomicInteger();
    List<Status> failures = new CopyOnWriteArrayList<>();
    AtomicLong firstRefusal = new AtomicLong();
    Thread traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(req("x"));
          ok.incrementAndGet();
          if (registry.deregisteredAt != 0) {
            okDuringDrain.incrementAndGet();
          }
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getDescription() != null && e.getStatus().getDescription().contains("shut down")) {
            firstRefusal.compareAndSet(0, System.nanoTime());
            return;
          }
          failures.add(e.getStatus());
        }
      }
    });
    traffic.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > 20);
    long closeStart = System.nanoTime();
    client.close();
    traffic.join(10_000);
    stop.set(true);
    assertThat(failures).as("no call failed while the mesh drained").isEmpty();
    assertThat(okDuringDrain.get()).as("calls kept going during the drain").isPositive();
    assertThat(firstRefusal.get() - closeStart).as("refused only after the drain")
        .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(690));
  }

  @Test
  void stateForAThousandDestinationNamesIsReleasedWhenIdle() throws Exception {
    Backend a = new Backend("any", "a", null);
    Endpoint only = a.endpoint(Map.of());
    ServiceRegistry anyName = new ServiceRegistry() {
      @Override
      public Watch watch(String service, EndpointListener listener) {
        listener.onEndpoints(List.of(only));
        return () -> {};
      }

      @Override
      public void close() {}
    };
    Mesh client = closing(Mesh.builder().service("checkout").registry(anyName)
        .yaml("mesh: { service: checkout, defaults: { idleTimeout: 2s } }").build());
    // warm up what every call needs once, then take the baseline
    call(client, "warm-up");
    await().atMost(Duration.ofSeconds(20)).until(() -> client.destinationCount() == 0);
    long heapBefore = usedHeapAfterGc();
    long threadsBefore = meshThreads();
    int metersBefore = client.meterRegistry().getMeters().size();

    int peak = 0;
    int peakConnections = 0;
    for (int i = 0; i < 1000; i++) {
      call(client, "svc-" + i);
      peak = Math.max(peak, client.destinationCount());
      peakConnections = Math.max(peakConnections, GrpcConnections.of(client).size());
    }
    assertThat(peak).as("state grew with the names called (those idle for 2 s go meanwhile)").isGreaterThan(200);
    assertThat(peakConnections).isGreaterThan(200);

    await().atMost(Duration.ofSeconds(30)).until(() -> client.destinationCount() == 0);
    await().atMost(Duration.ofSeconds(30)).until(() -> GrpcConnections.of(client).size() == 0);
    assertThat(client.meterRegistry().getMeters().size()).as("meters of released destinations are gone").isEqualTo(metersBefore);
    // the mesh's callback threads outlive their last task by a few seconds, as a cached pool's do
    await().atMost(Duration.ofSeconds(30)).until(() -> meshThreads() <= threadsBefore);
    long heapAfter = usedHeapAfterGc();
    assertThat(heapAfter - heapBefore).as("heap back near the baseline (bytes)").isLessThan(16L << 20);
  }

  @Test
  void firstCallsWaitForTheRegistrysFirstAnswerAndAnEmptyAnswerIsHeldOff() throws Exception {
    Backend a = new Backend("payments", "a", null);
    ControlledRegistry registry = new ControlledRegistry();
    Mesh client = closing(Mesh.builder().service("checkout").registry(registry).build());
    ManagedChannel ch = MeshChannels.forService(client, "payments");
    closers.add(ch::shutdownNow);
    List<java.util.concurrent.Future<SimpleResponse>> first = new ArrayList<>();
    java.util.concurrent.ExecutorService callers = java.util.concurrent.Executors.newFixedThreadPool(8);
    closers.add(callers::shutdownNow);
    for (int i = 0; i < 20; i++) {
      first.add(callers.submit(() -> SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS)
          .unaryRpc(req("first"))));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> registry.watches("payments")
        && io.meshup.core.MeshTestAccess.discoveryWaiters(client, "payments") > 0);
    assertThat(first).noneMatch(java.util.concurrent.Future::isDone);

    registry.answer("payments", a.endpoint(Map.of())); // from this thread, as a registry's own would
    for (var f : first) {
      assertThat(f.get(20, TimeUnit.SECONDS).getResponseMessage()).as("every first call served once endpoints came").isEqualTo("a");
    }

    registry.fail("payments", new java.io.IOException("connection refused")); // the agent restarts
    registry.answer("payments"); // with an empty catalog
    assertThat(SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(req("x"))
        .getResponseMessage()).as("the last known endpoint keeps serving through the grace period").isEqualTo("a");
    assertThat(client.meterRegistry().counter("mesh.registry.empty.held").count()).isEqualTo(1.0);
  }

  /** MeshUp's own threads in this JVM (the tests' servers and grpc-java's shared pools aside). */
  static long meshThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("meshup-grpc-")).count();
  }

  static void call(Mesh mesh, String service) {
    ManagedChannel ch = MeshChannels.forService(mesh, service);
    try {
      SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(req("x"));
    } finally {
      ch.shutdown();
    }
  }

  static long usedHeapAfterGc() {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return rt.totalMemory() - rt.freeMemory();
  }
}
