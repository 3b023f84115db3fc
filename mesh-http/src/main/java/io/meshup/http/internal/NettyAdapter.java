package io.meshup.http.internal;

import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.spi.CertificateSource;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.SslContext;

/** What {@code MeshNettyHttp} holds: the authorizer, the mode and the TLS context built once. Thread-safe. */
public final class NettyAdapter {
  private final InboundAuthorizer authorizer;
  private final MtlsMode mode;
  /** Null in DISABLE mode. */
  private final SslContext ssl;

  /** @throws IllegalStateException when {@code mode} needs TLS and the mesh has no certificates */
  public NettyAdapter(Mesh mesh, MtlsMode mode) {
    this.authorizer = mesh.authorizer();
    this.mode = mode;
    if (mode == MtlsMode.DISABLE) {
      this.ssl = null;
    } else {
      CertificateSource source = mesh.certificates().orElseThrow(() -> new IllegalStateException("meshup: mTLS mode "
          + mode + " needs certificates; set mesh.tls.certificates or Mesh.Builder.certificates(...)"));
      this.ssl = NettyTls.server(source, mesh.clock(), mesh.meterRegistry());
    }
  }

  public MtlsMode mode() {
    return mode;
  }

  /** A handler for one connection. */
  public ChannelHandler newHandler() {
    return new NettyAuthorizingHandler(authorizer, mode, ssl);
  }

  /** The verified identity of the channel's TLS peer, or null when it is plaintext. */
  public static WorkloadIdentity caller(Channel channel) {
    return NettyAuthorizingHandler.callerOf(channel.pipeline());
  }
}
