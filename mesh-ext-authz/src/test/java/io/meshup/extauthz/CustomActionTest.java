package io.meshup.extauthz;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.grpc.CallOptions;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.internal.tls.MeshKeyManager;
import io.meshup.core.internal.tls.MeshTrustManager;
import io.meshup.core.testing.security.FixedCredentials;
import io.meshup.core.testing.security.RawClient;
import io.meshup.core.testing.security.SecurityFixture;
import io.meshup.grpc.MeshServers;
import io.meshup.http.MeshHttpServers;
import io.meshup.http.MeshNettyHttp;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
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
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * AuthorizationPolicy action CUSTOM against a real ext_authz server built on Envoy's published
 * protos, through real servers of both transports (gRPC via MeshServers, HTTP via the JDK and
 * Netty adapters) called with real certificates: allow with headers, deny with status, body and
 * headers, errors and timeouts failing closed (or open where the provider says so), an
 * unreachable authorizer answered with statusOnError, and CUSTOM evaluated before DENY and ALLOW.
 */
class CustomActionTest {
  static final String AP = "istio/api security/v1/authorization_policy.proto";
  static final String MESHCONFIG = "istio/api mesh/v1alpha1/config.proto (envoyExtAuthzGrpc)";
  static final String Q_CUSTOM = "If there are any CUSTOM policies that match the request, evaluate and deny the request if the"
      + " evaluation result is deny.";
  static final String Q_BEFORE = "The extension is evaluated independently and before the native ALLOW and DENY actions.";
  static final String Q_NOBYPASS = "When used together, A request is allowed if and only if all the actions return allow, in other"
      + " words, the extension cannot bypass the authorization decision made by ALLOW and DENY action.";
  static final String Q_TIMEOUT = "When this timeout condition is met, the proxy marks the communication to the authorization"
      + " service as failure. In this situation, the response sent back to the client will depend on the configured `fail_open` field.";
  static final String Q_FAILOPEN = "If true, the HTTP request or TCP connection will be allowed even if the communication with the"
      + " authorization service has failed";
  static final String Q_FAILCLOSED = "Default is false. For HTTP request, it will be rejected with 403 (HTTP Forbidden).";
  static final String Q_STATUS = "Sets the HTTP status that is returned to the client when there is a network error to the"
      + " authorization service.";

  enum Transport { GRPC, JDK, NETTY }

  /** One row: the policies, the path, and what the caller gets (HTTP status, gRPC code, body and header). */
  record Custom(String id, String quote, String source, String policies, String path, int http, Status.Code grpc,
      String bodyContains, String header, String seen) {
    @Override
    public String toString() {
      return id;
    }
  }

  static SecurityFixture f;
  static ExtAuthzServer ext;
  static int closedPort;
  static Mesh mesh;
  static Server grpc;
  static HttpServer jdk;
  static ExecutorService executor;
  static EventLoopGroup group;
  static Channel netty;

  static String custom(String provider) {
    return ap("ext-authz", "action: CUSTOM\nprovider: { name: " + provider + " }\nrules:\n- to: [{ operation: { notPaths: [\"/free*\"] } }]");
  }

  static String ap(String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: " + name + " }\nspec:\n"
        + spec.indent(2) + "---\n";
  }

  static List<Custom> rows() {
    String deny = ap("deny-allow-paths", "action: DENY\nrules:\n- to: [{ operation: { paths: [\"/allow/local-deny\", \"/deny*\"] } }]");
    String allowOnly = ap("allow-free", "rules:\n- to: [{ operation: { paths: [\"/free*\"] } }]");
    String dryCustom = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: dry-ext\n  annotations:\n"
        + "    \"istio.io/dry-run\": \"true\"\nspec:\n  action: CUSTOM\n  provider: { name: ext }\n  rules: [{}]\n---\n";
    return List.of(
        new Custom("the authorizer allows, adding a header the handler sees", Q_CUSTOM, AP, custom("ext"), "/allow", 200,
            Status.Code.OK, null, null, "x-ext-user: alice"),
        new Custom("the authorizer denies with its status, body and headers", Q_CUSTOM, AP, custom("ext"), "/deny", 403,
            Status.Code.PERMISSION_DENIED, "denied by the external authorizer's policy", "x-ext-reason", null),
        new Custom("the authorizer's 401 is the caller's", Q_CUSTOM, AP, custom("ext"), "/unauth", 401,
            Status.Code.UNAUTHENTICATED, "log in first", "x-ext-reason", null),
        new Custom("CUSTOM is evaluated before DENY: its refusal is the one seen", Q_BEFORE, AP, custom("ext") + deny, "/deny", 403,
            Status.Code.PERMISSION_DENIED, "denied by the external authorizer's policy", "x-ext-reason", null),
        new Custom("an allowing authorizer cannot bypass a DENY", Q_NOBYPASS, AP, custom("ext") + deny, "/allow/local-deny", 403,
            Status.Code.PERMISSION_DENIED, "denied by AuthorizationPolicy deny-allow-paths", null, null),
        new Custom("an allowing authorizer cannot bypass ALLOW policies", Q_NOBYPASS, AP, custom("ext") + allowOnly, "/allow", 403,
            Status.Code.PERMISSION_DENIED, "no ALLOW rule", null, null),
        new Custom("a call no CUSTOM rule matches is not sent", Q_CUSTOM, AP, custom("ext"), "/free", 200, Status.Code.OK, null, null, null),
        new Custom("an error of the authorizer fails closed", Q_FAILCLOSED, MESHCONFIG, custom("ext"), "/error", 403,
            Status.Code.PERMISSION_DENIED, "fail closed", null, null),
        new Custom("no answer within the timeout fails closed", Q_TIMEOUT, MESHCONFIG, custom("ext"), "/slow", 403,
            Status.Code.PERMISSION_DENIED, "did not answer within 500 ms", null, null),
        new Custom("failOpen lets an error through", Q_FAILOPEN, MESHCONFIG, custom("open"), "/error", 200, Status.Code.OK, null, null, null),
        new Custom("failOpen lets a timeout through", Q_FAILOPEN, MESHCONFIG, custom("open"), "/slow", 200, Status.Code.OK, null, null, null),
        new Custom("failOpen does not let a denial through", Q_FAILOPEN, MESHCONFIG, custom("open"), "/deny", 403,
            Status.Code.PERMISSION_DENIED, "denied by the external authorizer's policy", null, null),
        new Custom("an unreachable authorizer is answered with statusOnError", Q_STATUS, MESHCONFIG, custom("down"), "/allow", 503,
            Status.Code.UNAVAILABLE, "fail closed", null, null),
        new Custom("a dry-run CUSTOM policy is not enforced", "The dry-run annotation allows you to better understand the effect of an"
            + " authorization policy before applying it to the production traffic.", AP, dryCustom, "/deny", 200, Status.Code.OK, null, null, null));
  }

  @BeforeAll
  static void start() throws Exception {
    f = new SecurityFixture();
    ext = new ExtAuthzServer();
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    String yaml = """
        mesh:
          service: payments
          labels: { version: v1 }
          security:
            extensionProviders:
            - name: ext
              envoyExtAuthzGrpc: { service: 127.0.0.1, port: %1$d, timeout: 500ms }
            - name: open
              envoyExtAuthzGrpc: { service: 127.0.0.1, port: %1$d, timeout: 500ms, failOpen: true }
            - name: down
              envoyExtAuthzGrpc: { service: 127.0.0.1, port: %2$d, timeout: 5s, statusOnError: 503 }
            - name: patient
              envoyExtAuthzGrpc: { service: 127.0.0.1, port: %1$d, timeout: 30s }
        """.formatted(ext.port(), closedPort);
    mesh = Mesh.builder().yaml(yaml).certificates(f.serverSource).mtlsMode(MtlsMode.STRICT).build();
    grpc = MeshServers.forAddress(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), MtlsMode.STRICT)
        .fallbackHandlerRegistry(new Echo()).build().start();
    executor = Executors.newCachedThreadPool();
    jdk = MeshHttpServers.jdk(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), MtlsMode.STRICT);
    jdk.setExecutor(executor);
    jdk.createContext("/", (HttpExchange e) -> {
      try (e) {
        e.getRequestBody().readAllBytes();
        Map<String, String> seen = new TreeMap<>();
        e.getRequestHeaders().forEach((n, v) -> seen.put(n.toLowerCase(Locale.ROOT), String.join(",", v)));
        byte[] body = lines(seen).getBytes(StandardCharsets.UTF_8);
        e.sendResponseHeaders(200, body.length);
        try (OutputStream out = e.getResponseBody()) {
          out.write(body);
        }
      }
    });
    jdk.start();
    MeshNettyHttp http = MeshNettyHttp.create(mesh, MtlsMode.STRICT);
    group = new NioEventLoopGroup(1); // one event loop: a held call must not stop it
    netty = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), http.newHandler(), new HttpObjectAggregator(1 << 16),
                new SimpleChannelInboundHandler<FullHttpRequest>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                    Map<String, String> seen = new TreeMap<>();
                    for (String n : req.headers().names()) {
                      seen.put(n.toLowerCase(Locale.ROOT), String.join(",", req.headers().getAll(n)));
                    }
                    FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                        Unpooled.copiedBuffer(lines(seen), StandardCharsets.UTF_8));
                    HttpUtil.setContentLength(res, res.content().readableBytes());
                    res.headers().set(HttpHeaderNames.CONNECTION, "close");
                    ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                  }
                });
          }
        }).bind("127.0.0.1", 0).sync().channel();
  }

  @AfterAll
  static void stop() throws Exception {
    grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    jdk.stop(0);
    executor.shutdownNow();
    netty.close().sync();
    group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    mesh.close();
    ext.release.countDown();
    ext.close();
  }

  static String lines(Map<String, String> seen) {
    StringBuilder b = new StringBuilder();
    seen.forEach((n, v) -> b.append(n).append(": ").append(v).append('\n'));
    return b.toString();
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Custom c : rows()) {
      for (Transport t : Transport.values()) {
        out.add(Arguments.of(t, c));
      }
    }
    return out.stream();
  }

  /** What came back, whatever the transport. */
  record Outcome(int http, Status.Code grpc, String body, Map<String, String> headers) {}

  static Outcome call(Transport t, String path) throws Exception {
    if (t == Transport.GRPC) {
      FixedCredentials creds = new FixedCredentials(f.sleep);
      ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", grpc.getPort()).overrideAuthority("payments")
          .sslContext(GrpcSslContexts.forClient().keyManager(new MeshKeyManager(creds))
              .trustManager(new MeshTrustManager(creds, MeshClock.system(), "payments", new SimpleMeterRegistry())).build())
          .build();
      try {
        String body = ClientCalls.blockingUnaryCall(ch, method(path.substring(1)),
            CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), "hi");
        return new Outcome(0, Status.Code.OK, body, Map.of());
      } catch (StatusRuntimeException e) {
        Map<String, String> trailers = new TreeMap<>();
        if (e.getTrailers() != null) {
          for (String k : e.getTrailers().keys()) {
            trailers.put(k, e.getTrailers().get(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER)));
          }
        }
        return new Outcome(0, e.getStatus().getCode(), String.valueOf(e.getStatus().getDescription()), trailers);
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    int port = t == Transport.JDK ? jdk.getAddress().getPort() : ((InetSocketAddress) netty.localAddress()).getPort();
    RawClient.Answer a = RawClient.send(port, f.sleep, f.ca.trustBundle(), null, "GET", path + "?x=1", "payments",
        List.of(Map.entry("x-custom", "yes")));
    return new Outcome(a.status(), null, a.body(), a.headers());
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("cases")
  void decidesAsTheQuotedSentenceSays(Transport t, Custom c) throws Exception {
    mesh.updatePolicies("custom", c.policies());
    int checksBefore = ext.checks.size();
    Outcome o = call(t, c.path());
    String why = c.quote() + " (" + c.source() + "): " + o;
    if (t == Transport.GRPC) {
      assertThat(o.grpc()).as(why).isEqualTo(c.grpc());
    } else {
      assertThat(o.http()).as(why).isEqualTo(c.http());
    }
    if (c.bodyContains() != null) {
      assertThat(o.body()).as(why).contains(c.bodyContains());
    }
    if (c.header() != null) {
      assertThat(o.headers()).as(why).containsKey(c.header());
    }
    if (c.seen() != null) {
      assertThat(o.body()).as("the handler saw").contains(c.seen());
    }
    boolean sent = !c.path().startsWith("/free") && !c.policies().contains("dry-run") && !c.policies().contains("name: down");
    assertThat(ext.checks.size() - checksBefore).as("checks sent to the authorizer").isEqualTo(sent ? 1 : 0);
  }

  @Test
  void theCheckCarriesWhatEnvoysFilterSends() throws Exception {
    mesh.updatePolicies("custom", custom("ext"));
    call(Transport.NETTY, "/allow/x");
    CheckRequest r = ext.checks.get(ext.checks.size() - 1);
    assertThat(r.getAttributes().getSource().getPrincipal()).isEqualTo("spiffe://cluster.local/ns/default/sa/sleep");
    assertThat(r.getAttributes().getSource().getAddress().getSocketAddress().getAddress()).isEqualTo("127.0.0.1");
    assertThat(r.getAttributes().getDestination().getAddress().getSocketAddress().getPortValue())
        .isEqualTo(((InetSocketAddress) netty.localAddress()).getPort());
    var http = r.getAttributes().getRequest().getHttp();
    assertThat(http.getMethod()).isEqualTo("GET");
    assertThat(http.getPath()).isEqualTo("/allow/x?x=1");
    assertThat(http.getHost()).isEqualTo("payments");
    assertThat(http.getScheme()).isEqualTo("https");
    assertThat(http.getHeadersMap()).containsEntry("x-custom", "yes").containsEntry(":method", "GET")
        .containsEntry(":path", "/allow/x?x=1");
  }

  @Test
  void aHeldCallDoesNotStopTheEventLoop() throws Exception {
    mesh.updatePolicies("custom", custom("patient"));
    int port = ((InetSocketAddress) netty.localAddress()).getPort();
    CompletableFuture<RawClient.Answer> held = CompletableFuture.supplyAsync(() ->
        RawClient.send(port, f.sleep, f.ca.trustBundle(), null, "GET", "/hold", "payments", List.of()));
    assertThat(ext.holding.await(10, TimeUnit.SECONDS)).as("the authorizer holds the first call").isTrue();

    // the only event loop serves another connection while the first call waits for its answer
    RawClient.Answer free = RawClient.send(port, f.sleep, f.ca.trustBundle(), null, "GET", "/free", "payments", List.of());
    assertThat(free.status()).isEqualTo(200);
    assertThat(held).isNotDone();

    ext.release.countDown();
    assertThat(held.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
  }

  // ---- a gRPC server that answers any method -----------------------------------------------

  static final MethodDescriptor.Marshaller<String> TEXT = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  };

  static MethodDescriptor<String, String> method(String fullName) {
    return MethodDescriptor.<String, String>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(fullName).setRequestMarshaller(TEXT).setResponseMarshaller(TEXT).build();
  }

  static final class Echo extends HandlerRegistry {
    @Override
    public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
      ServerCallHandler<String, String> handler = (call, headers) -> {
        call.request(1);
        return new ServerCall.Listener<>() {
          @Override
          public void onMessage(String message) {
            Map<String, String> seen = new TreeMap<>();
            for (String k : headers.keys()) {
              if (!k.endsWith("-bin")) {
                seen.put(k, String.join(",", headers.getAll(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER))));
              }
            }
            call.sendHeaders(new Metadata());
            call.sendMessage(lines(seen));
            call.close(Status.OK, new Metadata());
          }
        };
      };
      return ServerMethodDefinition.create(method(methodName), handler);
    }
  }
}
