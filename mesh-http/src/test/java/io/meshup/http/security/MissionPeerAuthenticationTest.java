package io.meshup.http.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.testing.security.RawClient;
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
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The mission's PeerAuthentication: STRICT mutual TLS for the workloads labelled {@code app: myapp},
 * in force on a real server of service {@code myapp} (a plaintext caller is turned away, a mTLS one
 * served) and not on one of service {@code other}, both PERMISSIVE by their own settings and
 * sharing one policy source. Written with {@code networking.istio.io}, as our users had it, it is
 * refused as Istio refuses it, and the message gives the line to write.
 */
class MissionPeerAuthenticationTest {
  static final String MISSION = """
      apiVersion: security.istio.io/v1beta1
      kind: PeerAuthentication
      metadata:
        name: myapp-strict
      spec:
        selector:
          matchLabels:
            app: myapp
        mtls:
          mode: STRICT
      """;

  record Running(Mesh mesh, EventLoopGroup group, Channel channel) implements AutoCloseable {
    int port() {
      return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() throws Exception {
      channel.close().sync();
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
      mesh.close();
    }
  }

  static Running start(DevCertificateAuthority ca, String service) throws Exception {
    Mesh mesh = Mesh.builder().service(service).certificates(ca.source(ca.serviceAccountIdentity("default", service)))
        .mtlsMode(MtlsMode.PERMISSIVE).policies("shared", MISSION).build();
    MeshNettyHttp http = MeshNettyHttp.create(mesh);
    EventLoopGroup group = new NioEventLoopGroup(1);
    Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            c.pipeline().addLast(new HttpServerCodec(), http.newHandler(), new HttpObjectAggregator(1 << 16),
                new SimpleChannelInboundHandler<FullHttpRequest>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                    var res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                        Unpooled.copiedBuffer(service, java.nio.charset.StandardCharsets.UTF_8));
                    HttpUtil.setContentLength(res, res.content().readableBytes());
                    res.headers().set(HttpHeaderNames.CONNECTION, "close");
                    ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                  }
                });
          }
        }).bind("127.0.0.1", 0).sync().channel();
    return new Running(mesh, group, ch);
  }

  @Test
  void strictForTheWorkloadLabelledMyappAndNotForAnother() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("cluster.local");
    var caller = ca.issue(ca.serviceAccountIdentity("default", "sleep"));
    try (Running myapp = start(ca, "myapp"); Running other = start(ca, "other")) {
      assertThat(myapp.mesh().authorizer().peerAuthenticationMode()).isEqualTo(MtlsMode.STRICT);
      assertThat(other.mesh().authorizer().peerAuthenticationMode()).isNull();

      RawClient.Answer plainToMyapp = RawClient.send(myapp.port(), null, ca.trustBundle(), null, "GET", "/", "myapp", List.of());
      RawClient.Answer tlsToMyapp = RawClient.send(myapp.port(), caller, ca.trustBundle(), null, "GET", "/", "myapp", List.of());
      RawClient.Answer plainToOther = RawClient.send(other.port(), null, ca.trustBundle(), null, "GET", "/", "other", List.of());

      assertThat(plainToMyapp.status()).as("plaintext to myapp: its connection is closed").isZero();
      assertThat(myapp.mesh().meterRegistry().counter("mesh.server.connections.refused", "mode", "STRICT",
          "transport", "plaintext").count()).isEqualTo(1.0);
      assertThat(tlsToMyapp.status()).isEqualTo(200);
      assertThat(tlsToMyapp.body()).isEqualTo("myapp");
      assertThat(plainToOther.status()).as("plaintext to other: PERMISSIVE still").isEqualTo(200);
    }
  }

  @Test
  void withNetworkingIstioIoItIsRefusedSayingWhereItBelongsAndWhatToWrite() {
    String users = MISSION.replace("security.istio.io/v1beta1", "networking.istio.io/v1beta1");
    assertThatThrownBy(() -> Mesh.builder().service("myapp").policies("policies/myapp.yaml", users).build())
        .isInstanceOf(MeshConfigException.class)
        .satisfies(e -> assertThat(((MeshConfigException) e).path()).isEqualTo("apiVersion"))
        .hasMessageContaining("policies/myapp.yaml: PeerAuthentication myapp-strict")
        .hasMessageContaining("'networking.istio.io/v1beta1' is not supported for PeerAuthentication")
        .hasMessageContaining("PeerAuthentication belongs to API group security.istio.io")
        .hasMessageContaining("write 'apiVersion: security.istio.io/v1'");
  }
}
