package io.meshup.http.internal;

import io.meshup.core.route.InboundTelemetry;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.opentelemetry.context.Scope;
import java.util.ArrayDeque;

/**
 * Records each request of a {@code MeshNettyHttp} connection with the mesh's
 * {@link InboundTelemetry}: it sits just before the authorizing handler, so refused requests count
 * too; a request begins when its {@link HttpRequest} arrives (its messages are then handed on with
 * its trace context current, so the application's handler joins the trace), and ends when the last
 * part of its response is written, with the response's status. Pipelined requests are answered in
 * order, so they are matched to responses first in, first out. Runs on the connection's event
 * loop; not sharable.
 */
final class NettyTelemetryHandler extends ChannelDuplexHandler {
  static final String NAME = "meshup-telemetry";

  private static final InboundTelemetry.Headers<HttpRequest> HEADERS = new InboundTelemetry.Headers<>() {
    @Override
    public Iterable<String> names(HttpRequest r) {
      return r.headers().names();
    }

    @Override
    public String get(HttpRequest r, String name) {
      return r.headers().get(name);
    }
  };

  private final InboundTelemetry telemetry;
  /** Requests not answered yet, oldest first. */
  private final ArrayDeque<InboundTelemetry.Call> open = new ArrayDeque<>(2);
  /** The request whose messages are arriving. */
  private InboundTelemetry.Call reading;
  private int status;

  NettyTelemetryHandler(InboundTelemetry telemetry) {
    this.telemetry = telemetry;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest r) {
      reading = telemetry.begin(false, r.method().name(), r, HEADERS, NettyAuthorizingHandler.callerOf(ctx.pipeline()));
      open.add(reading);
    }
    InboundTelemetry.Call c = reading;
    if (c == null) {
      ctx.fireChannelRead(msg);
      return;
    }
    try (Scope s = c.makeCurrent()) {
      ctx.fireChannelRead(msg);
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof HttpResponse r) {
      status = r.status().code();
    }
    if (msg instanceof LastHttpContent) {
      InboundTelemetry.Call c = open.poll();
      if (c != null) {
        c.end(status);
      }
    }
    ctx.write(msg, promise);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    for (InboundTelemetry.Call c; (c = open.poll()) != null; ) {
      c.end(0);
    }
    reading = null;
    super.channelInactive(ctx);
  }
}
