package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.testing.TestTracing;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Trace context across HTTP hops with mutual TLS: checkout calls orders (the JDK server adapter),
 * whose handler calls ledger (the Netty adapter), which answers the first call 503 so orders
 * retries it. One trace; a span per logical call and per attempt; the retry a sibling attempt;
 * each server span the child of the attempt that reached it; {@code mesh.server.requests} on both
 * adapters by caller and status class.
 */
class HttpTracingTest {
  static final String RETRY = """
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: ledger }
      spec:
        hosts: [ledger]
        http:
          - name: ledger-retry
            route: [{ destination: { host: ledger } }]
            retries: { attempts: 2, retryOn: 5xx }
      """;

  final DevCertificateAuthority ca = DevCertificateAuthority.create("http-trace.test");
  final TestTracing tracing = new TestTracing();
  final OpenTelemetry otel = tracing.otel(W3CTraceContextPropagator.getInstance());
  final List<AutoCloseable> closers = new ArrayList<>();
  final List<String> ledgerSaw = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
    tracing.close();
  }

  Mesh mesh(String service, Map<String, List<Endpoint>> endpoints, String policy) {
    Mesh.Builder b = Mesh.builder().service(service).certificates(ca.source(service)).openTelemetry(otel);
    endpoints.forEach(b::endpoints);
    if (policy != null) {
      b.policies("inline", policy);
    }
    Mesh m = b.build();
    closers.add(m);
    return m;
  }

  /** Ledger on Netty: 503 to its first request, 200 after. */
  int ledger(Mesh mesh) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    MeshNettyHttp http = MeshNettyHttp.create(mesh, MtlsMode.STRICT);
    EventLoopGroup group = new NioEventLoopGroup(1);
    Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), http.newHandler(), new HttpObjectAggregator(1 << 16),
                new SimpleChannelInboundHandler<FullHttpRequest>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                    ledgerSaw.add(String.valueOf(req.headers().get("traceparent")));
                    HttpResponseStatus status = calls.incrementAndGet() == 1 ? HttpResponseStatus.SERVICE_UNAVAILABLE
                        : HttpResponseStatus.OK;
                    FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), status,
                        Unpooled.copiedBuffer("ledger", StandardCharsets.UTF_8));
                    HttpUtil.setContentLength(res, res.content().readableBytes());
                    ctx.writeAndFlush(res);
                  }
                });
          }
        })
        .bind("127.0.0.1", 0).sync().channel();
    closers.add(() -> {
      server.close().sync();
      group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).sync();
    });
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** Orders on the JDK server: its handler calls ledger through its mesh. */
  int orders(Mesh mesh) throws Exception {
    MeshHttpClient toLedger = MeshHttp.client(mesh);
    HttpServer server = MeshHttpServers.jdk(mesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.STRICT);
    server.createContext("/orders", exchange -> {
      try (exchange) {
        HttpResponse<String> r;
        try {
          r = toLedger.send(HttpRequest.newBuilder(URI.create("http://ledger/entries")).build(),
              HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.IOException(e);
        }
        byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(r.statusCode(), body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    });
    server.start();
    closers.add(() -> server.stop(0));
    return server.getAddress().getPort();
  }

  @Test
  void oneTraceAcrossTheJdkAndNettyAdaptersWithTheRetryAsASiblingAttempt() throws Exception {
    Mesh ledger = mesh("ledger", Map.of(), null);
    int ledgerPort = ledger(ledger);
    Mesh orders = mesh("orders", Map.of("ledger", List.of(Endpoint.of("127.0.0.1", ledgerPort, Map.of()))), RETRY);
    int ordersPort = orders(orders);
    Mesh checkout = mesh("checkout", Map.of("orders", List.of(Endpoint.of("127.0.0.1", ordersPort, Map.of()))), null);

    Span root = otel.getTracer("test").spanBuilder("checkout-request").startSpan();
    HttpResponse<String> r;
    try (Scope s = root.makeCurrent()) {
      r = MeshHttp.client(checkout).send(HttpRequest.newBuilder(URI.create("http://orders/orders/7")).build(),
          HttpResponse.BodyHandlers.ofString());
    } finally {
      root.end();
    }
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("ledger");

    List<SpanData> spans = tracing.await(9);
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(root.getSpanContext().getTraceId());
    SpanData checkoutCall = only(children(spans, root.getSpanContext().getSpanId()));
    assertThat(checkoutCall.getName()).isEqualTo("GET orders");
    assertThat(checkoutCall.getKind()).isEqualTo(SpanKind.INTERNAL);
    SpanData checkoutAttempt = only(children(spans, checkoutCall.getSpanId()));
    assertThat(checkoutAttempt.getKind()).isEqualTo(SpanKind.CLIENT);
    assertThat(checkoutAttempt.getAttributes().get(AttributeKey.longKey("http.response.status_code"))).isEqualTo(200);
    SpanData ordersServer = only(children(spans, checkoutAttempt.getSpanId()));
    assertThat(ordersServer.getKind()).isEqualTo(SpanKind.SERVER);
    assertThat(ordersServer.getAttributes().get(AttributeKey.stringKey("meshup.caller"))).isEqualTo("checkout");
    SpanData ordersCall = only(children(spans, ordersServer.getSpanId()));
    assertThat(ordersCall.getName()).isEqualTo("GET ledger");
    List<SpanData> attempts = children(spans, ordersCall.getSpanId());
    assertThat(attempts).extracting(a -> a.getAttributes().get(AttributeKey.longKey("http.request.resend_count")))
        .containsExactly(0L, 1L);
    assertThat(attempts.get(0).getAttributes().get(AttributeKey.longKey("http.response.status_code"))).isEqualTo(503);
    assertThat(attempts.get(0).getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    for (SpanData a : attempts) {
      SpanData ledgerServer = only(children(spans, a.getSpanId()));
      assertThat(ledgerServer.getKind()).isEqualTo(SpanKind.SERVER);
      assertThat(ledgerServer.getAttributes().get(AttributeKey.stringKey("meshup.caller"))).isEqualTo("orders");
    }
    assertThat(ledgerSaw).hasSize(2);
    assertThat(ledgerSaw.get(0)).contains(attempts.get(0).getSpanId());
    assertThat(ledgerSaw.get(1)).contains(attempts.get(1).getSpanId());

    assertThat(orders.meterRegistry().get("mesh.server.requests")
        .tags("protocol", "http", "caller", "checkout", "status", "2xx").timer().count()).isEqualTo(1);
    await().untilAsserted(() -> {
      assertThat(ledger.meterRegistry().get("mesh.server.requests")
          .tags("protocol", "http", "caller", "orders", "status", "5xx").timer().count()).isEqualTo(1);
      assertThat(ledger.meterRegistry().get("mesh.server.requests")
          .tags("protocol", "http", "caller", "orders", "status", "2xx").timer().count()).isEqualTo(1);
    });
  }

  static List<SpanData> children(List<SpanData> spans, String parent) {
    return TestTracing.children(spans, parent);
  }

  static SpanData only(List<SpanData> spans) {
    return TestTracing.only(spans);
  }
}
