package io.meshup.http.internal;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.http.RequestTargets;
import io.meshup.core.internal.tls.ConnectionAdmission;
import io.meshup.core.internal.tls.TlsPeers;
import io.meshup.core.route.InboundAuthorizer;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import javax.net.ssl.SSLException;

/**
 * The per-connection handler of {@code MeshNettyHttp}, placed after the HTTP codec. When added it
 * installs a {@link NettyTls.Sniffer} at the head of the pipeline when the mesh has certificates,
 * which applies the mutual TLS mode in force when the connection opens (and puts an
 * {@link SslHandler} in its place for TLS). Then it authorizes each
 * {@link HttpRequest}: an allowed one goes on unchanged; a refused one is answered per
 * {@link Denials} and neither it nor its body goes further. TLS handshake failures are logged at
 * debug and close the connection. Runs on the connection's event loop; not sharable.
 */
final class NettyAuthorizingHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(NettyAuthorizingHandler.class);

  private final InboundAuthorizer authorizer;
  private final MtlsMode mode;
  private final SslContext ssl;
  private final ConnectionAdmission admission;
  private final RequestTargets targets;
  private final MeterRegistry meters;
  /** The body of a refused request is being dropped. */
  private boolean dropping;
  /** The caller, read from the TLS session at the first request of the connection. */
  private WorkloadIdentity caller;
  private boolean callerKnown;

  /**
   * @param ssl the server TLS context, or null when the mesh has no certificates (plaintext only)
   */
  NettyAuthorizingHandler(InboundAuthorizer authorizer, MtlsMode mode, SslContext ssl, ConnectionAdmission admission,
      RequestTargets targets, MeterRegistry meters) {
    this.authorizer = authorizer;
    this.targets = targets;
    this.meters = meters;
    this.mode = mode;
    this.ssl = ssl;
    this.admission = admission;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    ChannelPipeline p = ctx.pipeline();
    if (p.get(SslHandler.class) != null) {
      throw new IllegalStateException("meshup: the pipeline of " + ctx.channel() + " has an SslHandler already;"
          + " MeshNettyHttp installs its own (mode " + mode + ") at the head, so remove yours");
    }
    if (ssl != null) {
      p.addFirst(NettyTls.HANDLER_NAME, new NettyTls.Sniffer(ssl, admission));
    }
  }

  /** The verified identity of the TLS peer of this pipeline, or null when it is plaintext. */
  static WorkloadIdentity callerOf(ChannelPipeline pipeline) {
    SslHandler h = pipeline.get(SslHandler.class);
    return h == null ? null : TlsPeers.identityOf(h.engine().getSession());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request) {
      if (!callerKnown) {
        caller = callerOf(ctx.pipeline());
        callerKnown = true;
      }
      SslHandler tls = caller == null ? ctx.pipeline().get(SslHandler.class) : null;
      if (tls != null && TlsPeers.refusedWithoutCertificate(tls.engine().getSession(), meters)) {
        ReferenceCountUtil.release(msg);
        dropping = true;
        ctx.close();
        return;
      }
      String method = request.method().name();
      String uri = request.uri();
      String path;
      try {
        if (request.decoderResult().isFailure()) {
          throw targets.refuse(RequestTargets.Reason.INVALID_TARGET);
        }
        targets.checkMethod(method);
        path = targets.path(uri);
      } catch (RequestTargets.Refused r) {
        try {
          badRequest(ctx, request, r.reason().message());
        } finally {
          dropping = !(msg instanceof LastHttpContent);
          ReferenceCountUtil.release(msg);
        }
        return;
      }
      InboundAuthorizer.Decision d = authorizer.authorize(caller, path, method);
      if (d.allowed()) {
        dropping = false;
        if (!unchanged(uri, path)) {
          int q = uri.indexOf('?');
          request.setUri(q < 0 ? path : path + uri.substring(q));
        }
        ctx.fireChannelRead(msg);
        return;
      }
      try {
        refuse(ctx, request, d);
      } finally {
        dropping = !(msg instanceof LastHttpContent);
        ReferenceCountUtil.release(msg);
      }
      return;
    }
    if (dropping && msg instanceof HttpContent) {
      dropping = !(msg instanceof LastHttpContent);
      ReferenceCountUtil.release(msg);
      return;
    }
    ctx.fireChannelRead(msg);
  }

  /** Whether the origin-form target {@code uri} already has {@code path} as its path (no allocation). */
  private static boolean unchanged(String uri, String path) {
    if (uri == path) {
      return true;
    }
    return uri.length() > path.length() && uri.charAt(path.length()) == '?' && uri.startsWith(path);
  }

  /** Answers 400 and closes the connection: what follows a target that cannot be read is not trusted. */
  private static void badRequest(ChannelHandlerContext ctx, HttpRequest request, String message) {
    byte[] body = (message + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    FullHttpResponse r = new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.BAD_REQUEST,
        Unpooled.wrappedBuffer(body));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, Denials.CONTENT_TYPE)
        .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
  }

  private static void refuse(ChannelHandlerContext ctx, HttpRequest request, InboundAuthorizer.Decision d) {
    byte[] body = Denials.body(d);
    boolean head = request.method().equals(HttpMethod.HEAD);
    // a client waiting for 100 Continue sends no body; closing spares guessing where the next request starts
    boolean keepAlive = HttpUtil.isKeepAlive(request) && !HttpUtil.is100ContinueExpected(request);
    FullHttpResponse r = new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.valueOf(Denials.status(d)),
        head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, Denials.CONTENT_TYPE)
        .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(Denials.POLICY_HEADER, d.policy())
        .set(Denials.RULE_HEADER, d.rule());
    HttpUtil.setKeepAlive(r, keepAlive);
    ChannelFuture f = ctx.writeAndFlush(r);
    if (!keepAlive) {
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** A TLS client that finished its handshake without a certificate is counted and closed at once. */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess()) {
      SslHandler tls = ctx.pipeline().get(SslHandler.class);
      if (tls != null && TlsPeers.refusedWithoutCertificate(tls.engine().getSession(), meters)) {
        log.debug("Closed a TLS connection from {}: the client presented no certificate", ctx.channel().remoteAddress());
        ctx.close();
        return;
      }
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
    if (c instanceof SSLException || c instanceof NotSslRecordException) {
      log.debug("TLS handshake with {} failed (mTLS mode {}): {}", ctx.channel().remoteAddress(), mode, c.toString());
      ctx.close();
      return;
    }
    ctx.fireExceptionCaught(cause);
  }
}
