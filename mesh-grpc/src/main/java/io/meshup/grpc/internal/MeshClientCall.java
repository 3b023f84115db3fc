package io.meshup.grpc.internal;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientStreamTracer;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.EngineCall;
import io.meshup.core.call.Protocol;
import io.meshup.core.call.ReplayBudget;
import java.util.ArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;

/**
 * One logical gRPC call through the mesh: a {@link ClientCall} whose lifecycle the core's call
 * engine runs ({@link EngineCall}); this class only adapts grpc-java to it. Each attempt is a call
 * on the shared connection to the endpoint the engine picked, started in the caller's
 * {@link Context} (so its deadline, cancellation and values reach every attempt, retries included)
 * with the attempt's deadline, which the server sees as {@code grpc-timeout}.
 *
 * <p>Until the call commits (the first response headers or message), request messages are kept so
 * an attempt can be replayed; they are counted in bytes against {@link ReplayBudget} (1 MiB per call,
 * 16 MiB per channel), and a call over either bound drops them and is not tried again. They are
 * dropped as soon as the call commits.
 *
 * <p>Threading: the caller's operations and the attempts' events run in the engine's serialized
 * order for the call. The caller's listener is called from the attempt's callback executor (the
 * caller's executor when it gave one), or for MeshUp's own failures from the call's executor, never
 * concurrently. Nothing here blocks.
 */
final class MeshClientCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private static final AtomicLongFieldUpdater<MeshClientCall> KEPT =
      AtomicLongFieldUpdater.newUpdater(MeshClientCall.class, "keptBytes");

  private final MeshManagedChannel channel;
  private final MethodDescriptor<ReqT, RespT> method;
  private final CallOptions callOptions;
  private final Executor callExecutor;
  private final Logical logical;
  private final ClientStreamTracer.Factory tracers = new ClientStreamTracer.Factory() {
    @Override
    public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata h) {
      return new Tracer(current);
    }
  };

  /** Links of the channel's list of calls in flight; guarded by the channel. */
  MeshClientCall<?, ?> prev;
  MeshClientCall<?, ?> next;

  // Written in start() before the engine runs, then read-only.
  private Listener<RespT> listener;
  private Metadata headers;
  private Context context;
  private Context.CancellationListener contextListener;

  // In the engine's serialized order.
  private ArrayList<ReqT> kept;
  private boolean keeping = true;
  private boolean halfClosed;
  private int requested;
  private int compression; // 0 unset, 1 on, 2 off

  private volatile long keptBytes;
  private volatile Attempt current;
  private volatile boolean committed;
  private volatile boolean closed;
  /** The thread running an attempt's {@code onClose}: there the caller's listener is told at once. */
  private volatile Thread callbackThread;
  // the caller's own misuse, checked on its thread as grpc-java does
  private boolean startCalled;
  private boolean halfCloseCalled;
  private boolean cancelCalled;

  MeshClientCall(MeshManagedChannel channel, MethodDescriptor<ReqT, RespT> method, CallOptions callOptions,
      Executor callExecutor) {
    this.channel = channel;
    this.method = method;
    this.callOptions = callOptions;
    this.callExecutor = callExecutor;
    this.logical = new Logical();
  }

  // ---- ClientCall -------------------------------------------------------------------------------

  @Override
  public void start(Listener<RespT> responseListener, Metadata metadata) {
    if (startCalled) {
      throw new IllegalStateException("Already started");
    }
    startCalled = true;
    this.listener = responseListener;
    this.headers = metadata;
    this.context = Context.current();
    if (!channel.callStarted(this)) {
      closed = true;
      callExecutor.execute(() -> responseListener.onClose(Status.UNAVAILABLE.withDescription("meshup: channel to "
          + channel.service() + " is shut down"), new Metadata()));
      return;
    }
    if (context.isCancelled()) {
      logical.cancel("Context cancelled", context.cancellationCause());
    } else if (context.getDeadline() != null || context != Context.ROOT) {
      contextListener = c -> {
        Throwable cause = c.cancellationCause();
        if (!(cause instanceof TimeoutException)) { // a passed deadline is the engine's to report
          logical.cancel("Context cancelled", cause);
        }
      };
      context.addListener(contextListener, Runnable::run);
    }
    Deadline deadline = callOptions.getDeadline();
    Deadline inherited = context.getDeadline();
    if (inherited != null && (deadline == null || inherited.isBefore(deadline))) {
      deadline = inherited;
    }
    MethodDescriptor.MethodType type = method.getType();
    long now = channel.engine().clock().nanoTime();
    logical.start(deadline == null ? 0 : now + deadline.timeRemaining(TimeUnit.NANOSECONDS), deadline != null,
        method.isIdempotent() || method.isSafe(), type != MethodDescriptor.MethodType.UNARY);
  }

  @Override
  public void request(int numMessages) {
    logical.request(numMessages);
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (cancelCalled) {
      return;
    }
    cancelCalled = true;
    logical.cancel(message, cause);
  }

  @Override
  public void halfClose() {
    if (halfCloseCalled) {
      throw new IllegalStateException("call already half-closed");
    }
    halfCloseCalled = true;
    logical.halfClose();
  }

  @Override
  public void sendMessage(ReqT message) {
    if (halfCloseCalled) {
      throw new IllegalStateException("call was half-closed");
    }
    logical.send(message);
  }

  @Override
  public boolean isReady() {
    Attempt a = current;
    return a != null && !closed && a.live && a.call.isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    logical.compression(enabled);
  }

  @Override
  public Attributes getAttributes() {
    Attempt a = current;
    return a == null ? Attributes.EMPTY : a.call.getAttributes();
  }

  // ---- delivery ---------------------------------------------------------------------------------

  private void deliverClose(Status status, Metadata trailers) {
    if (closed) {
      return;
    }
    closed = true;
    if (contextListener != null) {
      context.removeListener(contextListener);
    }
    release();
    channel.callFinished(this);
    Listener<RespT> l = listener;
    if (Thread.currentThread() == callbackThread) {
      l.onClose(status, trailers);
    } else {
      callExecutor.execute(() -> l.onClose(status, trailers));
    }
  }

  /** Stops keeping messages for replay and gives their bytes back. */
  private void release() {
    kept = null;
    keeping = false;
    long bytes = KEPT.getAndSet(this, -1);
    if (bytes > 0) {
      channel.replayBudget().release(bytes);
    }
  }

  /**
   * Counts the bytes of a message the caller sent (not one an attempt replayed) against the replay
   * bounds; over them, the call stops keeping messages. Runs on any thread; {@code keptBytes} is -1
   * once nothing is kept any more.
   */
  private void counted(long bytes) {
    ReplayBudget budget = channel.replayBudget();
    for (;;) {
      long have = keptBytes;
      if (have < 0 || committed || closed) {
        return;
      }
      if (!budget.reserve(have, bytes)) {
        if (KEPT.compareAndSet(this, have, -1)) {
          budget.release(have);
          logical.overBudget();
          return;
        }
        continue;
      }
      if (KEPT.compareAndSet(this, have, have + bytes)) {
        return;
      }
      budget.release(bytes);
    }
  }

  static Status status(CallFailure f) {
    Status s;
    switch (f.kind()) {
      case NO_ROUTE:
        s = Status.UNIMPLEMENTED;
        break;
      case DEADLINE_EXCEEDED:
      case ATTEMPT_TIMEOUT:
        s = Status.DEADLINE_EXCEEDED;
        break;
      case CANCELLED:
        s = Status.CANCELLED;
        break;
      case FAULT_ABORT:
        s = f.abortGrpcStatus() != null ? Status.fromCode(Status.Code.valueOf(f.abortGrpcStatus()))
            : GrpcStatuses.fromHttp(f.abortHttpStatus());
        break;
      case INTERNAL:
        s = Status.INTERNAL;
        break;
      default: // REJECTED, NO_CERTIFICATES, SHUT_DOWN
        s = Status.UNAVAILABLE;
        break;
    }
    return s.withDescription(f.message()).withCause(f.cause());
  }

  // ---- the engine's side -----------------------------------------------------------------------

  /** The logical call as the engine runs it. */
  private final class Logical extends EngineCall {
    Logical() {
      super(channel.engine(), channel.router(), Protocol.GRPC);
    }

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

    @Override
    protected boolean detectsUnresponsivePeers() {
      return true; // HTTP/2 keepalive pings on every mesh connection
    }

    @Override
    protected boolean enforcesDeadlineThroughResponse() {
      return true;
    }

    // The caller's operations run inline when nothing else runs for the call (no task allocated),
    // else they queue behind what does.

    void request(int n) {
      if (tryEnterSerial()) {
        try {
          doRequest(n);
        } catch (RuntimeException | Error e) {
          failInternally(e);
        } finally {
          exitSerial();
        }
      } else {
        serialized(() -> doRequest(n));
      }
    }

    private void doRequest(int n) {
      requested += n;
      Attempt a = current;
      if (a != null && a.live) {
        a.call.request(n);
      }
    }

    void halfClose() {
      if (tryEnterSerial()) {
        try {
          doHalfClose();
        } catch (RuntimeException | Error e) {
          failInternally(e);
        } finally {
          exitSerial();
        }
      } else {
        serialized(this::doHalfClose);
      }
    }

    private void doHalfClose() {
      halfClosed = true;
      Attempt a = current;
      if (a != null && a.live) {
        a.call.halfClose();
      }
    }

    void send(ReqT message) {
      if (tryEnterSerial()) {
        try {
          doSend(message);
        } catch (RuntimeException | Error e) {
          failInternally(e);
        } finally {
          exitSerial();
        }
      } else {
        serialized(() -> doSend(message));
      }
    }

    private void doSend(ReqT message) {
      if (closed) {
        return;
      }
      if (keeping && !committed) {
        if (kept == null) {
          kept = new ArrayList<>(2);
        }
        kept.add(message);
      }
      Attempt a = current;
      if (a != null && a.live) {
        a.call.sendMessage(message);
      }
    }

    void compression(boolean enabled) {
      serialized(() -> {
        compression = enabled ? 1 : 2;
        Attempt a = current;
        if (a != null && a.live) {
          a.call.setMessageCompression(enabled);
        }
      });
    }

    /** Over the replay bounds: drop what was kept; the engine tries nothing again. */
    void overBudget() {
      serialized(() -> {
        if (keeping) {
          kept = null;
          keeping = false;
          stopReplays();
        }
      });
    }

    @Override
    protected void startAttempt() {
      Attempt a = new Attempt(attempt());
      Attempt previous = current;
      if (previous != null) {
        previous.live = false;
      }
      current = a;
      ManagedChannel connection;
      try {
        connection = channel.connections().connection(endpoint(), connectionSettings());
      } catch (RuntimeException e) {
        a.fail(Status.UNAVAILABLE.withDescription("meshup: " + target().describe() + ": no connection to "
            + endpoint().endpoint().authority() + ": " + e.getMessage()).withCause(e), AttemptEnd.NOT_SENT);
        return;
      }
      long timeout = attemptTimeoutNanos();
      CallOptions options = callOptions.withStreamTracerFactory(tracers);
      if (timeout > 0) {
        options = options.withDeadline(Deadline.after(timeout, TimeUnit.NANOSECONDS));
      } else if (options.getDeadline() != null) {
        options = options.withDeadline(null); // the engine's deadline is the call's; none here
      }
      a.call = connection.newCall(method, options);
      Metadata copy = new Metadata();
      copy.merge(headers);
      if (traced()) {
        traceHeaders((k, v) -> {
          Metadata.Key<String> key = Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER);
          copy.removeAll(key);
          copy.put(key, v);
        });
      }
      Context previousContext = context.attach();
      try {
        a.call.start(a, copy);
      } finally {
        context.detach(previousContext);
      }
      if (kept != null) {
        a.replayed = kept.size();
        for (ReqT m : kept) {
          a.call.sendMessage(m);
        }
      }
      if (compression != 0) {
        a.call.setMessageCompression(compression == 1);
      }
      if (halfClosed) {
        a.call.halfClose();
      }
      if (requested > 0) {
        a.call.request(requested);
      }
    }

    @Override
    protected void cancelAttempt(CallFailure why) {
      Attempt a = current;
      if (a != null && a.call != null) {
        a.call.cancel(why.message(), why.cause());
      }
    }

    @Override
    protected void committed() {
      release();
    }

    @Override
    protected void completeWithAttempt() {
      Attempt a = current;
      deliverClose(a.status, a.trailers);
    }

    @Override
    protected void fail(CallFailure failure) {
      deliverClose(status(failure), new Metadata());
    }
  }

  /** One try on one endpoint: the listener of its call on the endpoint's connection. */
  private final class Attempt extends Listener<RespT> {
    final int number;
    ClientCall<ReqT, RespT> call;
    /** Messages replayed at its start, whose bytes were counted already. */
    int replayed;
    /** False once a later attempt replaced it. */
    volatile boolean live = true;
    volatile boolean waitedForConnection;
    volatile boolean headersSent;
    volatile boolean responded;
    Status status;
    Metadata trailers;

    Attempt(int number) {
      this.number = number;
    }

    private void commit() {
      if (!committed) {
        committed = true;
        logical.attemptCommitted(number);
      }
    }

    @Override
    public void onHeaders(Metadata h) {
      commit();
      if (!closed) {
        listener.onHeaders(h);
      }
    }

    @Override
    public void onMessage(RespT message) {
      commit();
      if (!closed) {
        listener.onMessage(message);
      }
    }

    @Override
    public void onReady() {
      if (current == this && !closed) {
        listener.onReady();
      }
    }

    @Override
    public void onClose(Status s, Metadata t) {
      status = s;
      trailers = t;
      callbackThread = Thread.currentThread();
      try {
        logical.attemptClosed(number, end(s), s.getCode().value());
      } finally {
        callbackThread = null;
      }
    }

    /** Ends the attempt before it had a call (no connection could be had). */
    void fail(Status s, AttemptEnd end) {
      status = s;
      trailers = new Metadata();
      logical.attemptClosed(number, end, s.getCode().value());
    }

    /** How the attempt ended, from its status and what its stream saw on the wire. */
    private AttemptEnd end(Status s) {
      if (responded) {
        return AttemptEnd.STATUS;
      }
      switch (s.getCode()) {
        case OK:
          return AttemptEnd.STATUS;
        case UNAVAILABLE:
          if (!headersSent) {
            return AttemptEnd.NOT_SENT;
          }
          // grpc-java's words when a keepalive ping went unanswered (KeepAliveManager)
          String d = s.getDescription();
          return d != null && d.startsWith("Keepalive failed") ? AttemptEnd.UNRESPONSIVE : AttemptEnd.RESET;
        case DEADLINE_EXCEEDED:
          return AttemptEnd.TIMEOUT;
        case CANCELLED:
          return AttemptEnd.CANCELLED;
        case INTERNAL:
          return headersSent ? AttemptEnd.RESET : AttemptEnd.LOCAL_ERROR;
        default: // RESOURCE_EXHAUSTED (a message over a local size limit), UNKNOWN (a local exception)...
          return AttemptEnd.LOCAL_ERROR;
      }
    }
  }

  /** What one stream of an attempt sees on the wire. */
  private final class Tracer extends ClientStreamTracer {
    private final Attempt attempt;
    private int seq;

    Tracer(Attempt attempt) {
      this.attempt = attempt;
    }

    @Override
    public void createPendingStream() {
      attempt.waitedForConnection = true;
    }

    @Override
    public void streamCreated(Attributes transportAttrs, Metadata h) {
      if (attempt.waitedForConnection) {
        logical.attemptConnected(attempt.number);
      }
    }

    @Override
    public void outboundHeaders() {
      attempt.headersSent = true;
    }

    @Override
    public void inboundHeaders() {
      attempt.responded = true;
    }

    @Override
    public void inboundTrailers(Metadata trailers) {
      attempt.responded = true;
    }

    @Override
    public void outboundMessage(int seqNo) {
      seq = seqNo;
    }

    @Override
    public void outboundUncompressedSize(long bytes) {
      if (seq >= attempt.replayed) {
        counted(bytes);
      }
    }

    @Override
    public void outboundWireSize(long bytes) {
      logical.bytesOnWire(bytes, 0);
    }

    @Override
    public void inboundWireSize(long bytes) {
      logical.bytesOnWire(0, bytes);
    }
  }
}
