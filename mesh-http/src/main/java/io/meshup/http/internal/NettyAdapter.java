package io.meshup.http.internal;

import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.http.RequestTargets;
import io.meshup.core.internal.tls.ConnectionAdmission;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.SslContext;

/**
 * What {@code MeshNettyHttp} holds: the authorizer, the mode it was built with, and (when the mesh
 * has certificates) the TLS context built once. Thread-safe.
 */
public final class NettyAdapter {
  private final io.meshup.core.route.InboundTelemetry telemetry;
  private final InboundAuthorizer authorizer;
  private final MtlsMode mode;
  /** Null when the mesh has no certificates: plaintext only. */
  private final SslContext ssl;
  private final ConnectionAdmission admission;
  private final RequestTargets targets;
  private final MeterRegistry meters;

  /** @throws IllegalStateException when {@code mode} needs TLS and the mesh has no certificates */
  public NettyAdapter(Mesh mesh, MtlsMode mode) {
    this.authorizer = mesh.authorizer();
    this.mode = mode;
    CertificateSource source = mesh.certificates().orElse(null);
    if (source == null && mode != MtlsMode.DISABLE) {
      throw new IllegalStateException("meshup: mTLS mode " + mode
          + " needs certificates; set mesh.tls.certificates or Mesh.Builder.certificates(...)");
    }
    this.ssl = source == null ? null : NettyTls.server(source, mesh.clock(), mesh.trustDomainAliases(), mesh.meterRegistry());
    this.admission = source == null ? null : new ConnectionAdmission(mode, authorizer, mesh.meterRegistry());
    this.targets = new RequestTargets(mesh.pathNormalization(), mesh.meterRegistry());
    this.meters = mesh.meterRegistry();
    this.telemetry = mesh.inboundTelemetry();
  }

  /** The mode it was built with; a PeerAuthentication in force overrides it per connection. */
  public MtlsMode mode() {
    return mode;
  }

  /** A handler for one connection. */
  public ChannelHandler newHandler() {
    return new NettyAuthorizingHandler(authorizer, mode, ssl, admission, targets, meters, telemetry);
  }

  /** The verified identity of the channel's TLS peer, or null when it is plaintext. */
  public static WorkloadIdentity caller(Channel channel) {
    return NettyAuthorizingHandler.callerOf(channel.pipeline());
  }
}
