package io.meshup.http.security;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Mesh;
import io.meshup.core.PathNormalization;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.spi.CertificateSource;
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
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The servers the security tables attack: service {@code payments} through either adapter, whose
 * handlers answer 200 with what they saw: {@code <context>|<request URI>|<caller>} on the JDK
 * server (contexts {@code /}, {@code /admin} and {@code /public}), {@code netty|<uri>|<caller>} on
 * Netty. Every request a handler sees is recorded, so a test can tell that a refused one never
 * reached it.
 */
final class SecurityServers {
  private SecurityServers() {}

  enum Adapter { JDK, NETTY }

  static final class Running implements AutoCloseable {
    final Mesh mesh;
    final Adapter adapter;
    final List<String> seen = new CopyOnWriteArrayList<>();
    int port;
    AutoCloseable stopper;

    Running(Mesh mesh, Adapter adapter) {
      this.mesh = mesh;
      this.adapter = adapter;
    }

    @Override
    public void close() throws Exception {
      try {
        stopper.close();
      } finally {
        mesh.close();
      }
    }
  }

  static Mesh mesh(PathNormalization normalization, String policies, CertificateSource certificates, MtlsMode mode) {
    Mesh.Builder b = Mesh.builder().service("payments").pathNormalization(normalization).policies("security", policies);
    if (certificates != null) {
      b.certificates(certificates).mtlsMode(mode);
    }
    return b.build();
  }

  static Running start(Adapter adapter, Mesh mesh, MtlsMode mode) throws Exception {
    return adapter == Adapter.JDK ? jdk(mesh, mode) : netty(mesh, mode);
  }

  private static Running jdk(Mesh mesh, MtlsMode mode) throws IOException {
    Running r = new Running(mesh, Adapter.JDK);
    HttpServer server = MeshHttpServers.jdk(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), mode);
    ExecutorService executor = Executors.newCachedThreadPool();
    server.setExecutor(executor);
    for (String context : List.of("/", "/admin", "/public")) {
      server.createContext(context, handler(r, context));
    }
    server.start();
    r.port = server.getAddress().getPort();
    r.stopper = () -> {
      server.stop(0);
      executor.shutdownNow();
    };
    return r;
  }

  private static HttpHandler handler(Running r, String context) {
    return (HttpExchange exchange) -> {
      try (exchange) {
        exchange.getRequestBody().readAllBytes();
        WorkloadIdentity caller = MeshHttpServers.caller(exchange);
        String saw = exchange.getHttpContext().getPath() + "|" + exchange.getRequestURI() + "|"
            + (caller == null ? "anonymous" : caller.principal());
        r.seen.add(saw);
        byte[] body = saw.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    };
  }

  private static Running netty(Mesh mesh, MtlsMode mode) throws InterruptedException {
    Running r = new Running(mesh, Adapter.NETTY);
    MeshNettyHttp http = MeshNettyHttp.create(mesh, mode);
    EventLoopGroup group = new NioEventLoopGroup(1);
    Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), http.newHandler(), new HttpObjectAggregator(1 << 16),
                new SimpleChannelInboundHandler<FullHttpRequest>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                    WorkloadIdentity caller = MeshNettyHttp.caller(ctx.channel());
                    String saw = "netty|" + req.uri() + "|" + (caller == null ? "anonymous" : caller.principal());
                    r.seen.add(saw);
                    FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                        Unpooled.copiedBuffer(saw, StandardCharsets.UTF_8));
                    HttpUtil.setContentLength(res, res.content().readableBytes());
                    res.headers().set(HttpHeaderNames.CONNECTION, "close");
                    ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                  }
                });
          }
        })
        .bind("127.0.0.1", 0).sync().channel();
    r.port = ((InetSocketAddress) server.localAddress()).getPort();
    r.stopper = () -> {
      server.close().sync();
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    };
    return r;
  }
}
