package io.meshup.grpc.internal;

import io.grpc.netty.NettyChannelBuilder;
import io.meshup.core.route.ConnectionSettings;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.nio.NioChannelOption;
import jdk.net.ExtendedSocketOptions;

/**
 * A DestinationRule's {@code tcpKeepalive} as TCP socket options, as Envoy sets them:
 * {@code SO_KEEPALIVE}, and when given the idle time before the first probe, the interval between
 * probes and their count ({@code TCP_KEEPIDLE}, {@code TCP_KEEPINTERVAL}, {@code TCP_KEEPCOUNT},
 * on the NIO transport grpc-netty uses by default). No HTTP/2 ping is involved, so servers that
 * limit pings (grpc-java's {@code permitKeepAliveTime}) are not bothered. Stateless.
 */
final class TcpKeepalives {
  private TcpKeepalives() {}

  static void apply(NettyChannelBuilder b, ConnectionSettings.TcpKeepalive k) {
    b.withOption(ChannelOption.SO_KEEPALIVE, true);
    if (k.time() != null) {
      b.withOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE), seconds(k.time()));
    }
    if (k.interval() != null) {
      b.withOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), seconds(k.interval()));
    }
    if (k.probes() > 0) {
      b.withOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), k.probes());
    }
  }

  private static int seconds(java.time.Duration d) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.toSeconds()));
  }
}
