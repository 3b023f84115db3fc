package io.meshup.core.route;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.internal.trace.Tracing;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * What this service's servers record of each inbound call, the same way for every transport: the
 * timer {@code mesh.server.requests} (tags {@code protocol}, {@code caller}: the caller's service
 * or service account from its verified SPIFFE ID, {@code unauthenticated} on plaintext; and
 * {@code status}: the gRPC code name, or the HTTP status class {@code 2xx}...), and, when a tracer
 * is installed, a SERVER span that continues the trace context the caller sent. Transports call
 * {@link #begin} when a call arrives, run the application's handler within {@link Call#makeCurrent}
 * (so calls it makes through the mesh are children of this one), and {@link Call#end} once when the
 * call is answered.
 *
 * <p>Thread-safe. Meters are registered on first use of a (caller, status) pair and cached; at
 * most {@value #MAX_CALLERS} callers are told apart, the rest count as {@code other}.
 */
public final class InboundTelemetry {
  /** Callers told apart in {@code mesh.server.requests}; beyond, tag {@code other}. */
  public static final int MAX_CALLERS = 256;

  private static final String[] GRPC_CODES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  private static final String[] HTTP_CLASSES = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

  private final MeterRegistry registry;
  private final MeshClock clock;
  private final Tracing tracing;
  private final ConcurrentHashMap<String, Timer[]> grpc = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Timer[]> http = new ConcurrentHashMap<>();
  /** mesh.server.bytes{protocol=grpc}: sent, received; registered on first use. */
  private volatile io.micrometer.core.instrument.Counter[] grpcBytes;

  /** For the mesh; transports get theirs from {@code Mesh.inboundTelemetry()}. */
  public InboundTelemetry(MeterRegistry registry, MeshClock clock, Tracing tracing) {
    this.registry = registry;
    this.clock = clock;
    this.tracing = tracing;
  }

  /** Reads a transport's request headers for trace context. */
  public interface Headers<C> {
    /** The header names (lower or mixed case). */
    Iterable<String> names(C carrier);

    /** The first value of a header, by lower-case name; null when absent. */
    String get(C carrier, String lowerCaseName);
  }

  /**
   * A call arrived.
   *
   * @param grpc gRPC (status codes are gRPC's) or HTTP (status codes are HTTP's)
   * @param spanName {@code package.Service/Method}, or the HTTP method
   * @param caller the caller's verified identity, or null on plaintext
   */
  public <C> Call begin(boolean grpc, String spanName, C carrier, Headers<C> headers, WorkloadIdentity caller) {
    long start = clock.nanoTime();
    String callerTag = caller == null ? "unauthenticated"
        : caller.isServiceAccount() ? caller.serviceAccount() : caller.service();
    if (tracing == null) {
      return new Call(grpc, start, callerTag, null, null);
    }
    Context context = tracing.startServer(spanName, grpc, carrier, new Getter<>(headers));
    return new Call(grpc, start, callerTag, Span.fromContext(context), context);
  }

  /** Counts bytes inbound gRPC calls put on ({@code sent}) or took off ({@code received}) the wire. Any thread. */
  public void grpcBytes(long sent, long received) {
    io.micrometer.core.instrument.Counter[] c = grpcBytes;
    if (c == null) {
      c = new io.micrometer.core.instrument.Counter[2];
      for (int i = 0; i < 2; i++) {
        c[i] = io.micrometer.core.instrument.Counter.builder(Metrics.SERVER_BYTES)
            .description("Bytes on the wire of inbound calls (gRPC's wire sizes), sent or received").baseUnit("bytes")
            .tags("protocol", "grpc", "direction", i == 0 ? "sent" : "received").register(registry);
      }
      grpcBytes = c;
    }
    if (sent > 0) {
      c[0].increment(sent);
    }
    if (received > 0) {
      c[1].increment(received);
    }
  }

  private Timer timer(boolean isGrpc, String caller, int status) {
    ConcurrentHashMap<String, Timer[]> byCaller = isGrpc ? grpc : http;
    Timer[] timers = byCaller.get(caller);
    if (timers == null) {
      String key = byCaller.size() >= MAX_CALLERS ? "other" : caller;
      timers = byCaller.computeIfAbsent(key, k -> new Timer[isGrpc ? GRPC_CODES.length + 1 : HTTP_CLASSES.length]);
      caller = key;
    }
    int i;
    String statusTag;
    if (isGrpc) {
      i = status >= 0 && status < GRPC_CODES.length ? status : GRPC_CODES.length;
      statusTag = i < GRPC_CODES.length ? GRPC_CODES[i] : "other";
    } else {
      i = status >= 100 && status < 600 ? status / 100 : 0;
      statusTag = HTTP_CLASSES[i];
    }
    Timer t = timers[i];
    if (t == null) {
      t = Metrics.latencyTimer(Metrics.SERVER_REQUESTS, "Inbound calls this service's servers answered, by caller and status")
          .tags("protocol", isGrpc ? "grpc" : "http", "caller", Metrics.tag(caller), "status", statusTag)
          .register(registry);
      timers[i] = t;
    }
    return t;
  }

  /** One inbound call. Its methods may run on any thread; {@link #end} counts once. */
  public final class Call {
    private final boolean isGrpc;
    private final long start;
    private final String caller;
    private final Span span;
    private final Context context;
    private volatile boolean ended;

    Call(boolean isGrpc, long start, String caller, Span span, Context context) {
      this.isGrpc = isGrpc;
      this.start = start;
      this.caller = caller;
      this.span = span;
      this.context = context;
    }

    /** Makes this call's trace context current on this thread until the scope is closed. */
    public Scope makeCurrent() {
      return context == null ? Scope.noop() : context.makeCurrent();
    }

    /** The call was answered with {@code status} (gRPC code value, or HTTP status; 0 for HTTP when unknown). */
    public void end(int status) {
      if (ended) {
        return;
      }
      ended = true;
      timer(isGrpc, caller, status).record(clock.nanoTime() - start, TimeUnit.NANOSECONDS);
      if (span != null) {
        Tracing.endServer(span, isGrpc, status, caller);
      }
    }
  }

  private static final class Getter<C> implements TextMapGetter<C> {
    private final Headers<C> headers;

    Getter(Headers<C> headers) {
      this.headers = headers;
    }

    @Override
    public Iterable<String> keys(C carrier) {
      return headers.names(carrier);
    }

    @Override
    public String get(C carrier, String key) {
      return carrier == null ? null : headers.get(carrier, key.toLowerCase(java.util.Locale.ROOT));
    }
  }
}
