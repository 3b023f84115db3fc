package io.meshup.grpc.internal;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RoutePolicy;
import io.meshup.core.route.RouteTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call through the mesh. At {@code start} it matches a route with the call's method and
 * metadata, draws a weighted target, and runs attempts: breaker permit, endpoint pick, a call on
 * that endpoint's connection, outcome recorded. Until the server's first response headers arrive
 * the call is not committed: request messages are kept, so a failed attempt can be replayed on
 * another endpoint (transparently when it never reached a server, or per the route's retry policy
 * within the retry budget).
 *
 * <p>Threading: every state change runs in a per-call {@link SynchronizationContext}; the
 * application's listener is called from the attempt's call executor, or for MeshUp's own
 * failures from the call's executor, never concurrently. Nothing here blocks.
 */
final class MeshClientCall<ReqT, RespT> extends ClientCall<ReqT, RespT> implements RequestAttributes {
  private static final Logger log = LoggerFactory.getLogger(MeshClientCall.class);
  /** Replays for calls that never reached a server, beyond the route's retries. */
  static final int MAX_TRANSPARENT_RETRIES = 2;
  /** Request messages kept for replay; a call that sends more cannot be retried. */
  static final int MAX_BUFFERED_MESSAGES = 64;
  static final long BACKOFF_BASE_NANOS = TimeUnit.MILLISECONDS.toNanos(25);
  static final long BACKOFF_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  private final MeshManagedChannel channel;
  private final MethodDescriptor<ReqT, RespT> method;
  private final CallOptions callOptions;
  private final Executor callExecutor;
  private final SynchronizationContext sync;

  // Written in start() before any other task can run, then read-only.
  private Listener<RespT> listener;
  private Metadata headers;
  private RouteTarget target;
  private Deadline deadline;

  // Guarded by sync.
  private final List<ReqT> buffer = new ArrayList<>(1);
  private boolean bufferOverflow;
  private boolean halfClosed;
  private int requested;
  private boolean cancelled;
  private boolean closed;
  private int retries;
  private int transparentRetries;
  private EndpointHandle lastEndpoint;

  private volatile Attempt current;
  /**
   * The thread running an attempt's {@code onClose}, while it does: that thread is the delegate
   * call's callback executor (the caller's executor when it gave one), where the caller's listener
   * may be told at once instead of after another thread hop.
   */
  private volatile Thread attemptCallbackThread;
  private volatile boolean committed;

  MeshClientCall(MeshManagedChannel channel, MethodDescriptor<ReqT, RespT> method, CallOptions callOptions) {
    this.channel = channel;
    this.method = method;
    this.callOptions = callOptions;
    this.callExecutor = callOptions.getExecutor() != null ? callOptions.getExecutor() : channel.callbackExecutor();
    this.sync = new SynchronizationContext((t, e) ->
        log.error("Uncaught error in a MeshUp call to {}", channel.router().service(), e));
  }

  // ---- RequestAttributes ----------------------------------------------------------------

  @Override
  public String path() {
    return channel.path(method);
  }

  @Override
  public String method() {
    return "POST";
  }

  @Override
  public String header(String lowerCaseName) {
    if (lowerCaseName.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
      return null;
    }
    return headers.get(channel.key(lowerCaseName));
  }

  // ---- ClientCall -----------------------------------------------------------------------

  @Override
  public void start(Listener<RespT> responseListener, Metadata metadata) {
    this.listener = responseListener;
    this.headers = metadata;
    sync.execute(this::begin);
  }

  private void begin() {
    if (!channel.callStarted()) {
      closed = true;
      deliverClose(Status.UNAVAILABLE.withDescription("meshup: channel to " + channel.router().service() + " is shut down"), new Metadata());
      return;
    }
    target = channel.router().select(this);
    if (target == null) {
      finish(Status.UNIMPLEMENTED.withDescription("meshup: no route of service " + channel.router().service()
          + " matches " + path()), new Metadata());
      return;
    }
    RoutePolicy route = target.route();
    deadline = callOptions.getDeadline();
    if (route.timeoutNanos() > 0) {
      Deadline routeDeadline = Deadline.after(route.timeoutNanos(), TimeUnit.NANOSECONDS);
      deadline = deadline == null ? routeDeadline : deadline.minimum(routeDeadline);
    }
    FaultPolicy fault = route.fault();
    if (fault.drawAbort()) {
      Status s = fault.abortGrpcStatus() != null ? Status.fromCode(Status.Code.valueOf(fault.abortGrpcStatus()))
          : GrpcStatuses.fromHttp(fault.abortHttpStatus());
      finish(s.withDescription("meshup: fault injected by route " + route.name()), new Metadata());
      return;
    }
    if (fault.drawDelay()) {
      schedule(fault.delayNanos());
      return;
    }
    newAttempt();
  }

  private void schedule(long delayNanos) {
    channel.mesh().scheduler().schedule(() -> sync.execute(this::newAttempt), delayNanos, TimeUnit.NANOSECONDS);
  }

  private void newAttempt() {
    if (closed) {
      return;
    }
    if (cancelled) {
      finish(Status.CANCELLED.withDescription("meshup: cancelled before an attempt started"), new Metadata());
      return;
    }
    if (deadline != null && deadline.isExpired()) {
      finish(Status.DEADLINE_EXCEEDED.withDescription("meshup: deadline of route " + target.route().name()
          + " exceeded after " + (retries + transparentRetries) + " retries"), new Metadata());
      return;
    }
    Rejection rejection = target.tryAcquire();
    if (rejection != null) {
      finish(Status.UNAVAILABLE.withDescription("meshup: " + target.describe() + ": " + rejection.reason()
          + " (route " + target.route().name() + ")"), new Metadata());
      return;
    }
    EndpointHandle endpoint = target.pick(lastEndpoint);
    if (endpoint == null) {
      target.release();
      target.reject(Rejection.NO_ENDPOINTS);
      finish(Status.UNAVAILABLE.withDescription("meshup: " + target.describe() + ": " + Rejection.NO_ENDPOINTS.reason()), new Metadata());
      return;
    }
    ManagedChannel ch = channel.channelFor(endpoint, target.connectionSettings());
    if (ch == null) {
      target.release();
      finish(Status.UNAVAILABLE.withDescription("meshup: " + target.describe()
          + ": the DestinationRule sets trafficPolicy.tls.mode ISTIO_MUTUAL but this mesh has no certificates"
          + " (set mesh.tls.certificates)"), new Metadata());
      return;
    }
    Deadline attemptDeadline = deadline;
    boolean perTry = false;
    long perTryNanos = target.route().retries().perTryTimeoutNanos();
    if (perTryNanos > 0) {
      Deadline d = Deadline.after(perTryNanos, TimeUnit.NANOSECONDS);
      if (attemptDeadline == null || d.isBefore(attemptDeadline)) {
        attemptDeadline = d;
        perTry = true;
      }
    }
    Attempt a = new Attempt(endpoint, perTry);
    CallOptions options = callOptions.withDeadline(attemptDeadline).withStreamTracerFactory(a.tracerFactory);
    a.call = ch.newCall(method, options);
    current = a;
    lastEndpoint = endpoint;
    a.startNanos = target.begin(endpoint);
    Metadata copy = new Metadata();
    copy.merge(headers);
    a.call.start(a, copy);
    for (ReqT m : buffer) {
      a.call.sendMessage(m);
    }
    if (halfClosed) {
      a.call.halfClose();
    }
    if (requested > 0) {
      a.call.request(requested);
    }
  }

  @Override
  public void request(int numMessages) {
    sync.execute(() -> {
      requested += numMessages;
      Attempt a = current;
      if (a != null && !closed) {
        a.call.request(numMessages);
      }
    });
  }

  @Override
  public void cancel(String message, Throwable cause) {
    sync.execute(() -> {
      if (closed) {
        return;
      }
      cancelled = true;
      Attempt a = current;
      if (a != null && !a.done) {
        a.call.cancel(message, cause);
      } else if (target != null || listener != null) {
        finish(Status.CANCELLED.withDescription(message).withCause(cause), new Metadata());
      }
    });
  }

  @Override
  public void halfClose() {
    sync.execute(() -> {
      halfClosed = true;
      Attempt a = current;
      if (a != null && !closed) {
        a.call.halfClose();
      }
    });
  }

  @Override
  public void sendMessage(ReqT message) {
    sync.execute(() -> {
      if (!committed) {
        if (buffer.size() < MAX_BUFFERED_MESSAGES) {
          buffer.add(message);
        } else {
          bufferOverflow = true;
        }
      }
      Attempt a = current;
      if (a != null && !closed) {
        a.call.sendMessage(message);
      }
    });
  }

  @Override
  public boolean isReady() {
    Attempt a = current;
    return a != null && a.call.isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    Attempt a = current;
    if (a != null) {
      a.call.setMessageCompression(enabled);
    }
  }

  // ---- attempts -------------------------------------------------------------------------

  private void attemptClosed(Attempt a, Status status, Metadata trailers) {
    if (closed) {
      return;
    }
    if (status.isOk() || committed || cancelled) {
      finish(status, trailers);
      return;
    }
    boolean replayable = !bufferOverflow;
    if (replayable && !a.reachedServer && status.getCode() == Status.Code.UNAVAILABLE
        && transparentRetries < MAX_TRANSPARENT_RETRIES) {
      transparentRetries++;
      log.debug("{}: attempt on {} never reached the server ({}); replaying on another endpoint",
          target.describe(), a.endpoint.endpoint().id(), status);
      newAttempt();
      return;
    }
    boolean perTryTimedOut = a.perTryDeadline && status.getCode() == Status.Code.DEADLINE_EXCEEDED
        && (deadline == null || !deadline.isExpired());
    if (replayable && retries < target.route().retries().attempts()
        && GrpcStatuses.retriable(status.getCode(), target.route().retries(), method, perTryTimedOut)
        && (deadline == null || !deadline.isExpired())
        && target.tryRetry()) {
      retries++;
      long cap = Math.min(BACKOFF_MAX_NANOS, BACKOFF_BASE_NANOS << Math.min(retries - 1, 10));
      schedule(ThreadLocalRandom.current().nextLong(cap / 2, cap + 1));
      return;
    }
    finish(status, trailers);
  }

  private void finish(Status status, Metadata trailers) {
    if (closed) {
      return;
    }
    closed = true;
    buffer.clear();
    channel.callFinished();
    deliverClose(status, trailers);
  }

  /**
   * Tells the caller's listener. On the thread of an attempt's {@code onClose} (the delegate's
   * callback executor, where {@code onMessage} was delivered too) it is told at once; from anywhere
   * else (the caller's own thread in {@code start}, a timer) through the call's executor.
   */
  private void deliverClose(Status status, Metadata trailers) {
    Listener<RespT> l = listener;
    if (Thread.currentThread() == attemptCallbackThread) {
      l.onClose(status, trailers);
    } else {
      callExecutor.execute(() -> l.onClose(status, trailers));
    }
  }

  /** One try on one endpoint: the delegate call's listener, plus a tracer that sees the wire. */
  private final class Attempt extends Listener<RespT> {
    final EndpointHandle endpoint;
    final boolean perTryDeadline;
    ClientCall<ReqT, RespT> call;
    volatile long startNanos;
    volatile boolean waitedForConnection;
    volatile boolean reachedServer;
    volatile boolean done;
    final ClientStreamTracer.Factory tracerFactory = new ClientStreamTracer.Factory() {
      @Override
      public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata h) {
        return new ClientStreamTracer() {
          @Override
          public void createPendingStream() {
            waitedForConnection = true;
          }

          @Override
          public void streamCreated(io.grpc.Attributes transportAttrs, Metadata headers) {
            if (waitedForConnection) {
              // Time spent opening the connection is not the endpoint's latency: start the clock
              // for the balancer when the stream exists.
              startNanos = channel.mesh().clock().nanoTime();
            }
          }

          @Override
          public void outboundHeaders() {
            reachedServer = true;
          }
        };
      }
    };

    Attempt(EndpointHandle endpoint, boolean perTryDeadline) {
      this.endpoint = endpoint;
      this.perTryDeadline = perTryDeadline;
    }

    @Override
    public void onHeaders(Metadata h) {
      committed = true;
      listener.onHeaders(h);
    }

    @Override
    public void onMessage(RespT message) {
      committed = true;
      listener.onMessage(message);
    }

    @Override
    public void onReady() {
      if (current == this) {
        listener.onReady();
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      done = true;
      Outcome outcome = GrpcStatuses.outcome(status.getCode());
      target.record(endpoint, startNanos, outcome);
      attemptCallbackThread = Thread.currentThread();
      try {
        sync.execute(() -> attemptClosed(this, status, trailers));
      } finally {
        attemptCallbackThread = null;
      }
    }
  }
}
