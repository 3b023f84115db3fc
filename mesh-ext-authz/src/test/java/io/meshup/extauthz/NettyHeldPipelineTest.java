package io.meshup.extauthz;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.Mesh;
import io.meshup.http.MeshNettyHttp;
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
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Requests pipelined on one keep-alive connection behind a request an external authorizer holds:
 * the Netty adapter queues them (reading paused), then, once the answer comes, lets the held one
 * through, refuses what must be refused, and answers the rest in order, bodies included.
 */
class NettyHeldPipelineTest {
  @Test
  void pipelinedRequestsWaitBehindAHeldOneAndAreAnsweredInOrder() throws Exception {
    try (ExtAuthzServer ext = new ExtAuthzServer()) {
      String yaml = """
          mesh:
            service: httpbin
            security:
              extensionProviders:
              - name: ext
                envoyExtAuthzGrpc: { service: 127.0.0.1, port: %d, timeout: 20s }
            policies:
            - apiVersion: security.istio.io/v1
              kind: AuthorizationPolicy
              metadata: { name: ext-authz }
              spec:
                action: CUSTOM
                provider: { name: ext }
                rules: [{ to: [{ operation: { paths: ["/hold", "/deny"] } }] }]
          """.formatted(ext.port());
      try (Mesh mesh = Mesh.builder().yaml(yaml).build()) {
        MeshNettyHttp http = MeshNettyHttp.create(mesh);
        EventLoopGroup group = new NioEventLoopGroup(1);
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
            .childHandler(new ChannelInitializer<SocketChannel>() {
              @Override
              protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), http.newHandler(), new HttpObjectAggregator(1 << 16),
                    new SimpleChannelInboundHandler<FullHttpRequest>() {
                      @Override
                      protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                        String body = req.uri() + ":" + req.content().toString(StandardCharsets.UTF_8);
                        var res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                            Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
                        HttpUtil.setContentLength(res, res.content().readableBytes());
                        var written = ctx.writeAndFlush(res);
                        if (!HttpUtil.isKeepAlive(req)) {
                          written.addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                        }
                      }
                    });
              }
            }).bind("127.0.0.1", 0).sync().channel();
        try (Socket s = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort())) {
          s.setSoTimeout(20_000);
          String pipeline = "POST /hold HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nfirst"
              + "POST /free HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nsecond"
              + "POST /deny HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nthird"
              + "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
          s.getOutputStream().write(pipeline.getBytes(StandardCharsets.ISO_8859_1));
          s.getOutputStream().flush();
          assertThat(ext.holding.await(10, TimeUnit.SECONDS)).isTrue();
          assertThat(s.getInputStream().available()).as("nothing is answered while the first request is held").isZero();
          ext.release.countDown();
          String all = read(s.getInputStream());
          int first = all.indexOf("/hold:first");
          int second = all.indexOf("/free:second");
          int denied = all.indexOf("HTTP/1.1 403");
          int last = all.indexOf("/last:");
          assertThat(first).as(all).isGreaterThan(0);
          assertThat(second).as(all).isGreaterThan(first);
          assertThat(denied).as(all).isGreaterThan(second);
          assertThat(all).contains("denied by the external authorizer's policy").doesNotContain("/deny:third");
          assertThat(last).as(all).isGreaterThan(denied);
        } finally {
          server.close().sync();
          group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
      }
    }
  }

  private static String read(InputStream in) throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    byte[] b = new byte[4096];
    try {
      for (int n; (n = in.read(b)) >= 0; ) {
        buf.write(b, 0, n);
      }
    } catch (java.net.SocketTimeoutException e) {
      // what arrived is the answer
    }
    return buf.toString(StandardCharsets.ISO_8859_1);
  }
}
