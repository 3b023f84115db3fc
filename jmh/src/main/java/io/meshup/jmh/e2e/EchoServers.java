package io.meshup.jmh.e2e;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.PemFileCertificateSource;
import io.meshup.grpc.MeshServers;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The servers' JVM: N plaintext gRPC echo servers (plain grpc-java), N mutual-TLS gRPC echo
 * servers ({@link MeshServers}, STRICT, certificates from PEM files issued by the dev CA) and N
 * HTTP/1.1 echo servers (Netty), all on ephemeral loopback ports, and the xDS server that feeds the
 * grpc-xds peer the plaintext servers ({@link XdsControlPlane}). Prints one line
 * {@code READY grpc=p,p,p mtls=p,p,p http=p,p,p xds=p} and serves until its standard input closes. For
 * each line {@code COUNTS} on its standard input it prints {@code COUNTS grpc=n,n,n mtls=n,n,n
 * http=n,n,n}, the calls each instance served since the last such line.
 *
 * <p>Usage: {@code EchoServers <certDir> <instances>}
 */
public final class EchoServers {
  private EchoServers() {}

  public static void main(String[] args) throws Exception {
    Path certs = Path.of(args[0]);
    int n = Integer.parseInt(args[1]);
    InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);

    List<Server> servers = new ArrayList<>();
    AtomicLong[] grpcServed = counters(n);
    AtomicLong[] mtlsServed = counters(n);
    AtomicLong[] httpServed = counters(n);
    StringJoiner grpc = new StringJoiner(",");
    for (int i = 0; i < n; i++) {
      Server s = NettyServerBuilder.forAddress(any).addService(Echo.service(grpcServed[i])).build().start();
      servers.add(s);
      grpc.add(Integer.toString(s.getPort()));
    }

    PemFileCertificateSource source = PemFileCertificateSource.load(
        Certs.chain(certs, Echo.SERVICE), Certs.key(certs, Echo.SERVICE), Certs.bundle(certs));
    Mesh mesh = Mesh.builder().service(Echo.SERVICE).certificates(source).build();
    StringJoiner mtls = new StringJoiner(",");
    for (int i = 0; i < n; i++) {
      Server s = MeshServers.forAddress(mesh, any, MtlsMode.STRICT).addService(Echo.service(mtlsServed[i])).build()
          .start();
      servers.add(s);
      mtls.add(Integer.toString(s.getPort()));
    }

    EventLoopGroup group = new NioEventLoopGroup(2);
    List<Channel> httpChannels = new ArrayList<>();
    StringJoiner http = new StringJoiner(",");
    for (int i = 0; i < n; i++) {
      AtomicLong served = httpServed[i];
      Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
              c.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new HttpEcho(served));
            }
          })
          .bind(any).sync().channel();
      httpChannels.add(ch);
      http.add(Integer.toString(((InetSocketAddress) ch.localAddress()).getPort()));
    }

    int[] grpcPorts = servers.stream().limit(n).mapToInt(Server::getPort).toArray();
    XdsControlPlane xds = XdsControlPlane.start(Echo.SERVICE, grpcPorts, 80);

    System.out.println("READY grpc=" + grpc + " mtls=" + mtls + " http=" + http + " xds=" + xds.port());
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.equals("COUNTS")) {
        System.out.println("COUNTS grpc=" + take(grpcServed) + " mtls=" + take(mtlsServed) + " http=" + take(httpServed));
        System.out.flush();
      }
    }
    // the driver closed our standard input (or died)
    for (Server s : servers) {
      s.shutdownNow();
    }
    for (Channel c : httpChannels) {
      c.close();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    xds.close();
    mesh.close();
    for (Server s : servers) {
      s.awaitTermination(2, TimeUnit.SECONDS);
    }
  }

  private static AtomicLong[] counters(int n) {
    AtomicLong[] c = new AtomicLong[n];
    for (int i = 0; i < n; i++) {
      c[i] = new AtomicLong();
    }
    return c;
  }

  private static String take(AtomicLong[] counters) {
    StringJoiner j = new StringJoiner(",");
    for (AtomicLong c : counters) {
      j.add(Long.toString(c.getAndSet(0)));
    }
    return j.toString();
  }

  /** Answers every request with 200 and the request's body. */
  static final class HttpEcho extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final AtomicLong served;

    HttpEcho(AtomicLong served) {
      this.served = served;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      served.incrementAndGet();
      FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          req.content().retain());
      res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
      HttpUtil.setContentLength(res, res.content().readableBytes());
      boolean keepAlive = HttpUtil.isKeepAlive(req);
      HttpUtil.setKeepAlive(res, keepAlive);
      if (keepAlive) {
        ctx.writeAndFlush(res, ctx.voidPromise());
      } else {
        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
      }
    }
  }
}
