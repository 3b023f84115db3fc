package io.meshup.core.call;

import io.meshup.core.internal.engine.RetryRules;
import io.meshup.core.internal.lb.Tried;
import io.meshup.core.internal.routing.EndpointState;
import io.meshup.core.internal.routing.RouteActions;
import io.meshup.core.route.HeaderEdits;
import io.meshup.core.internal.routing.Target;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RetryPolicy;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.ServiceRouter;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One logical call through the mesh, as the engine runs it; a transport extends this class for
 * each call it makes and implements the four hooks ({@link #startAttempt}, {@link #cancelAttempt},
 * {@link #completeWithAttempt}, {@link #fail}). The lifecycle, top to bottom:
 *
 * <ol>
 *   <li><b>Route.</b> {@link #start} matches the request (this object is its
 *       {@link RequestAttributes}) against the destination's routes; the first match wins and one
 *       random draw over its weights picks the target subset. No match ends the call
 *       ({@link CallFailure.Kind#NO_ROUTE}).
 *   <li><b>Deadline.</b> The earliest of the caller's deadline (the transport passes what remains of
 *       it, propagated ones included) and the route timeout. It holds through injected delays,
 *       backoffs and every attempt; when it passes the call ends
 *       ({@link CallFailure.Kind#DEADLINE_EXCEEDED}) and the attempt in flight is cancelled.
 *   <li><b>Fault injection.</b> An abort ends the call ({@link CallFailure.Kind#FAULT_ABORT}); a
 *       delay waits (within the deadline) before the first attempt.
 *   <li><b>Permit.</b> The subset's concurrency limit and circuit breaker give the call one permit
 *       for all its attempts ({@link CallFailure.Kind#REJECTED} otherwise). The breaker records the
 *       logical call's outcome, after its replays and retries, so a replay never costs a permit or
 *       counts as a failure.
 *   <li><b>Attempt.</b> The balancer picks an endpoint the call has not tried when one is in reach
 *       (ready, reachable, not ejected; with fewer than half the subset healthy, ejections are
 *       ignored, as Envoy's panic mode), and the transport sends ({@link #startAttempt}) with the
 *       attempt's time limit ({@link #attemptTimeoutNanos()}): the per-try timeout, the rest of the
 *       deadline, or, on transports that cannot tell a frozen peer, a bound on the wait for response
 *       headers. The transport reports the wire ({@link #attemptResponded} or
 *       {@link #attemptCommitted}) and the end ({@link #attemptClosed}).
 *   <li><b>Outcome.</b> The balancer and outlier detection learn from every attempt (a stream's
 *       latency is the time to its response headers, never its lifetime).
 *   <li><b>Replay or retry.</b> An attempt that never left the client, or that the server refused
 *       before processing, is replayed at once on another endpoint (up to
 *       {@link CallEngine#DEFAULT_MAX_REPLAYS} times, no policy or budget needed). Otherwise the
 *       route's {@code retries} decide, by one table for every transport ({@code RetryRules}):
 *       only for idempotent or safe methods once the request may have been processed, within the
 *       destination's retry budget, after a jittered backoff that must fit in the deadline. Nothing
 *       is tried again once the response went to the caller, or once the transport stopped keeping
 *       the request for replay ({@link #stopReplays}).
 *   <li><b>End.</b> The call ends once: with the last attempt's own result
 *       ({@link #completeWithAttempt}) or with a failure the engine names ({@link #fail}); its
 *       permit goes back with the outcome, and {@code mesh.client.requests} records it (a refusal
 *       counts in {@code mesh.client.rejections}). With a tracer installed, the call and each
 *       attempt are spans (opened here, once for every transport), and the transport writes
 *       {@link #traceHeaders} into each attempt.
 * </ol>
 *
 * <p>Threading: every event (the transport's calls into this class, timers, the caller's cancel)
 * runs serialized per call, never two at once and never re-entrantly; the hooks run inside that
 * order, on whichever thread brought the event, and must not block. A transport may run its own
 * per-call work in the same order with {@link #serialized}. Events run inline when nothing else
 * runs for the call (no allocation); otherwise they queue. Attempt getters ({@link #endpoint()},
 * {@link #attemptTimeoutNanos()}...) are valid in {@link #startAttempt} and until the attempt's
 * {@link #attemptClosed}.
 */
public abstract class EngineCall implements RequestAttributes {
  private static final Logger log = LoggerFactory.getLogger(EngineCall.class);

  private static final int NEW = 0;
  private static final int WAITING = 1;
  private static final int ATTEMPT = 2;
  private static final int DONE = 3;

  /** What bounds an attempt. */
  private static final int LIMIT_NONE = 0;
  private static final int LIMIT_CALL = 1;
  private static final int LIMIT_PER_TRY = 2;
  private static final int LIMIT_HEADERS = 3;

  // event types
  private static final int E_START = 0;
  private static final int E_CANCEL = 1;
  private static final int E_COMMITTED = 3;
  private static final int E_CLOSED = 4;
  private static final int E_WAIT_OVER = 5;
  private static final int E_DEADLINE = 6;
  private static final int E_PER_TRY = 7;
  private static final int E_SHUTDOWN = 8;
  private static final int E_STOP_REPLAYS = 9;
  private static final int E_CONNECTED = 10;

  private static final AttemptEnd[] ENDS = AttemptEnd.values();

  private final CallEngine engine;
  private final ServiceRouter router;
  private final Protocol protocol;
  private static final AtomicIntegerFieldUpdater<EngineCall> WIP =
      AtomicIntegerFieldUpdater.newUpdater(EngineCall.class, "wip");
  /** Events running or queued: the serializer's work-in-progress count. */
  private volatile int wip;
  private volatile ConcurrentLinkedQueue<Runnable> queue;

  // Set by start() before the start event, then read-only.
  private long callerDeadline;
  private boolean hasCallerDeadline;
  private boolean idempotent;
  private boolean streaming;

  // Serialized state.
  private int phase = NEW;
  private Target target;
  private long startNanos;
  private boolean hasDeadline;
  private long deadline;
  private boolean routeTimeoutBinds;
  private boolean permit;
  private int attempt;
  private EndpointState endpoint;
  private ConnectionSettings settings;
  private long attemptStart;
  private long latencyStart;
  private long attemptTimeoutNanos;
  private int attemptLimitKind;
  private boolean committed;
  private long commitNanos;
  private int retries;
  private int replays;
  private Tried tried;
  private boolean replaysStopped;
  private ScheduledFuture<?> timer;
  private ScheduledFuture<?> deadlineTimer;
  private ScheduledFuture<?> perTryTimer;
  private boolean perTryFired;
  private CallFailure pending;
  private CallFailure cancelRequested;
  private int retryDecidedFor;
  /** Whether this call waited (or found nothing worth waiting for) for the registry's first answer. */
  private boolean discoveryWaited;
  /** This call's registration with the destination while it waits for the registry's first answer. */
  private Runnable discoveryWaiter;
  private long retryBackoffNanos;
  /** The last attempt's end as {@code ordinal + 1}, 0 before any (a byte: the call object stays 184 B with {@link #trace}). */
  private byte lastEnd;
  private int lastCode;
  /** The route's actions (rewrites, header changes), once routed. */
  private RouteActions actions = RouteActions.NONE;
  /** The path after the route's rewrite, or null when it keeps the request's. */
  private String rewrittenPath;
  /** The Origin of a request the route's corsPolicy allows (its response gets CORS headers), else null. */
  private String corsOrigin;
  /** The attempt number a granted retry (one of {@code http.maxRetries}) is held for, or 0. */
  private int retryHeldFor;
  /** The request's consistent hash, when the subset hashes and the request has a key. */
  private boolean hashed;
  private long hash;
  /** A cookie the subset's consistent hash generated for a request without one ({@code name=value; attributes}). */
  private String setCookie;
  /** The call's spans; null when no tracer is installed. */
  private io.meshup.core.internal.trace.Tracing.CallTrace trace;

  /**
   * @param engine the mesh's call engine
   * @param router the destination's router ({@code Mesh.router(service)})
   * @param protocol how the codes the transport reports are read
   */
  protected EngineCall(CallEngine engine, ServiceRouter router, Protocol protocol) {
    this.engine = Objects.requireNonNull(engine, "engine");
    this.router = Objects.requireNonNull(router, "router");
    this.protocol = Objects.requireNonNull(protocol, "protocol");
  }

  // ---- the transport implements ---------------------------------------------------------------

  /**
   * Sends attempt {@link #attempt()} to {@link #endpoint()}, with mutual TLS or not per
   * {@link #connectionSettings()} (the server must be {@link EndpointHandle#service()}), bounded by
   * {@link #attemptTimeoutNanos()}, replaying what the caller sent so far when {@link #replay()}.
   * Must not block. Whatever happens, the transport reports the attempt's end with
   * {@link #attemptClosed} (an exception thrown here counts as its {@link AttemptEnd#LOCAL_ERROR}).
   */
  protected abstract void startAttempt();

  /**
   * Ends the attempt in flight (the deadline passed, the caller cancelled, its time limit passed,
   * the mesh closed). The transport still reports its end with {@link #attemptClosed}.
   */
  protected abstract void cancelAttempt(CallFailure why);

  /** Ends the call with the current attempt's own result, which the transport has: deliver it to the caller. */
  protected abstract void completeWithAttempt();

  /** Ends the call with a failure the engine decided: deliver it to the caller. */
  protected abstract void fail(CallFailure failure);

  /**
   * Sends a copy of this call to {@code mirror} (the route's {@code mirror} or {@code mirrors}),
   * fire and forget: the copy's outcome is never awaited and never reaches the caller. The
   * transport starts a call of its own through {@code mirror} (which always routes to the mirrored
   * destination) with the authority suffixed {@code -shadow}, as Envoy does. Runs in the call's
   * serialized order when it is routed; must not block. Does nothing by default (transports that
   * cannot copy a call; gRPC and HTTP do).
   */
  protected void mirror(ServiceRouter mirror) {}

  /**
   * The call committed (its response goes to the caller from now on): the transport may drop
   * what it kept for replay. Runs in the call's serialized order; does nothing by default.
   */
  protected void committed() {}

  /**
   * True when the transport itself notices an unresponsive peer (gRPC's HTTP/2 keepalive pings),
   * so attempts need no bound on the wait for response headers; false by default.
   */
  protected boolean detectsUnresponsivePeers() {
    return false;
  }

  /**
   * True when the transport enforces {@link #attemptTimeoutNanos()} for the whole attempt, its
   * response included (gRPC deadlines); false when it bounds only the wait for response headers
   * (the JDK HTTP client), so the engine itself ends the call at its deadline.
   */
  protected boolean enforcesDeadlineThroughResponse() {
    return false;
  }

  // ---- the transport calls -------------------------------------------------------------------

  /**
   * Starts the call.
   *
   * @param callerDeadline the caller's deadline on the engine's clock ({@link CallEngine#clock()}:
   *     read the clock when the caller's remaining time is read), the earliest of its own and any
   *     it inherited; ignored unless {@code hasCallerDeadline}
   * @param hasCallerDeadline whether the caller has a deadline
   * @param idempotent the method may be retried after it may have been processed
   * @param streaming a stream rather than one request and one response: its latency for the
   *     balancer and breaker is the time to its response headers
   */
  public final void start(long callerDeadline, boolean hasCallerDeadline, boolean idempotent, boolean streaming) {
    this.callerDeadline = callerDeadline;
    this.hasCallerDeadline = hasCallerDeadline;
    this.idempotent = idempotent;
    this.streaming = streaming;
    io.meshup.core.internal.trace.Tracing tracing = engine.tracing();
    if (tracing != null) {
      trace = tracing.newCall(); // the caller's context, read on its thread
    }
    event(E_START, 0, null, 0);
  }

  /** The caller cancels: the attempt in flight is cancelled and the call ends {@link CallFailure.Kind#CANCELLED}. */
  public final void cancel(String message, Throwable cause) {
    CallFailure f = new CallFailure(CallFailure.Kind.CANCELLED,
        "meshup: cancelled by the caller" + (message == null ? "" : ": " + message), null, 0, null, cause, false);
    if (enter()) {
      try {
        onCancel(f);
      } catch (RuntimeException | Error e) {
        internal(e);
      } finally {
        exit();
      }
    } else {
      enqueue(() -> onCancel(f));
    }
  }

  /** What becomes of a response whose headers arrived: see {@link #attemptResponded}. */
  public enum Verdict {
    /** The response goes to the caller: the call commits and is not tried again. */
    COMMIT,
    /** The response is discarded and the call tried again; the transport reports the attempt's end as usual. */
    RETRY,
    /**
     * Another event of this call is being handled on another thread: the verdict comes through
     * {@link #responseDecided}, in this call's order, once it is done (the transport holds the
     * body, reading none of it, meanwhile).
     */
    LATER
  }

  /**
   * Attempt {@code n} got response headers with this status (HTTP's status code; gRPC: any code,
   * the engine treats it as a commit). Decides whether the response goes to the caller or is
   * retried: at once when nothing else of this call runs, else {@link Verdict#LATER}.
   */
  public final Verdict attemptResponded(int n, int code) {
    if (!enter()) {
      enqueue(() -> {
        boolean commit = true;
        try {
          commit = onResponded(n, code);
        } finally {
          responseDecided(n, commit);
        }
      });
      return Verdict.LATER;
    }
    try {
      return onResponded(n, code) ? Verdict.COMMIT : Verdict.RETRY;
    } catch (RuntimeException | Error e) {
      internal(e);
      return Verdict.COMMIT;
    } finally {
      exit();
    }
  }

  /**
   * The verdict on attempt {@code n}'s response, after {@link #attemptResponded} answered
   * {@link Verdict#LATER}: true to hand it to the caller, false to discard it. Runs in this call's
   * serialized order; must not block. The default does nothing (for transports that never get LATER).
   */
  protected void responseDecided(int n, boolean commit) {}

  /**
   * Attempt {@code n} waited for a connection to be made and now has one: its latency for the
   * balancer counts from here (opening a connection is not the endpoint's latency).
   */
  public final void attemptConnected(int n) {
    event(E_CONNECTED, n, null, 0);
  }

  /** Attempt {@code n}'s response reached the caller (gRPC headers or a message): the call is committed. */
  public final void attemptCommitted(int n) {
    event(E_COMMITTED, n, null, 0);
  }

  /**
   * Attempt {@code n} ended.
   *
   * @param code the status for {@link AttemptEnd#STATUS} (gRPC code or HTTP status), else ignored
   */
  public final void attemptClosed(int n, AttemptEnd end, int code) {
    event(E_CLOSED, n, end, code);
  }

  /**
   * The transport no longer keeps the request for replay (over its replay buffer's bounds): nothing
   * more is replayed or retried for this call.
   */
  public final void stopReplays() {
    event(E_STOP_REPLAYS, 0, null, 0);
  }

  /**
   * Enters this call's serialized order without queuing: true when nothing else runs for the call,
   * and the caller then runs its work inline and must call {@link #exitSerial()} (in a
   * {@code finally}); false when something does, and the work must go through {@link #serialized}.
   * For hot paths that would rather not allocate a task.
   */
  protected final boolean tryEnterSerial() {
    return enter();
  }

  /** Leaves the serialized order entered by {@link #tryEnterSerial()}, running what queued meanwhile. */
  protected final void exitSerial() {
    exit();
  }

  /** Ends the call as an internal error (for a transport's own work that threw in the serialized order). */
  protected final void failInternally(Throwable e) {
    internal(e);
  }

  /** Runs {@code task} in this call's serialized order (inline when nothing else runs for it). */
  protected final void serialized(Runnable task) {
    if (enter()) {
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        internal(e);
      } finally {
        exit();
      }
    } else {
      enqueue(task);
    }
  }

  // ---- what the transport reads ---------------------------------------------------------------

  /**
   * Counts bytes this call put on ({@code sent}) or took off ({@code received}) the wire, for
   * {@code mesh.client.bytes}; for transports that know their wire sizes (gRPC's stream tracers).
   * Any thread; does nothing before the call was routed.
   */
  public final void bytesOnWire(long sent, long received) {
    Target t = target;
    if (t != null) {
      t.bytes(sent, received);
    }
  }

  /** True when the call is traced: the transport then writes {@link #traceHeaders} into each attempt. */
  public final boolean traced() {
    return trace != null;
  }

  /**
   * Writes the current attempt's trace context (W3C {@code traceparent}, {@code tracestate}, or
   * what the installed propagator carries) with {@code sink}, in {@link #startAttempt}; does
   * nothing when the call is not traced. Guard with {@link #traced()} to allocate no sink then.
   */
  public final void traceHeaders(java.util.function.BiConsumer<String, String> sink) {
    if (trace != null) {
      trace.inject(sink);
    }
  }

  /** The current attempt's number, from 1. */
  public final int attempt() {
    return attempt;
  }

  /** True when the current attempt is not the first: the transport replays what was sent. */
  public final boolean replay() {
    return attempt > 1;
  }

  /** The current attempt's endpoint. */
  public final EndpointHandle endpoint() {
    return endpoint;
  }

  /**
   * The path to send, once routed: the route's rewrite of {@link #path()} (the query string is the
   * request's), or {@link #path()} when the route rewrites nothing.
   */
  public final String attemptPath() {
    return rewrittenPath != null ? rewrittenPath : path();
  }

  /** True when the route rewrote the path ({@link #attemptPath()} differs from the request's). */
  public final boolean pathRewritten() {
    return rewrittenPath != null;
  }

  /** The authority to send, once routed, when the route rewrites it ({@code rewrite.authority}); else null. */
  public final String rewrittenAuthority() {
    return actions.authority();
  }

  /** True when the route changes the request's headers ({@link #editRequestHeaders}). */
  public final boolean editsRequestHeaders() {
    return actions.editsRequest();
  }

  /** Applies the route's request header changes (the destination's, then the route's) to the transport's request. */
  public final void editRequestHeaders(HeaderEdits edits) {
    actions.editRequest(edits);
  }

  /** True when the route changes the response's headers ({@link #editResponseHeaders}). */
  public final boolean editsResponseHeaders() {
    return actions.editsResponse() || corsOrigin != null || setCookie != null;
  }

  /**
   * Applies the route's response header changes to the response headers the caller gets (an
   * endpoint's answer, or the route's own direct response or redirect).
   */
  public final void editResponseHeaders(HeaderEdits edits) {
    actions.editResponse(edits);
    if (corsOrigin != null) {
      actions.editCorsResponse(edits, corsOrigin);
    }
    if (setCookie != null) {
      edits.add("set-cookie", setCookie);
    }
  }

  /** The chosen target, once routed; null before. */
  public final RouteTarget target() {
    return target;
  }

  /** How to connect for the current attempt (read once per attempt, so its scheme and client agree). */
  public final ConnectionSettings connectionSettings() {
    return settings;
  }

  /**
   * The current attempt's time limit, in nanos from its start: the earliest of the per-try timeout,
   * the rest of the call's deadline and the response-headers bound; 0 for none.
   */
  public final long attemptTimeoutNanos() {
    return attemptTimeoutNanos;
  }

  /** What remains of the call's deadline now, in nanos (0 or less when passed); {@link Long#MAX_VALUE} for none. */
  public final long remainingNanos() {
    return hasDeadline ? deadline - engine.clock().nanoTime() : Long.MAX_VALUE;
  }

  /** Attempts started so far. */
  public final int attempts() {
    return attempt;
  }

  /** The mesh's call engine. */
  public final CallEngine engine() {
    return engine;
  }

  // ---- serialization -------------------------------------------------------------------------

  private boolean enter() {
    return WIP.compareAndSet(this, 0, 1);
  }

  private void exit() {
    if (WIP.decrementAndGet(this) != 0) {
      drain();
    }
  }

  private void enqueue(Runnable task) {
    ConcurrentLinkedQueue<Runnable> q = queue;
    if (q == null) {
      synchronized (this) {
        q = queue;
        if (q == null) {
          q = new ConcurrentLinkedQueue<>();
          queue = q;
        }
      }
    }
    q.add(task);
    if (WIP.getAndIncrement(this) == 0) {
      drain();
    }
  }

  private void drain() {
    ConcurrentLinkedQueue<Runnable> q = queue;
    do {
      Runnable r = q.poll();
      if (r != null) {
        try {
          r.run();
        } catch (RuntimeException | Error e) {
          internal(e);
        }
      }
    } while (WIP.decrementAndGet(this) != 0);
  }

  private void event(int type, int n, AttemptEnd end, int code) {
    if (enter()) {
      try {
        handle(type, n, end, code);
      } catch (RuntimeException | Error e) {
        internal(e);
      } finally {
        exit();
      }
    } else {
      enqueue(() -> handle(type, n, end, code));
    }
  }

  private void handle(int type, int n, AttemptEnd end, int code) {
    switch (type) {
      case E_START:
        onStart();
        break;
      case E_COMMITTED:
        onCommitted(n);
        break;
      case E_CONNECTED:
        if (n == attempt && phase == ATTEMPT) {
          latencyStart = engine.clock().nanoTime();
        }
        break;
      case E_CLOSED:
        onClosed(n, end, code);
        break;
      case E_WAIT_OVER:
        if (phase == WAITING && n == attempt) {
          cancel(timer); // the discovery wait's timer, when the registry answered first
          timer = null;
          stopAwaitingDiscovery();
          engine.waiting(this, false);
          nextAttempt();
        }
        break;
      case E_DEADLINE:
        onDeadline();
        break;
      case E_PER_TRY:
        if (phase == ATTEMPT && n == attempt && !committed && pending == null) {
          perTryFired = true;
          cancelAttempt(attemptTimeout());
        }
        break;
      case E_SHUTDOWN:
        onShutdown();
        break;
      case E_STOP_REPLAYS:
        replaysStopped = true;
        if (phase == WAITING && attempt > 0) {
          // nothing kept to send again: the last attempt's result is the call's
          cancel(timer);
          engine.waiting(this, false);
          finishAttempt(RetryRules.outcome(protocol, lastEnd(), lastCode));
        }
        break;
      default:
        throw new IllegalStateException("event " + type);
    }
  }

  /** A hook or the engine threw: end the call rather than leave it hanging. */
  private void internal(Throwable e) {
    log.error("meshup: internal error in a call to {}", router.service(), e);
    if (phase != DONE) {
      try {
        finishFailure(new CallFailure(CallFailure.Kind.INTERNAL, "meshup: internal error in a call to "
            + router.service() + ": " + e, null, 0, null, e, false), Outcome.CANCELLED);
      } catch (RuntimeException | Error again) {
        log.error("meshup: could not end the call to {}", router.service(), again);
      }
    }
  }

  void shutDown() {
    event(E_SHUTDOWN, 0, null, 0);
  }

  // ---- the lifecycle -------------------------------------------------------------------------

  private void onStart() {
    if (phase != NEW) {
      return;
    }
    long now = engine.clock().nanoTime();
    startNanos = now;
    if (trace != null) {
      trace.callStarted(router.service(), protocol == Protocol.GRPC, path(), method());
    }
    if (endedByCancelOrShutdown()) {
      return;
    }
    RouteTarget rt = router.select(this);
    if (rt == null) {
      finishFailure(CallFailure.of(CallFailure.Kind.NO_ROUTE, "meshup: no route of service " + router.service()
          + " matches " + method() + " " + path()), Outcome.CLIENT_ERROR);
      return;
    }
    target = (Target) rt;
    if (trace != null) {
      trace.routed(target.route().name(), target.subset());
    }
    actions = target.actions();
    if (actions.hasCors()) { // the request's headers are read only for a route with a corsPolicy
      String origin = header("origin");
      int cors = actions.cors(origin, origin != null && method().equals("OPTIONS")
          && header("access-control-request-method") != null);
      if (cors == RouteActions.CORS_PREFLIGHT || cors == RouteActions.CORS_IGNORED_PREFLIGHT) {
        finishFailure(CallFailure.direct("meshup: route " + target.route().name() + " of " + router.service()
            + " answers the CORS preflight of " + origin, 200, null, null,
            cors == RouteActions.CORS_PREFLIGHT ? actions.preflightHeaders(origin) : null), Outcome.SUCCESS);
        return;
      }
      corsOrigin = cors == RouteActions.CORS_RESPONSE ? origin : null;
    }
    if (actions.directResponse() != null || actions.redirect() != null) {
      boolean redirect = actions.redirect() != null;
      int status = redirect ? actions.redirect().code() : actions.directResponse().status();
      finishFailure(CallFailure.direct("meshup: route " + target.route().name() + " of " + router.service()
          + (redirect ? " redirects with " : " answers ") + status, status,
          redirect ? null : actions.directResponse().body(), redirect ? actions.location(this) : null, null),
          Outcome.SUCCESS);
      return;
    }
    if (actions.rewritesPath()) {
      rewrittenPath = actions.rewritePath(path());
    }
    io.meshup.core.internal.policy.PolicyModel.HashPolicy hp = target.hashPolicy();
    if (hp != null) {
      hashKey(hp);
    }
    List<RouteActions.Mirror> mirrors = actions.mirrors();
    for (int i = 0; i < mirrors.size(); i++) { // indexed: no iterator per call
      RouteActions.Mirror m = mirrors.get(i);
      if (m.percent() >= 100 || engine.draw(m.percent())) {
        try {
          mirror(m.target().asRouter());
        } catch (RuntimeException e) {
          log.warn("meshup: mirroring a call to {} to {} failed", router.service(), m.target().describe(), e);
        }
      }
    }
    long routeTimeout = target.route().timeoutNanos();
    if (hasCallerDeadline || routeTimeout > 0) {
      hasDeadline = true;
      routeTimeoutBinds = !hasCallerDeadline || (routeTimeout > 0 && now + routeTimeout - callerDeadline <= 0);
      deadline = routeTimeoutBinds ? now + routeTimeout : callerDeadline;
      if (deadline - now <= 0) {
        finishFailure(deadlineFailure(), Outcome.TIMEOUT);
        return;
      }
      if (!enforcesDeadlineThroughResponse()) {
        deadlineTimer = engine.schedule(() -> event(E_DEADLINE, 0, null, 0), deadline - now);
      }
    }
    FaultPolicy fault = target.route().fault();
    if (fault.drawAbort()) {
      finishFailure(new CallFailure(CallFailure.Kind.FAULT_ABORT, "meshup: fault injected by route "
          + target.route().name(), null, fault.abortHttpStatus(), fault.abortGrpcStatus(),
          null, false), Outcome.CLIENT_ERROR);
      return;
    }
    if (fault.drawDelay()) {
      waitFor(fault.delayNanos());
      return;
    }
    nextAttempt(now);
  }

  /**
   * The request's hash key as the DestinationRule's {@code consistentHash} names it: a header, a
   * cookie (generated, and set on the response, when absent and {@code ttl} is given, as Envoy
   * does), the source address (this workload's own when the transport knows no other, as a
   * sidecar's downstream address is its own pod's) or a query parameter; none leaves the pick
   * random.
   */
  private void hashKey(io.meshup.core.internal.policy.PolicyModel.HashPolicy hp) {
    String key;
    if (hp.header() != null) {
      key = header(hp.header());
    } else if (hp.cookie() != null) {
      key = HashKeys.cookie(header("cookie"), hp.cookie());
      if (key == null && hp.cookieTtl() != null) {
        key = Long.toHexString(engine.randomLong());
        setCookie = HashKeys.setCookie(hp.cookie(), key, hp.cookieTtl(), hp.cookiePath());
      }
    } else if (hp.sourceIp()) {
      key = sourceAddress() != null ? sourceAddress() : HashKeys.LOCAL_ADDRESS;
    } else {
      key = io.meshup.core.internal.routing.RouteActions.queryParameter(query(), hp.query());
    }
    if (key != null) {
      hashed = true;
      hash = io.meshup.core.internal.lb.XxHash64.hash(key);
    }
  }

  /** Ends the call when it was cancelled or the engine shut down; whether it did. */
  private boolean endedByCancelOrShutdown() {
    if (cancelRequested != null) {
      finishFailure(cancelRequested, Outcome.CANCELLED);
      return true;
    }
    if (engine.isShutdown()) {
      finishFailure(shutDownFailure(), Outcome.CANCELLED);
      return true;
    }
    return false;
  }

  /**
   * Waits for the registry's first answer about the destination (the first calls of a destination
   * the mesh just started watching): until it comes, the deadline or the engine's discovery
   * timeout, whichever is first; then picks again.
   */
  private void awaitDiscovery() {
    phase = WAITING;
    engine.waiting(this, true);
    if (phase != WAITING) {
      return; // the engine shut down meanwhile
    }
    long wait = engine.discoveryTimeoutNanos();
    if (hasDeadline) {
      long left = deadline - engine.clock().nanoTime();
      wait = wait > 0 ? Math.min(wait, left) : left; // the transport may time the deadline itself: not while nothing is sent
    }
    timer = engine.schedule(() -> event(E_WAIT_OVER, 0, null, 0), wait);
    if (timer == null) {
      engine.waiting(this, false);
      finishFailure(shutDownFailure(), Outcome.CANCELLED);
    }
  }

  private void stopAwaitingDiscovery() {
    if (discoveryWaiter != null) {
      target.stopAwaiting(discoveryWaiter);
      discoveryWaiter = null;
    }
  }

  /** The registry answered (or failed) while this call waited for its first answer. */
  private void discoveryAnswered() {
    event(E_WAIT_OVER, 0, null, 0);
  }

  /** No endpoint to pick: says why when the registry has not listed any yet. */
  private CallFailure noEndpoints() {
    CallFailure f = rejected(Rejection.NO_ENDPOINTS);
    String why = target.discoveryState();
    if (why == null) {
      return f;
    }
    long waited = TimeUnit.NANOSECONDS.toMillis(Math.max(0, engine.clock().nanoTime() - startNanos));
    return new CallFailure(f.kind(), f.message() + "; " + why + " (waited " + waited + " ms)", f.rejection(), 0, null,
        null, false);
  }

  /** Waits {@code nanos} (a delay or a backoff), never past the deadline, then tries again. */
  private void waitFor(long nanos) {
    long wait = nanos;
    if (hasDeadline) {
      wait = Math.min(wait, deadline - engine.clock().nanoTime());
    }
    phase = WAITING;
    engine.waiting(this, true);
    if (phase != WAITING) {
      return; // the engine shut down meanwhile
    }
    int n = attempt;
    timer = engine.schedule(() -> event(E_WAIT_OVER, n, null, 0), wait);
    if (timer == null) {
      engine.waiting(this, false);
      finishFailure(shutDownFailure(), Outcome.CANCELLED);
    }
  }

  private void nextAttempt() {
    nextAttempt(engine.clock().nanoTime());
  }

  /** Starts the next attempt at {@code now} (a reading of the engine's clock taken just before). */
  private void nextAttempt(long now) {
    if (endedByCancelOrShutdown()) {
      return;
    }
    if (hasDeadline && deadline - now <= 0) {
      finishFailure(deadlineFailure(), Outcome.TIMEOUT);
      return;
    }
    if (!permit) {
      Rejection r = target.tryAcquire(now, protocol == Protocol.HTTP);
      if (r != null) {
        finishFailure(rejected(r), null);
        return;
      }
      permit = true;
    }
    ConnectionSettings s = target.connectionSettings();
    if (!engine.hasCertificates() && s.tls().usesTls(false)) {
      finishFailure(CallFailure.of(CallFailure.Kind.NO_CERTIFICATES, "meshup: " + target.describe()
          + ": the DestinationRule sets trafficPolicy.tls.mode ISTIO_MUTUAL but this mesh has no certificates"
          + " (set mesh.tls.certificates)"), Outcome.CLIENT_ERROR);
      return;
    }
    EndpointState ep = hashed ? target.pick(tried, now, hash) : target.pick(tried, now);
    if (ep == null) {
      if (attempt == 0 && !discoveryWaited && (hasDeadline || engine.discoveryTimeoutNanos() > 0)) {
        discoveryWaited = true;
        Runnable w = this::discoveryAnswered;
        if (target.awaitEndpoints(w)) {
          discoveryWaiter = w;
          awaitDiscovery();
          return;
        }
      }
      permit = false;
      target.reject(Rejection.NO_ENDPOINTS);
      finishFailure(noEndpoints(), null);
      return;
    }
    attempt++;
    endpoint = ep;
    settings = s;
    attemptStart = now;
    latencyStart = now;
    perTryFired = false;
    pending = null;
    target.attemptStarted(ep);
    long perTry = target.route().retries().perTryTimeoutNanos();
    long limit = 0;
    int kind = LIMIT_NONE;
    if (hasDeadline) {
      limit = deadline - now;
      kind = LIMIT_CALL;
    }
    if (perTry > 0 && (kind == LIMIT_NONE || perTry < limit)) {
      limit = perTry;
      kind = LIMIT_PER_TRY;
    }
    long headers = engine.headersTimeoutNanos();
    if (perTry == 0 && headers > 0 && !detectsUnresponsivePeers() && (kind == LIMIT_NONE || headers < limit)) {
      limit = headers;
      kind = LIMIT_HEADERS;
    }
    attemptLimitKind = kind;
    attemptTimeoutNanos = limit;
    phase = ATTEMPT;
    if (kind == LIMIT_PER_TRY && streaming && enforcesDeadlineThroughResponse()) {
      // the per-try timeout ends at the response headers, so a stream's transport deadline stays the
      // call's and the engine times the try itself
      attemptTimeoutNanos = hasDeadline ? deadline - now : 0;
      int n = attempt;
      perTryTimer = engine.schedule(() -> event(E_PER_TRY, n, null, 0), perTry);
    }
    if (trace != null) {
      trace.attemptStarted(attempt, ep.endpoint().host(), ep.endpoint().port());
    }
    try {
      startAttempt();
    } catch (RuntimeException e) {
      log.warn("meshup: {}: the transport failed to start attempt {} on {}", target.describe(), attempt, ep, e);
      onClosed(attempt, AttemptEnd.LOCAL_ERROR, 0);
    }
  }

  private void onCommitted(int n) {
    if (n == attempt && phase == ATTEMPT && !committed) {
      committed = true;
      commitNanos = engine.clock().nanoTime();
      cancel(perTryTimer);
      perTryTimer = null;
      committed();
    }
  }

  private boolean onResponded(int n, int code) {
    if (n != attempt || phase != ATTEMPT || committed) {
      return true;
    }
    if (pending == null && cancelRequested == null && !RetryRules.success(protocol, code)
        && mayRetry(AttemptEnd.STATUS, code)) {
      long now = engine.clock().nanoTime();
      long backoff = engine.backoff(retries + 1);
      if (fits(now, backoff) && target.tryRetry(now)) {
        retries++;
        retryHeldFor = attempt + 1;
        retryDecidedFor = n;
        retryBackoffNanos = backoff;
        return false;
      }
    }
    onCommitted(n);
    return true;
  }

  private boolean mayRetry(AttemptEnd end, int code) {
    RetryPolicy p = target.route().retries();
    return !replaysStopped && retries < p.attempts() && RetryRules.retriable(protocol, end, code, p, idempotent);
  }

  private boolean fits(long now, long backoff) {
    return !hasDeadline || deadline - now > backoff;
  }

  private void onClosed(int n, AttemptEnd end, int code) {
    if (n != attempt || phase != ATTEMPT) {
      return;
    }
    if (retryHeldFor == n) {
      retryHeldFor = 0;
      target.retryDone();
    }
    long now = engine.clock().nanoTime();
    cancel(perTryTimer);
    perTryTimer = null;
    if (perTryFired && end == AttemptEnd.CANCELLED) {
      end = AttemptEnd.TIMEOUT;
    }
    lastEnd = (byte) (end.ordinal() + 1);
    lastCode = code;
    Outcome outcome = RetryRules.outcome(protocol, end, code);
    if (trace != null) {
      trace.attemptEnded(end, code, outcome);
    }
    long latency = Math.max(0, (streaming && committed ? commitNanos : now) - latencyStart);
    target.attemptEnded(endpoint, now, latency, outcome, end == AttemptEnd.NOT_SENT, end == AttemptEnd.UNRESPONSIVE);
    phase = NEW;
    if (pending != null) {
      if (end == AttemptEnd.STATUS && retryDecidedFor != n) {
        finishAttempt(outcome); // the answer beat the cancellation: it stands
      } else {
        finishFailure(pending, pending.kind() == CallFailure.Kind.DEADLINE_EXCEEDED ? Outcome.TIMEOUT : Outcome.CANCELLED);
      }
      return;
    }
    if (committed) {
      finishAttempt(outcome);
      return;
    }
    if (cancelRequested != null) {
      finishFailure(cancelRequested, Outcome.CANCELLED);
      return;
    }
    if (end == AttemptEnd.TIMEOUT && (attemptLimitKind == LIMIT_CALL || (hasDeadline && deadline - now <= 0))) {
      finishFailure(deadlineFailure(), Outcome.TIMEOUT);
      return;
    }
    if (retryDecidedFor == n) {
      tried().add(endpoint);
      if (fits(now, retryBackoffNanos)) {
        log.debug("meshup: {}: retry {} after status {} on {} (route {})", target.describe(), retries, code,
            endpoint, target.route().name());
        waitFor(retryBackoffNanos);
        return;
      }
    } else if (RetryRules.replayable(end) && !replaysStopped && replays < engine.maxReplays()) {
      replays++;
      tried().add(endpoint);
      log.debug("meshup: {}: attempt {} on {} {} ; replaying", target.describe(), n, endpoint,
          end == AttemptEnd.NOT_SENT ? "never left the client" : "was refused before processing");
      nextAttempt(now);
      return;
    } else if (mayRetry(end, code)) {
      long backoff = engine.backoff(retries + 1);
      if (fits(now, backoff) && target.tryRetry(now)) {
        retries++;
        retryHeldFor = attempt + 1;
        tried().add(endpoint);
        log.debug("meshup: {}: retry {} of {} after {} on {} (route {})", target.describe(), retries,
            target.route().retries().attempts(), end, endpoint, target.route().name());
        waitFor(backoff);
        return;
      }
    }
    if (end == AttemptEnd.TIMEOUT) {
      finishFailure(attemptTimeout(), Outcome.TIMEOUT);
      return;
    }
    end(outcome, now);
    completeWithAttempt();
  }

  private void onCancel(CallFailure f) {
    if (phase == DONE) {
      return;
    }
    cancelRequested = f;
    switch (phase) {
      case ATTEMPT:
        if (pending == null) {
          pending = f;
          cancelAttempt(f);
        }
        break;
      case WAITING:
        cancel(timer);
        engine.waiting(this, false);
        finishFailure(f, Outcome.CANCELLED);
        break;
      default: // NEW: not started yet (the start event ends it), or between attempts
        if (target != null) {
          finishFailure(f, Outcome.CANCELLED);
        }
        break;
    }
  }

  private void onDeadline() {
    deadlineTimer = null;
    if (phase == ATTEMPT) {
      if (pending == null && !committed) {
        pending = deadlineFailure();
        cancelAttempt(pending);
      } else if (committed) {
        // the response is streaming to the caller: end it there; the close reports the rest
        pending = deadlineFailure();
        cancelAttempt(pending);
      }
    } else if (phase == WAITING) {
      cancel(timer);
      engine.waiting(this, false);
      finishFailure(deadlineFailure(), Outcome.TIMEOUT);
    }
  }

  private void onShutdown() {
    if (phase == WAITING) {
      cancel(timer);
      engine.waiting(this, false);
      finishFailure(shutDownFailure(), Outcome.CANCELLED);
    }
  }

  private void finishAttempt(Outcome outcome) {
    end(outcome);
    completeWithAttempt();
  }

  private void finishFailure(CallFailure f, Outcome outcome) {
    if (trace != null) {
      trace.callEnded(outcome, attempt, f.message());
      trace = null;
    }
    end(outcome);
    fail(f);
  }

  private void end(Outcome outcome) {
    end(outcome, permit ? engine.clock().nanoTime() : 0);
  }

  private void end(Outcome outcome, long now) {
    phase = DONE;
    if (retryHeldFor != 0) {
      retryHeldFor = 0;
      target.retryDone();
    }
    if (trace != null) {
      trace.callEnded(outcome, attempt, null);
      trace = null;
    }
    cancel(timer);
    cancel(deadlineTimer);
    cancel(perTryTimer);
    timer = null;
    deadlineTimer = null;
    perTryTimer = null;
    stopAwaitingDiscovery();
    if (permit) {
      permit = false;
      long nanos = streaming && committed ? commitNanos - startNanos : now - startNanos;
      if (outcome == null) {
        target.release();
      } else {
        target.callEnded(nanos, outcome);
      }
    }
  }

  private static void cancel(ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }

  private Tried tried() {
    if (tried == null) {
      tried = new Tried();
    }
    return tried;
  }

  // ---- failures --------------------------------------------------------------------------------

  private CallFailure rejected(Rejection r) {
    return new CallFailure(CallFailure.Kind.REJECTED, "meshup: " + target.describe() + ": " + r.reason()
        + " (route " + target.route().name() + ")", r, 0, null, null, false);
  }

  private CallFailure deadlineFailure() {
    long millis = Math.round(Math.max(0, (hasDeadline ? deadline : callerDeadline) - startNanos) / 1e6);
    String what = routeTimeoutBinds ? "the timeout of route " + target.route().name() : "the caller's deadline";
    String discovery = attempt == 0 && discoveryWaited ? target.discoveryState() : null;
    return new CallFailure(CallFailure.Kind.DEADLINE_EXCEEDED, "meshup: " + target.describe() + ": deadline exceeded after "
        + millis + " ms (" + what + "; " + attempt + (attempt == 1 ? " attempt" : " attempts")
        + (discovery != null ? "; waiting for endpoints: " + discovery : "") + ")", null, 0, null, null,
        routeTimeoutBinds);
  }

  private CallFailure attemptTimeout() {
    long millis = TimeUnit.NANOSECONDS.toMillis(attemptLimitKind == LIMIT_PER_TRY
        ? target.route().retries().perTryTimeoutNanos() : attemptTimeoutNanos);
    String what = attemptLimitKind == LIMIT_HEADERS
        ? "no response headers within the mesh's headersTimeout"
        : "perTryTimeout of route " + target.route().name();
    return CallFailure.of(CallFailure.Kind.ATTEMPT_TIMEOUT, "meshup: " + target.describe() + ": attempt " + attempt
        + " on " + endpoint.endpoint().authority() + " timed out after " + millis + " ms (" + what + ")");
  }

  private CallFailure shutDownFailure() {
    return CallFailure.of(CallFailure.Kind.SHUT_DOWN, "meshup: the mesh is shut down; call to " + router.service()
        + " not sent");
  }

  /** How the last attempt ended, or null before any did. */
  private AttemptEnd lastEnd() {
    return lastEnd == 0 ? null : ENDS[lastEnd - 1];
  }

  @Override
  public String toString() {
    return "call to " + router.service() + " (attempt " + attempt + ", phase " + phase
        + (lastEnd == 0 ? "" : ", last " + lastEnd() + " " + lastCode) + ")";
  }
}
