package io.meshup.http.internal;

import io.meshup.core.MeshClock;
import io.meshup.core.internal.tls.ConnectionAdmission;
import io.meshup.core.internal.tls.JdkTlsContexts;
import io.meshup.core.internal.tls.MeshKeyManager;
import io.meshup.core.internal.tls.MeshTrustManager;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.util.List;
import javax.net.ssl.SSLException;

/** The TLS side of the Netty adapter: the server context and the sniffer that applies the mode. Stateless. */
final class NettyTls {
  /** The name of the handler installed at the head of the pipeline. */
  static final String HANDLER_NAME = "meshup-tls";
  /** A TLS record header is five bytes; an HTTP/1.1 request line is longer. */
  private static final int SNIFF_BYTES = 5;

  private NettyTls() {}

  /**
   * A server context (JDK provider) whose managers read {@code source} at every handshake and that
   * verifies a client certificate of the mesh's trust domain. The handshake may finish without one
   * so that such a client is seen and counted ({@code no_certificate}); the handler then closes
   * the connection.
   */
  static SslContext server(CertificateSource source, MeshClock clock, java.util.Set<String> trustDomainAliases,
      MeterRegistry meters) {
    try {
      return SslContextBuilder.forServer(new MeshKeyManager(source))
          .trustManager(new MeshTrustManager(source, clock, null, trustDomainAliases, meters))
          .clientAuth(ClientAuth.OPTIONAL)
          .sslProvider(SslProvider.JDK)
          .sessionTimeout(JdkTlsContexts.SESSION_TIMEOUT_SECONDS)
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("meshup: cannot build the TLS server context for the Netty adapter", e);
    }
  }

  /**
   * Looks at the first bytes of a connection and applies the mutual TLS mode in force when it
   * opens: the PeerAuthentication's ({@link InboundAuthorizer#peerAuthenticationMode()}), else the
   * mode the adapter was built with. A TLS record gets an {@link SslHandler} in its place unless
   * the mode is DISABLE; plaintext is left alone unless the mode is STRICT; a refused connection
   * is closed and counted. The bytes read so far go on to whichever handler follows. One per
   * connection; runs on its event loop.
   */
  static final class Sniffer extends ByteToMessageDecoder {
    private final SslContext context;
    private final ConnectionAdmission admission;

    Sniffer(SslContext context, ConnectionAdmission admission) {
      this.context = context;
      this.admission = admission;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      if (in.readableBytes() < SNIFF_BYTES) {
        return;
      }
      @SuppressWarnings("deprecation")
      boolean encrypted = SslHandler.isEncrypted(in);
      if (!admission.admits(encrypted, ctx.channel().remoteAddress(), ctx.channel().localAddress())) {
        in.skipBytes(in.readableBytes());
        ctx.close();
        return;
      }
      if (encrypted) {
        ctx.pipeline().addAfter(ctx.name(), null, context.newHandler(ctx.alloc()));
      }
      // hands the bytes read so far on to the handler that follows
      ctx.pipeline().remove(this);
    }
  }
}
