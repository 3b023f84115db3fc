package io.meshup.grpc.internal.tls;

import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.internal.tls.ConnectionAdmission;
import io.meshup.core.route.InboundAuthorizer;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * A server negotiator that applies the mutual TLS mode in force when each connection opens: the
 * mode of a PeerAuthentication in force ({@link InboundAuthorizer#peerAuthenticationMode()}), else
 * the mode the server was built with. It looks at the first bytes of the connection: a TLS record
 * goes to grpc-netty's TLS negotiator (client certificate required) unless the mode is DISABLE; a
 * plaintext connection goes to its plaintext negotiator unless the mode is STRICT. A refused
 * connection is closed and counted ({@link ConnectionAdmission}).
 * The negotiation event grpc-netty fires when the connection is set up is held back until the
 * choice is made, then replayed to the chosen handler. One instance per server; thread-safe.
 */
public final class ModeNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
  /** A TLS record header is five bytes; an HTTP/2 preface is longer. */
  private static final int SNIFF_BYTES = 5;

  private final InternalProtocolNegotiator.ProtocolNegotiator tls;
  private final InternalProtocolNegotiator.ProtocolNegotiator plaintext;
  private final ConnectionAdmission admission;

  /**
   * @param serverContext the TLS context for connections that open with a TLS record
   * @param configured the mode the server was built with, used while no PeerAuthentication is in force
   * @param authorizer where the PeerAuthentication in force is read, per connection
   */
  public ModeNegotiator(SslContext serverContext, MtlsMode configured, InboundAuthorizer authorizer,
      MeterRegistry meters) {
    this.tls = InternalProtocolNegotiators.serverTls(serverContext);
    this.plaintext = InternalProtocolNegotiators.serverPlaintext();
    this.admission = new ConnectionAdmission(configured, authorizer, meters);
  }

  @Override
  public AsciiString scheme() {
    return tls.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    return new Detector(grpcHandler);
  }

  @Override
  public void close() {
    tls.close();
    plaintext.close();
  }

  private final class Detector extends ByteToMessageDecoder {
    private final GrpcHttp2ConnectionHandler grpcHandler;
    private Object negotiationEvent;

    Detector(GrpcHttp2ConnectionHandler grpcHandler) {
      this.grpcHandler = grpcHandler;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof ProtocolNegotiationEvent) {
        negotiationEvent = evt;
        return;
      }
      super.userEventTriggered(ctx, evt);
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
      ChannelHandler chosen = (encrypted ? tls : plaintext).newHandler(grpcHandler);
      ctx.pipeline().addAfter(ctx.name(), null, chosen);
      if (negotiationEvent != null) {
        ctx.fireUserEventTriggered(negotiationEvent);
        negotiationEvent = null;
      }
      // passes the bytes read so far on to the chosen handler
      ctx.pipeline().remove(this);
    }
  }
}
