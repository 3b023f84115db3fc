package io.meshup.grpc.internal.tls;

import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * A server negotiator for PERMISSIVE mode: looks at the first bytes of each connection and hands
 * it to grpc-netty's TLS negotiator when they open a TLS record, to its plaintext one otherwise.
 * The negotiation event grpc-netty fires when the connection is set up is held back until the
 * choice is made, then replayed to the chosen handler. One instance per server; thread-safe.
 */
public final class PermissiveNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
  /** A TLS record header is five bytes; an HTTP/2 preface is longer. */
  private static final int SNIFF_BYTES = 5;

  private final InternalProtocolNegotiator.ProtocolNegotiator tls;
  private final InternalProtocolNegotiator.ProtocolNegotiator plaintext;

  public PermissiveNegotiator(SslContext serverContext) {
    this.tls = InternalProtocolNegotiators.serverTls(serverContext);
    this.plaintext = InternalProtocolNegotiators.serverPlaintext();
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
