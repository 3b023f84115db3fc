package io.meshup.http;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsExchange;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.tls.MeshKeyManager;
import io.meshup.core.spi.CertificateSource;
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
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Servers of service {@code payments} on ephemeral loopback ports built through mesh-http's two
 * adapters (the JDK's server via {@link MeshHttpServers}, Netty via {@link MeshNettyHttp}). Each
 * answers 200 with the caller's identity as body ({@code anonymous} when plaintext) and records
 * the serial of each TLS caller's leaf; and raw JDK clients that trust any server.
 */
final class HttpTlsServers {
  static {
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  private HttpTlsServers() {}

  enum Adapter { JDK, NETTY }

  /** A running server and what it saw. */
  static final class Running implements AutoCloseable {
    final Mesh mesh;
    final List<BigInteger> callerSerials = new CopyOnWriteArrayList<>();
    /** Requests that reached the application's handler. */
    final AtomicInteger handled = new AtomicInteger();
    int port;
    AutoCloseable stopper;

    Running(Mesh mesh) {
      this.mesh = mesh;
    }

    Endpoint endpoint() {
      return new Endpoint("payments-0", "127.0.0.1", port, Map.of(), 1);
    }

    String url(String path) {
      return "://127.0.0.1:" + port + path;
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

  static Mesh serverMesh(String service, CertificateSource certificates, MtlsMode mode, MeshClock clock) {
    Mesh.Builder b = Mesh.builder().service(service).mtlsMode(mode);
    if (certificates != null) {
      b.certificates(certificates);
    }
    if (clock != null) {
      b.clock(clock);
    }
    return b.build();
  }

  static Running start(Adapter adapter, Mesh mesh, MtlsMode mode, boolean closeEachConnection) throws Exception {
    return adapter == Adapter.JDK ? jdk(mesh, mode, closeEachConnection) : netty(mesh, mode, closeEachConnection);
  }

  static Running jdk(Mesh mesh, MtlsMode mode, boolean closeEachConnection) throws IOException {
    Running r = new Running(mesh);
    HttpServer server = MeshHttpServers.jdk(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), mode);
    ExecutorService executor = Executors.newCachedThreadPool();
    server.setExecutor(executor);
    server.createContext("/", exchange -> {
      try (exchange) {
        exchange.getRequestBody().readAllBytes();
        r.handled.incrementAndGet();
        if (exchange instanceof HttpsExchange https) {
          r.callerSerials.add(serial(https.getSSLSession()));
        }
        WorkloadIdentity caller = MeshHttpServers.caller(exchange);
        byte[] body = (caller == null ? "anonymous" : caller.toString()).getBytes(StandardCharsets.UTF_8);
        if (closeEachConnection) {
          exchange.getResponseHeaders().set("Connection", "close");
        }
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    });
    server.start();
    r.port = server.getAddress().getPort();
    r.stopper = () -> {
      server.stop(0);
      executor.shutdownNow();
    };
    return r;
  }

  static Running netty(Mesh mesh, MtlsMode mode, boolean closeEachConnection) throws InterruptedException {
    Running r = new Running(mesh);
    MeshNettyHttp http = MeshNettyHttp.create(mesh, mode);
    EventLoopGroup group = new NioEventLoopGroup(2);
    Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), http.newHandler(), new HttpObjectAggregator(1 << 16),
                new SimpleChannelInboundHandler<FullHttpRequest>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                    r.handled.incrementAndGet();
                    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
                    if (ssl != null) {
                      r.callerSerials.add(serial(ssl.engine().getSession()));
                    }
                    WorkloadIdentity caller = MeshNettyHttp.caller(ctx.channel());
                    FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                        Unpooled.copiedBuffer(caller == null ? "anonymous" : caller.toString(), StandardCharsets.UTF_8));
                    HttpUtil.setContentLength(res, res.content().readableBytes());
                    boolean keepAlive = !closeEachConnection && HttpUtil.isKeepAlive(req);
                    HttpUtil.setKeepAlive(res, keepAlive);
                    if (!keepAlive) {
                      res.headers().set(HttpHeaderNames.CONNECTION, "close");
                      ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                    } else {
                      ctx.writeAndFlush(res);
                    }
                  }
                });
          }
        })
        .bind("127.0.0.1", 0).sync().channel();
    r.port = ((InetSocketAddress) server.localAddress()).getPort();
    r.stopper = () -> {
      server.close().sync();
      group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).sync();
    };
    return r;
  }

  private static BigInteger serial(SSLSession session) {
    try {
      return ((X509Certificate) session.getPeerCertificates()[0]).getSerialNumber();
    } catch (SSLPeerUnverifiedException e) {
      throw new AssertionError("a TLS request reached the handler without a client certificate", e);
    }
  }

  /** A source that always returns the same credentials. */
  static CertificateSource fixed(Credentials credentials) {
    return new CertificateSource() {
      @Override
      public Credentials current() {
        return credentials;
      }

      @Override
      public Subscription subscribe(Listener listener) {
        return () -> {};
      }
    };
  }

  /** A plain JDK HTTP/1.1 client (not MeshUp's) that trusts any server and presents {@code credentials}, if any. */
  static HttpClient rawTlsClient(Credentials credentials) {
    SSLContext ctx;
    try {
      ctx = SSLContext.getInstance("TLS");
      KeyManager[] km = credentials == null ? new KeyManager[0] : new KeyManager[] {new MeshKeyManager(fixed(credentials))};
      ctx.init(km, new TrustManager[] {new TrustAll()}, null);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ctx).build();
  }

  static HttpClient rawPlaintextClient() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  private static final class TrustAll extends X509ExtendedTrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
