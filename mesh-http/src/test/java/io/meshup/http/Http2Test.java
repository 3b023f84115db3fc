package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.internal.tls.MeshKeyManager;
import io.meshup.core.internal.tls.MeshTrustManager;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
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
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The mesh HTTP client speaks HTTP/2 to endpoints that offer it: by ALPN under mutual TLS, and in
 * plaintext when the DestinationRule says {@code h2UpgradePolicy: UPGRADE} (the JDK client's h2c
 * upgrade); otherwise HTTP/1.1. The servers are Netty's HTTP/2 codec, answering with the protocol
 * they served.
 */
class Http2Test {
  final EventLoopGroup group = new NioEventLoopGroup(1);
  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closers) {
      c.close();
    }
    group.shutdownGracefully().sync();
  }

  /** Answers every request with the protocol it came in on. */
  static final class Answer extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final String protocol;

    Answer(String protocol) {
      this.protocol = protocol;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      FullHttpResponse r = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
          Unpooled.copiedBuffer(protocol, StandardCharsets.UTF_8));
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
      ctx.writeAndFlush(r);
    }
  }

  static ChannelInitializer<Channel> h2Streams() {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new HttpObjectAggregator(1 << 20), new Answer("h2"));
      }
    };
  }

  int serve(SslContext tls) throws InterruptedException {
    Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ChannelPipeline p = ch.pipeline();
            if (tls != null) {
              p.addLast(tls.newHandler(ch.alloc()));
              p.addLast(new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
                @Override
                protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                  if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                    ctx.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(), new Http2MultiplexHandler(h2Streams()));
                  } else {
                    ctx.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Answer("http/1.1"));
                  }
                }
              });
              return;
            }
            HttpServerCodec codec = new HttpServerCodec();
            p.addLast(codec, new HttpServerUpgradeHandler(codec, protocol ->
                AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                    ? new Http2ServerUpgradeCodec(Http2FrameCodecBuilder.forServer().build(), new Http2MultiplexHandler(h2Streams()))
                    : null), new HttpObjectAggregator(1 << 20), new Answer("http/1.1"));
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    closers.add(() -> server.close().sync());
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  Mesh client(int port, DevCertificateAuthority ca, String dr) {
    Mesh.Builder b = Mesh.builder().service("checkout")
        .endpoints("h2svc", List.of(new Endpoint("s0", "127.0.0.1", port, Map.of(), 1)));
    if (ca != null) {
      b.certificates(ca.source("checkout"));
    }
    if (dr != null) {
      b.policies("p", dr);
    }
    Mesh m = b.build();
    closers.add(m);
    return m;
  }

  static HttpResponse<String> get(Mesh mesh) throws Exception {
    return MeshHttp.client(mesh).send(HttpRequest.newBuilder(URI.create("http://h2svc/x")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void mutualTlsNegotiatesHttp2ByAlpn() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("h2.test");
    var server = ca.source("h2svc");
    SslContext tls = SslContextBuilder.forServer(new MeshKeyManager(server))
        .trustManager(new MeshTrustManager(server, MeshClock.system(), null, new SimpleMeterRegistry()))
        .clientAuth(ClientAuth.REQUIRE)
        .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
        .build();
    Mesh mesh = client(serve(tls), ca, null);
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> r = get(mesh);
      assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
      assertThat(r.body()).isEqualTo("h2");
      assertThat(MeshHttp.serverIdentity(r).orElseThrow().service()).isEqualTo("h2svc");
    }
  }

  @Test
  void plaintextUpgradesToHttp2OnlyWhenTheDestinationRuleSaysSo() throws Exception {
    int port = serve(null);
    HttpResponse<String> plain = get(client(port, null, null));
    assertThat(plain.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    assertThat(plain.body()).isEqualTo("http/1.1");

    Mesh upgrading = client(port, null, """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: h2svc }
        spec: { host: h2svc, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: UPGRADE } } } }
        """);
    get(upgrading); // the JDK client upgrades the connection on its first request
    HttpResponse<String> r = get(upgrading);
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.body()).isEqualTo("h2");
  }
}
