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
 * {@link HttpRequest}: an allowed one goes on (with the headers its decision sets or removes); a
 * refused one is answered per {@link Denials} and neither it nor its body goes further; one an
 * external authorizer must decide is held with everything that follows it on the connection,
 * reading paused, until the answer comes back to the event loop. TLS handshake failures are logged at
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
  private final io.meshup.core.route.InboundTelemetry telemetry;

  /**
   * @param ssl the server TLS context, or null when the mesh has no certificates (plaintext only)
   */
  NettyAuthorizingHandler(InboundAuthorizer authorizer, MtlsMode mode, SslContext ssl, ConnectionAdmission admission,
      RequestTargets targets, MeterRegistry meters, io.meshup.core.route.InboundTelemetry telemetry) {
    this.telemetry = telemetry;
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
    // just before this one: refused requests are timed too (mesh.server.requests, SERVER spans)
    if (p.get(NettyTelemetryHandler.NAME) == null) {
      p.addBefore(ctx.name(), NettyTelemetryHandler.NAME, new NettyTelemetryHandler(telemetry));
    }
  }

  /** The verified identity of the TLS peer of this pipeline, or null when it is plaintext. */
  static WorkloadIdentity callerOf(ChannelPipeline pipeline) {
    SslHandler h = pipeline.get(SslHandler.class);
    return h == null ? null : TlsPeers.identityOf(h.engine().getSession());
  }

  /** Messages that arrived while a request waits for an external authorizer; null when none waits. */
  private java.util.ArrayDeque<Object> held;
  /** The view of the current request, reused for every request of the connection. */
  private final View view = new View();

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (held != null) {
      held.add(msg);
      return;
    }
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
      view.set(ctx, request, caller, path, method, uri);
      InboundAuthorizer.Decision d;
      try {
        d = authorizer.authorize(view);
      } finally {
        view.clear();
      }
      if (d.kind() == InboundAuthorizer.Kind.PENDING) {
        // hold this request and what follows it until the external authorizer answers; read no more meanwhile
        held = new java.util.ArrayDeque<>();
        ctx.channel().config().setAutoRead(false);
        String heldPath = path;
        d.pending().whenComplete((f, error) -> ctx.executor().execute(() -> resume(ctx, request, uri, heldPath,
            f != null ? f : Denials.UNDECIDED)));
        return;
      }
      decided(ctx, request, uri, path, d);
      return;
    }
    if (dropping && msg instanceof HttpContent) {
      dropping = !(msg instanceof LastHttpContent);
      ReferenceCountUtil.release(msg);
      return;
    }
    ctx.fireChannelRead(msg);
  }

  /** Applies a decision to the request {@code request} (whose first message it is). */
  private void decided(ChannelHandlerContext ctx, HttpRequest request, String uri, String path, InboundAuthorizer.Decision d) {
    if (d.allowed()) {
      dropping = false;
      if (!unchanged(uri, path)) {
        int q = uri.indexOf('?');
        request.setUri(q < 0 ? path : path + uri.substring(q));
      }
      for (String h : d.requestHeadersToRemove()) {
        request.headers().remove(h);
      }
      for (java.util.Map.Entry<String, String> h : d.requestHeadersToSet()) {
        request.headers().set(h.getKey(), h.getValue());
      }
      ctx.fireChannelRead(request);
      return;
    }
    try {
      refuse(ctx, request, d);
    } finally {
      dropping = !(request instanceof LastHttpContent);
      ReferenceCountUtil.release(request);
    }
  }

  /** The external authorizer answered: apply it, then go on with what arrived meanwhile. On the event loop. */
  private void resume(ChannelHandlerContext ctx, HttpRequest request, String uri, String path, InboundAuthorizer.Decision d) {
    java.util.ArrayDeque<Object> queue = held;
    held = null;
    if (!ctx.channel().isActive()) {
      ReferenceCountUtil.release(request);
      queue.forEach(ReferenceCountUtil::release);
      return;
    }
    decided(ctx, request, uri, path, d);
    while (!queue.isEmpty()) {
      Object next = queue.poll();
      channelRead(ctx, next);
      if (held != null) {
        held.addAll(queue);
        return;
      }
    }
    ctx.channel().config().setAutoRead(true);
    ctx.read();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    java.util.ArrayDeque<Object> queue = held;
    if (queue != null) {
      queue.forEach(ReferenceCountUtil::release);
      queue.clear();
    }
    super.channelInactive(ctx);
  }

  /** What the authorizer reads of a Netty request; set for one decision, then cleared. */
  private static final class View implements InboundAuthorizer.Request {
    private ChannelHandlerContext ctx;
    private HttpRequest request;
    private WorkloadIdentity caller;
    private String path;
    private String method;
    private String uri;

    void set(ChannelHandlerContext ctx, HttpRequest request, WorkloadIdentity caller, String path, String method, String uri) {
      this.ctx = ctx;
      this.request = request;
      this.caller = caller;
      this.path = path;
      this.method = method;
      this.uri = uri;
    }

    void clear() {
      ctx = null;
      request = null;
    }

    @Override public WorkloadIdentity caller() { return caller; }
    @Override public String path() { return path; }
    @Override public String method() { return method; }

    @Override
    public String query() {
      int q = uri.indexOf('?');
      return q < 0 ? null : uri.substring(q + 1);
    }

    @Override
    public String header(String name) {
      String first = request.headers().get(name);
      if (first == null) {
        return null;
      }
      java.util.List<String> all = request.headers().getAll(name);
      return all.size() == 1 ? first : String.join(",", all);
    }

    @Override
    public java.util.List<String> headerNames() {
      return request.headers().names().stream().map(n -> n.toLowerCase(java.util.Locale.ROOT)).distinct().toList();
    }

    @Override
    public String host() {
      return request.headers().get(HttpHeaderNames.HOST);
    }

    @Override
    public java.net.InetAddress sourceAddress() {
      return ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a ? a.getAddress() : null;
    }

    @Override
    public int sourcePort() {
      return ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a ? a.getPort() : 0;
    }

    @Override
    public java.net.InetAddress destinationAddress() {
      return ctx.channel().localAddress() instanceof java.net.InetSocketAddress a ? a.getAddress() : null;
    }

    @Override
    public int destinationPort() {
      return ctx.channel().localAddress() instanceof java.net.InetSocketAddress a ? a.getPort() : 0;
    }

    @Override
    public String serverName() {
      SslHandler tls = ctx.pipeline().get(SslHandler.class);
      return tls == null ? null : TlsPeers.serverName(tls.engine().getSession());
    }

    @Override
    public String scheme() {
      return ctx.pipeline().get(SslHandler.class) == null ? "http" : "https";
    }

    @Override
    public String protocol() {
      return request.protocolVersion().text();
    }
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
    java.util.List<java.util.Map.Entry<String, String>> extra = d.responseHeaders();
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
    for (java.util.Map.Entry<String, String> h : extra) {
      r.headers().add(h.getKey(), h.getValue());
    }
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
