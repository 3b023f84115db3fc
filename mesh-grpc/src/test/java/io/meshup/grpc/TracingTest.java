package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.testing.TestTracing;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.extension.trace.propagation.B3Propagator;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Trace context across hops over real gRPC servers with mutual TLS: a checkout → orders → ledger
 * chain in which orders retries its call to ledger once, traced by OpenTelemetry's SDK into an
 * in-memory exporter. One trace; a span per logical call and per attempt; the retry a sibling
 * attempt of the same call; the server spans children of the attempts that reached them.
 */
class TracingTest {
  static final MethodDescriptor<SimpleRequest, SimpleResponse> IDEMPOTENT =
      SimpleServiceGrpc.getUnaryRpcMethod().toBuilder().setIdempotent(true).build();
  static final String METHOD = "grpc.testing.SimpleService/UnaryRpc";
  static final String RETRY_POLICY = """
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: ledger }
      spec:
        hosts: [ledger]
        http:
          - name: ledger-retry
            route: [{ destination: { host: ledger } }]
            retries: { attempts: 2, retryOn: unavailable }
      """;

  final DevCertificateAuthority ca = DevCertificateAuthority.create("trace.test");
  final TestTracing tracing = new TestTracing();
  final List<AutoCloseable> closers = new ArrayList<>();
  /** The trace headers each ledger call arrived with. */
  final List<Map<String, String>> ledgerSaw = new CopyOnWriteArrayList<>();
  final Map<String, Mesh> meshes = new java.util.concurrent.ConcurrentHashMap<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
    tracing.close();
  }

  <T extends AutoCloseable> T closing(T t) {
    closers.add(t);
    return t;
  }

  Mesh mesh(String service, OpenTelemetry otel, Map<String, List<Endpoint>> endpoints, String policy) {
    Mesh.Builder b = Mesh.builder().service(service).certificates(ca.source(service));
    if (otel != null) {
      b.openTelemetry(otel);
    }
    endpoints.forEach(b::endpoints);
    if (policy != null) {
      b.policies("inline", policy);
    }
    Mesh m = closing(b.build());
    meshes.put(service, m);
    return m;
  }

  Server server(Mesh mesh, SimpleServiceGrpc.SimpleServiceImplBase impl) throws Exception {
    ServerInterceptor headers = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata h, ServerCallHandler<Q, R> next) {
        if (mesh.serviceName().equals("ledger")) {
          Map<String, String> seen = new java.util.TreeMap<>();
          for (String k : new String[] {"traceparent", "tracestate", "b3"}) {
            String v = h.get(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER));
            if (v != null) {
              seen.put(k, v);
            }
          }
          ledgerSaw.add(seen);
        }
        return next.startCall(call, h);
      }
    };
    Server s = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.STRICT)
        .addService(ServerInterceptors.intercept(impl, headers)).build().start();
    closers.add(() -> s.shutdownNow().awaitTermination());
    return s;
  }

  static Endpoint at(Server s) {
    return Endpoint.of("127.0.0.1", s.getPort(), Map.of());
  }

  /** Builds ledger (failing its first call UNAVAILABLE), orders (calling ledger) and returns checkout's channel to orders. */
  ManagedChannel chain(OpenTelemetry otel) throws Exception {
    AtomicInteger ledgerCalls = new AtomicInteger();
    Mesh ledger = mesh("ledger", otel, Map.of(), null);
    Server ledgerServer = server(ledger, new SimpleServiceGrpc.SimpleServiceImplBase() {
      @Override
      public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
        if (ledgerCalls.incrementAndGet() == 1) {
          out.onError(Status.UNAVAILABLE.withDescription("first call fails").asRuntimeException());
          return;
        }
        out.onNext(SimpleResponse.newBuilder().setResponseMessage("ledger").build());
        out.onCompleted();
      }
    });
    Mesh orders = mesh("orders", otel, Map.of("ledger", List.of(at(ledgerServer))), RETRY_POLICY);
    ManagedChannel toLedger = closing(new ClosingChannel(MeshChannels.forService(orders, "ledger"))).channel;
    Server ordersServer = server(orders, new SimpleServiceGrpc.SimpleServiceImplBase() {
      @Override
      public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
        // on the server's thread, inside the SERVER span's context: this call joins the trace
        out.onNext(ClientCalls.blockingUnaryCall(toLedger, IDEMPOTENT, CallOptions.DEFAULT, request));
        out.onCompleted();
      }
    });
    Mesh checkout = mesh("checkout", otel, Map.of("orders", List.of(at(ordersServer))), null);
    return closing(new ClosingChannel(MeshChannels.forService(checkout, "orders"))).channel;
  }

  record ClosingChannel(ManagedChannel channel) implements AutoCloseable {
    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void oneTraceAcrossThreeServicesWithTheRetryAsASiblingAttempt() throws Exception {
    OpenTelemetry otel = tracing.otel(W3CTraceContextPropagator.getInstance());
    ManagedChannel toOrders = chain(otel);
    Span root = otel.getTracer("test").spanBuilder("checkout-request").startSpan();
    try (Scope s = root.makeCurrent()) {
      ClientCalls.blockingUnaryCall(toOrders, IDEMPOTENT, CallOptions.DEFAULT, SimpleRequest.getDefaultInstance());
    } finally {
      root.end();
    }
    // checkout: call + attempt; orders: server + call + 2 attempts; ledger: 2 servers; the root
    List<SpanData> spans = tracing.await(9);
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(root.getSpanContext().getTraceId());

    SpanData checkoutCall = one(spans, SpanKind.INTERNAL, "orders", root.getSpanContext().getSpanId());
    assertThat(checkoutCall.getName()).isEqualTo(METHOD);
    assertThat(checkoutCall.getAttributes().get(AttributeKey.stringKey("meshup.outcome"))).isEqualTo("success");
    assertThat(checkoutCall.getAttributes().get(AttributeKey.longKey("meshup.attempts"))).isEqualTo(1);
    SpanData checkoutAttempt = only(children(spans, checkoutCall));
    assertThat(checkoutAttempt.getKind()).isEqualTo(SpanKind.CLIENT);
    SpanData ordersServer = only(children(spans, checkoutAttempt));
    assertThat(ordersServer.getKind()).isEqualTo(SpanKind.SERVER);
    assertThat(ordersServer.getAttributes().get(AttributeKey.stringKey("meshup.caller"))).isEqualTo("checkout");
    assertThat(ordersServer.getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code"))).isEqualTo(0);

    SpanData ordersCall = only(children(spans, ordersServer));
    assertThat(ordersCall.getKind()).isEqualTo(SpanKind.INTERNAL);
    assertThat(ordersCall.getAttributes().get(AttributeKey.stringKey("meshup.service"))).isEqualTo("ledger");
    assertThat(ordersCall.getAttributes().get(AttributeKey.stringKey("meshup.route"))).isEqualTo("ledger-retry");
    assertThat(ordersCall.getAttributes().get(AttributeKey.longKey("meshup.attempts"))).isEqualTo(2);
    List<SpanData> attempts = children(spans, ordersCall);
    assertThat(attempts).as("the retry is a sibling of the first attempt, in the same call")
        .extracting(a -> a.getAttributes().get(AttributeKey.longKey("meshup.attempt"))).containsExactly(1L, 2L);
    assertThat(attempts.get(0).getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(attempts.get(0).getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code"))).isEqualTo(14);
    assertThat(attempts.get(1).getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    for (SpanData attempt : attempts) {
      SpanData ledgerServer = only(children(spans, attempt));
      assertThat(ledgerServer.getKind()).isEqualTo(SpanKind.SERVER);
      assertThat(ledgerServer.getAttributes().get(AttributeKey.stringKey("meshup.caller"))).isEqualTo("orders");
    }
    assertThat(ledgerSaw).hasSize(2).allSatisfy(h -> assertThat(h).containsOnlyKeys("traceparent"));
    assertThat(ledgerSaw.get(0).get("traceparent")).contains(attempts.get(0).getSpanId());
    assertThat(ledgerSaw.get(1).get("traceparent")).contains(attempts.get(1).getSpanId());
  }

  @Test
  void b3HeadersWhenTheApplicationsOpenTelemetryPropagatesB3() throws Exception {
    OpenTelemetry otel = tracing.otel(B3Propagator.injectingSingleHeader());
    ManagedChannel toOrders = chain(otel);
    ClientCalls.blockingUnaryCall(toOrders, IDEMPOTENT, CallOptions.DEFAULT, SimpleRequest.getDefaultInstance());
    List<SpanData> spans = tracing.await(8);
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(spans.get(0).getTraceId());
    assertThat(ledgerSaw).hasSize(2).allSatisfy(h -> assertThat(h).containsOnlyKeys("b3"));
  }

  @Test
  void withoutATracerNothingIsSentOrRecorded() throws Exception {
    ManagedChannel toOrders = chain(null);
    ClientCalls.blockingUnaryCall(toOrders, IDEMPOTENT, CallOptions.DEFAULT,
        SimpleRequest.newBuilder().setRequestMessage("charge 42").build());
    assertThat(ledgerSaw).hasSize(2).allSatisfy(h -> assertThat(h).isEmpty());
    assertThat(tracing.spans()).isEmpty();
    // meters still count: the bytes gRPC put on the wire, on both sides
    await().untilAsserted(() -> {
      for (String direction : new String[] {"sent", "received"}) {
        assertThat(meshes.get("orders").meterRegistry().get("mesh.client.bytes")
            .tags("service", "ledger", "direction", direction).counter().count()).as("orders, %s", direction).isPositive();
        assertThat(meshes.get("ledger").meterRegistry().get("mesh.server.bytes")
            .tags("protocol", "grpc", "direction", direction).counter().count()).as("ledger, %s", direction).isPositive();
      }
    });
  }

  static SpanData only(List<SpanData> spans) {
    return TestTracing.only(spans);
  }

  static SpanData one(List<SpanData> spans, SpanKind kind, String service, String parent) {
    return only(spans.stream().filter(s -> s.getKind() == kind && s.getParentSpanId().equals(parent)
        && service.equals(s.getAttributes().get(AttributeKey.stringKey("meshup.service")))).toList());
  }

  static List<SpanData> children(List<SpanData> spans, SpanData parent) {
    return TestTracing.children(spans, parent.getSpanId());
  }
}
