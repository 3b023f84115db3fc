package io.meshup.http.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.testing.security.DecisionTable;
import io.meshup.core.testing.security.RawClient;
import io.meshup.core.testing.security.Row;
import io.meshup.core.testing.security.SecurityFixture;
import io.meshup.http.MeshHttpServers;
import io.meshup.http.MeshNettyHttp;
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
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decision table of issue 13 on real servers of both HTTP adapters: a JDK server pair (STRICT
 * for mTLS rows, DISABLE for plaintext ones: the JDK server cannot take both on one port) and a
 * PERMISSIVE Netty server, called over loopback with hand-written HTTP/1.1 (so exactly the row's
 * request line and headers arrive), real certificates of both SPIFFE shapes and real JWTs. Each
 * handler answers 200 with the headers it saw.
 */
class HttpDecisionTableTest {
  static SecurityFixture f;
  static Mesh mesh;
  static HttpServer jdkTls;
  static HttpServer jdkPlain;
  static ExecutorService executor;
  static EventLoopGroup group;
  static Channel netty;

  @BeforeAll
  static void start() throws Exception {
    if (f == null) {
      f = new SecurityFixture();
    }
    mesh = Mesh.builder().service("payments").labels(Map.of("version", "v1")).certificates(f.serverSource)
        .mtlsMode(MtlsMode.PERMISSIVE).build();
    executor = Executors.newCachedThreadPool();
    jdkTls = jdk(MtlsMode.STRICT);
    jdkPlain = jdk(MtlsMode.DISABLE);
    MeshNettyHttp http = MeshNettyHttp.create(mesh, MtlsMode.PERMISSIVE);
    group = new NioEventLoopGroup(1);
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

  static String lines(Map<String, String> seen) {
    StringBuilder b = new StringBuilder();
    seen.forEach((n, v) -> b.append(n).append(": ").append(v).append('\n'));
    return b.toString();
  }

  static HttpServer jdk(MtlsMode mode) throws Exception {
    HttpServer s = MeshHttpServers.jdk(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), mode);
    s.setExecutor(executor);
    s.createContext("/", (HttpHandler) (HttpExchange e) -> {
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
    s.start();
    return s;
  }

  @AfterAll
  static void stop() throws Exception {
    jdkTls.stop(0);
    jdkPlain.stop(0);
    executor.shutdownNow();
    netty.close().sync();
    group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    mesh.close();
  }

  static Stream<Arguments> rows() {
    if (f == null) {
      f = new SecurityFixture();
    }
    List<Arguments> out = new ArrayList<>();
    for (Row r : DecisionTable.rows(f)) {
      for (Row.Transport t : List.of(Row.Transport.JDK, Row.Transport.NETTY)) {
        if (r.on().contains(t)) {
          out.add(Arguments.of(t, r));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void decidesAsTheQuotedSentenceSays(Row.Transport adapter, Row row) {
    Row.Call c = row.call();
    int port = adapter == Row.Transport.NETTY ? ((InetSocketAddress) netty.localAddress()).getPort()
        : (c.caller() == null ? jdkPlain : jdkTls).getAddress().getPort();
    mesh.updatePolicies("table", row.policies().replace("{{PORT}}", Integer.toString(port)));
    RawClient.Answer a = RawClient.send(port, c.caller() == null ? null : f.caller(c.caller()), f.ca.trustBundle(), c.sni(),
        c.method(), c.target(), c.host(), c.headers());
    Set<Integer> expected = switch (row.expect()) {
      case ALLOW -> Set.of(200);
      case DENY -> Set.of(403);
      case UNAUTHENTICATED -> Set.of(401);
      case MTLS_REQUIRED -> Set.of(401, 0);
    };
    assertThat(a.status()).as(row.quote() + " (" + row.source() + "): " + a.body()).isIn(expected);
    if (a.status() == 401 && row.expect() == Row.Expect.UNAUTHENTICATED) {
      assertThat(a.headers()).containsEntry("www-authenticate", "Bearer error=\"invalid_token\"");
    }
    for (Map.Entry<String, String> s : row.seen().entrySet()) {
      if (s.getValue() == null) {
        assertThat(a.body()).as("the handler saw").doesNotContain(s.getKey() + ":");
      } else {
        assertThat(a.body()).as("the handler saw").contains(s.getKey() + ": " + s.getValue() + "\n");
      }
    }
  }
}
