package io.meshup.core.internal.trace;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.route.Outcome;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.TracerProvider;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.util.function.BiConsumer;

/**
 * MeshUp's spans, through OpenTelemetry's API: one per logical call (kind INTERNAL), one per
 * attempt below it (kind CLIENT: retries and replays are siblings), one per inbound call (kind
 * SERVER), and the trace context carried on the wire by the propagator the application's
 * {@link OpenTelemetry} configures (W3C {@code traceparent}/{@code tracestate} when it configures
 * none; B3 when it configures OpenTelemetry's B3 propagator).
 *
 * <p>Exists only when a tracer is installed ({@link #of}); with none, the engine and the servers
 * hold null and do nothing, allocating nothing. Thread-safe; a {@link CallTrace} belongs to one
 * call and is used in that call's serialized order.
 */
public final class Tracing {
  /** The instrumentation scope name of MeshUp's tracer. */
  public static final String SCOPE = "io.meshup";

  static final AttributeKey<String> SERVICE = AttributeKey.stringKey("meshup.service");
  static final AttributeKey<String> ROUTE = AttributeKey.stringKey("meshup.route");
  static final AttributeKey<String> SUBSET = AttributeKey.stringKey("meshup.subset");
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("meshup.outcome");
  static final AttributeKey<String> FAILURE = AttributeKey.stringKey("meshup.failure");
  static final AttributeKey<Long> ATTEMPT = AttributeKey.longKey("meshup.attempt");
  static final AttributeKey<Long> ATTEMPTS = AttributeKey.longKey("meshup.attempts");
  static final AttributeKey<String> ATTEMPT_END = AttributeKey.stringKey("meshup.attempt.end");
  static final AttributeKey<String> CALLER = AttributeKey.stringKey("meshup.caller");
  static final AttributeKey<String> RPC_SYSTEM = AttributeKey.stringKey("rpc.system");
  static final AttributeKey<String> HTTP_METHOD = AttributeKey.stringKey("http.request.method");
  static final AttributeKey<Long> HTTP_STATUS = AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<Long> GRPC_STATUS = AttributeKey.longKey("rpc.grpc.status_code");
  static final AttributeKey<Long> RESEND_COUNT = AttributeKey.longKey("http.request.resend_count");
  static final AttributeKey<String> SERVER_ADDRESS = AttributeKey.stringKey("server.address");
  static final AttributeKey<Long> SERVER_PORT = AttributeKey.longKey("server.port");

  private static final TextMapSetter<BiConsumer<String, String>> SETTER = (sink, key, value) -> {
    if (sink != null) {
      sink.accept(key, value);
    }
  };

  private final Tracer tracer;
  private final TextMapPropagator propagator;

  private Tracing(OpenTelemetry otel) {
    this.tracer = otel.getTracer(SCOPE);
    TextMapPropagator p = otel.getPropagators().getTextMapPropagator();
    this.propagator = p == TextMapPropagator.noop() ? W3CTraceContextPropagator.getInstance() : p;
  }

  /**
   * The tracing of a mesh: through {@code otel} when given, else through the global OpenTelemetry
   * when one was installed (the OpenTelemetry Java agent, or {@code GlobalOpenTelemetry.set}); null
   * when neither has a tracer, and then nothing is traced.
   */
  public static Tracing of(OpenTelemetry otel) {
    OpenTelemetry o = otel;
    if (o == null) {
      if (!GlobalOpenTelemetry.isSet()) {
        return null;
      }
      o = GlobalOpenTelemetry.get();
    }
    if (o.getTracerProvider() == TracerProvider.noop()) {
      return null;
    }
    return new Tracing(o);
  }

  /** The propagator that carries trace context on the wire. */
  public TextMapPropagator propagator() {
    return propagator;
  }

  /** A trace for a logical call whose parent is the caller's current context (read on its thread). */
  public CallTrace newCall() {
    return new CallTrace(Context.current());
  }

  /**
   * Starts the SERVER span of an inbound call, child of the trace context its headers carry; returns
   * that context with the span in it ({@link Span#fromContext} gives the span).
   *
   * @param name the span name ({@code package.Service/Method}, {@code GET})
   */
  public <C> Context startServer(String name, boolean grpc, C carrier, TextMapGetter<C> getter) {
    Context parent = propagator.extract(Context.root(), carrier, getter);
    Span span = tracer.spanBuilder(name).setParent(parent).setSpanKind(SpanKind.SERVER)
        .setAttribute(RPC_SYSTEM, grpc ? "grpc" : null).startSpan();
    return parent.with(span);
  }

  /** Ends a SERVER span with the status the server answered and the caller's service (or null). */
  public static void endServer(Span span, boolean grpc, int status, String caller) {
    if (caller != null) {
      span.setAttribute(CALLER, caller);
    }
    if (grpc) {
      span.setAttribute(GRPC_STATUS, status);
      if (status != 0) {
        span.setStatus(StatusCode.ERROR);
      }
    } else {
      span.setAttribute(HTTP_STATUS, status);
      if (status >= 500) {
        span.setStatus(StatusCode.ERROR);
      }
    }
    span.end();
  }

  /**
   * The spans of one logical call: created when the call starts (its parent is then read), used in
   * the call's serialized order. Not thread-safe.
   */
  public final class CallTrace {
    private final Context parent;
    private Span call;
    private Context callContext;
    private Span attempt;
    private Context attemptContext;
    private boolean grpc;
    private String name;

    CallTrace(Context parent) {
      this.parent = parent;
    }

    /**
     * The call begins: its INTERNAL span opens, named as OpenTelemetry's conventions name RPC and
     * HTTP client spans: {@code package.Service/Method}, or {@code GET payments}.
     */
    public void callStarted(String service, boolean grpc, String path, String method) {
      this.grpc = grpc;
      this.name = grpc ? (path.startsWith("/") ? path.substring(1) : path) : method + " " + service;
      call = tracer.spanBuilder(name).setParent(parent).setSpanKind(SpanKind.INTERNAL)
          .setAttribute(SERVICE, service)
          .setAttribute(RPC_SYSTEM, grpc ? "grpc" : null)
          .setAttribute(HTTP_METHOD, grpc ? null : method)
          .startSpan();
      callContext = parent.with(call);
    }

    /** The call was routed. */
    public void routed(String route, String subset) {
      if (call != null) {
        call.setAttribute(ROUTE, route);
        call.setAttribute(SUBSET, subset.isEmpty() ? "all" : subset);
      }
    }

    /** Attempt {@code n} begins on {@code host:port}: its CLIENT span opens, a sibling of those before it. */
    public void attemptStarted(int n, String host, int port) {
      if (call == null) {
        return;
      }
      endAttempt(null, 0, null);
      io.opentelemetry.api.trace.SpanBuilder b = tracer.spanBuilder(name).setParent(callContext)
          .setSpanKind(SpanKind.CLIENT)
          .setAttribute(ATTEMPT, n);
      if (!grpc) {
        b.setAttribute(RESEND_COUNT, n - 1L);
      }
      attempt = b
          .setAttribute(SERVER_ADDRESS, host)
          .setAttribute(SERVER_PORT, port)
          .startSpan();
      attemptContext = callContext.with(attempt);
    }

    /** Writes the current attempt's trace context as headers, through the mesh's propagator. */
    public void inject(BiConsumer<String, String> sink) {
      Context c = attemptContext != null ? attemptContext : callContext;
      if (c != null) {
        propagator.inject(c, sink, SETTER);
      }
    }

    /** The current attempt ended: how, the code it reported (for {@link AttemptEnd#STATUS}), and its outcome. */
    public void attemptEnded(AttemptEnd end, int code, Outcome outcome) {
      endAttempt(end, code, outcome);
    }

    private void endAttempt(AttemptEnd end, int code, Outcome outcome) {
      Span a = attempt;
      if (a == null) {
        return;
      }
      attempt = null;
      attemptContext = null;
      if (end != null) {
        a.setAttribute(ATTEMPT_END, end.name().toLowerCase(java.util.Locale.ROOT));
        if (end == AttemptEnd.STATUS) {
          a.setAttribute(grpc ? GRPC_STATUS : HTTP_STATUS, code);
        }
      }
      if (outcome != null) {
        a.setAttribute(OUTCOME, outcome.tag());
        if (outcome == Outcome.FAILURE || outcome == Outcome.TIMEOUT) {
          a.setStatus(StatusCode.ERROR);
        }
      }
      a.end();
    }

    /**
     * The call ended: with {@code outcome} (null when the mesh refused it), after {@code attempts}
     * attempts, {@code failure} naming what the engine decided (or null when the last attempt's
     * own result stands).
     */
    public void callEnded(Outcome outcome, int attempts, String failure) {
      endAttempt(null, 0, null);
      Span c = call;
      if (c == null) {
        return;
      }
      call = null;
      c.setAttribute(ATTEMPTS, attempts);
      c.setAttribute(OUTCOME, outcome == null ? "rejected" : outcome.tag());
      if (failure != null) {
        c.setAttribute(FAILURE, failure);
      }
      if (outcome == null || outcome == Outcome.FAILURE || outcome == Outcome.TIMEOUT) {
        c.setStatus(StatusCode.ERROR, failure);
      }
      c.end();
    }
  }
}
