package io.meshup.http.internal;

import io.meshup.core.MeshClock;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RetryPolicy;
import io.meshup.core.route.RoutePolicy;
import io.meshup.core.route.RouteTarget;
import io.meshup.http.MeshUnavailableException;
import io.meshup.http.internal.HttpOutcomes.Failure;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request through the mesh. The router matches it (this class is the request's
 * {@link RequestAttributes}, reading the {@link HttpRequest} without copying); then the route's
 * fault injection applies and attempts run: breaker permit, endpoint pick, the request rewritten to
 * the endpoint and sent with the JDK client, outcome recorded. A failed attempt is replayed at once
 * on another endpoint when it never connected (at most {@value #MAX_TRANSPARENT_RETRIES} times), or
 * retried per the route's {@link RetryPolicy} within the destination's retry budget after a
 * jittered backoff. Whether a response status is retried is decided when its headers arrive, so the
 * body of a retried response is discarded, never handed to the caller's handler; once the caller's
 * handler has the response, nothing is retried.
 *
 * <p>Two drivers run the same steps. {@link #sendAsync}: each attempt is sent with
 * {@code HttpClient.sendAsync}; replays run on the JDK client's threads, backoffs and injected
 * delays on the mesh's scheduler; nothing blocks. {@link #send}: everything runs on the caller's
 * thread with the JDK's blocking {@code send}, which spares the hop to another thread that the JDK's
 * {@code sendAsync} makes; backoffs wait on the caller's thread.
 *
 * <p>Threading: attempts run one after another, each handing over to the next through a future's
 * completion, the scheduler or the caller's loop, which orders the plain fields below. The caller's
 * cancellation and the route deadline may strike at any time: both complete {@link #result} and
 * end the attempt in flight.
 */
final class Exchange<T> implements RequestAttributes {
  private static final Logger log = LoggerFactory.getLogger(Exchange.class);
  /** Replays of attempts that never connected, beyond the route's retries. */
  static final int MAX_TRANSPARENT_RETRIES = 2;
  static final long BACKOFF_BASE_NANOS = TimeUnit.MILLISECONDS.toNanos(25);
  static final long BACKOFF_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
  /** What a step returns when the exchange is over: {@link #result} is complete. */
  private static final long DONE = -1;
  private static final BiPredicate<String, String> ALL_HEADERS = (name, value) -> true;

  private final HttpTransport transport;
  private final HttpRequest request;
  private final HttpResponse.BodyHandler<T> handler;
  private final String service;
  private final String method;
  private final MeshClock clock;
  private final CompletableFuture<HttpResponse<T>> result = new CompletableFuture<>();

  // Written in begin() before any attempt, then read-only.
  private RouteTarget target;
  private RetryPolicy retryPolicy;
  private boolean blocking;
  private boolean idempotent;
  private long timeoutNanos;
  private boolean routeTimeoutBinds;
  private long deadline;

  // Touched by one attempt at a time (see the class comment); read racily only for messages.
  private int tries;
  private int retries;
  private int transparentRetries;
  private EndpointHandle lastEndpoint;

  private volatile ScheduledFuture<?> deadlineTimer;
  private volatile ScheduledFuture<?> pending;
  private volatile Attempt current;
  private volatile boolean timedOut;

  Exchange(HttpTransport transport, HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    this.transport = transport;
    this.request = request;
    this.handler = handler;
    this.service = HttpTransport.serviceOf(request.uri());
    this.method = request.method().toUpperCase(Locale.ROOT);
    this.clock = transport.mesh().clock();
  }

  /** The destination service the request's URI names. */
  String service() {
    return service;
  }

  // ---- RequestAttributes ----------------------------------------------------------------

  @Override
  public String path() {
    String p = request.uri().getRawPath();
    return p == null || p.isEmpty() ? "/" : p;
  }

  @Override
  public String method() {
    return method;
  }

  /** A header's first value; also the pseudo-headers {@code :authority} (or {@code host}), {@code :method}, {@code :path}, {@code :scheme}. */
  @Override
  public String header(String lowerCaseName) {
    if (lowerCaseName.isEmpty()) {
      return null;
    }
    if (lowerCaseName.charAt(0) == ':' || lowerCaseName.equals("host")) {
      URI u = request.uri();
      switch (lowerCaseName) {
        case ":authority":
        case "host":
          return u.getRawAuthority();
        case ":method":
          return method;
        case ":path":
          return u.getRawQuery() == null ? path() : path() + "?" + u.getRawQuery();
        case ":scheme":
          return u.getScheme();
        default:
          return null;
      }
    }
    Optional<String> v = request.headers().firstValue(lowerCaseName);
    return v.orElse(null);
  }

  // ---- drivers ----------------------------------------------------------------------------

  /** Runs the request on {@code routeTarget} without blocking; returns the caller's future. */
  CompletableFuture<HttpResponse<T>> sendAsync(RouteTarget routeTarget) {
    continueAsync(begin(routeTarget, false));
    return result;
  }

  private void continueAsync(long delay) {
    if (delay == 0) {
      Attempt a = prepare();
      if (a != null) {
        sendAsync(a);
      }
    } else if (delay > 0) {
      pending = schedule(() -> continueAsync(0), delay);
    }
  }

  private void sendAsync(Attempt a) {
    CompletableFuture<HttpResponse<T>> f;
    try {
      f = a.client.sendAsync(a.request, a);
    } catch (RuntimeException e) {
      target.record(a.endpoint, a.startNanos, Outcome.CANCELLED);
      result.completeExceptionally(e);
      return;
    }
    a.future = f;
    current = a;
    f.whenComplete((response, error) -> {
      try {
        continueAsync(finish(a, response, error));
      } catch (RuntimeException | Error e) {
        result.completeExceptionally(e);
        throw e;
      }
    });
    if (result.isDone()) {
      f.cancel(true);
    }
  }

  /** Runs the request on {@code routeTarget} on this thread and returns its response. */
  HttpResponse<T> send(RouteTarget routeTarget) throws IOException, InterruptedException {
    long delay = begin(routeTarget, true);
    while (delay != DONE) {
      if (delay > 0 && !pause(delay)) {
        break;
      }
      Attempt a = prepare();
      if (a == null) {
        break;
      }
      delay = sendBlocking(a);
    }
    return outcome(result);
  }

  private long sendBlocking(Attempt a) throws InterruptedException {
    current = a;
    HttpResponse<T> response;
    try {
      response = a.client.send(a.request, a);
    } catch (InterruptedException e) {
      result.cancel(false);
      finish(a, null, new CancellationException("interrupted"));
      throw e;
    } catch (IOException | RuntimeException e) {
      return finish(a, null, e);
    }
    return finish(a, response, null);
  }

  /** Waits out a backoff or delay on the caller's thread; false when the exchange ended meanwhile. */
  private boolean pause(long nanos) throws InterruptedException {
    try {
      result.get(nanos, TimeUnit.NANOSECONDS);
      return false;
    } catch (TimeoutException e) {
      return true;
    } catch (ExecutionException | CancellationException e) {
      return false;
    } catch (InterruptedException e) {
      result.cancel(false);
      throw e;
    }
  }

  /** The response of a completed future, or its failure rethrown as {@code HttpClient.send} would. */
  static <T> HttpResponse<T> outcome(CompletableFuture<HttpResponse<T>> f) throws IOException, InterruptedException {
    try {
      return f.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException) {
        throw (IOException) cause;
      }
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw new IOException(cause);
    }
  }

  // ---- steps ------------------------------------------------------------------------------

  /** Sets the deadline and applies fault injection; returns the delay before the first attempt, or {@link #DONE}. */
  private long begin(RouteTarget routeTarget, boolean onCallerThread) {
    this.target = routeTarget;
    this.blocking = onCallerThread;
    RoutePolicy route = routeTarget.route();
    this.retryPolicy = route.retries();
    this.idempotent = HttpOutcomes.idempotent(method);
    long routeTimeout = route.timeoutNanos();
    long own = request.timeout().isPresent() ? request.timeout().get().toNanos() : 0;
    this.routeTimeoutBinds = own <= 0 || (routeTimeout > 0 && routeTimeout <= own);
    this.timeoutNanos = routeTimeoutBinds ? routeTimeout : own;
    if (timeoutNanos > 0) {
      deadline = clock.nanoTime() + timeoutNanos;
      deadlineTimer = schedule(this::onDeadline, timeoutNanos);
      result.whenComplete((r, e) -> onDone(e));
    } else if (!blocking) {
      result.whenComplete((r, e) -> onDone(e));
    }
    FaultPolicy fault = route.fault();
    if (fault.drawAbort()) {
      int status = fault.abortHttpStatus() > 0 ? fault.abortHttpStatus()
          : HttpOutcomes.httpStatusOfGrpc(fault.abortGrpcStatus());
      InjectedResponse.of(request, status, route.name(), handler).whenComplete((r, e) -> {
        if (e != null) {
          result.completeExceptionally(HttpOutcomes.unwrap(e));
        } else {
          result.complete(r);
        }
      });
      return DONE;
    }
    return fault.drawDelay() ? fault.delayNanos() : 0;
  }

  /**
   * Readies the next attempt: deadline check, breaker permit, endpoint pick, rewritten request,
   * attempt begun. Returns null when the exchange is over instead.
   */
  private Attempt prepare() {
    if (result.isDone()) {
      return null;
    }
    long remaining = 0;
    if (timeoutNanos > 0) {
      remaining = deadline - clock.nanoTime();
      if (remaining <= 0) {
        onDeadline();
        return null;
      }
    }
    // read once per attempt, so its URI scheme and its client agree across a policy update
    ConnectionSettings settings = target.connectionSettings();
    String unsendable = transport.cannotSend(settings);
    if (unsendable != null) {
      result.completeExceptionally(new IOException("meshup: " + target.describe() + ": " + unsendable));
      return null;
    }
    Rejection rejection = target.tryAcquire();
    if (rejection != null) {
      result.completeExceptionally(unavailable(rejection));
      return null;
    }
    long perTryNanos = retryPolicy.perTryTimeoutNanos();
    boolean perTry = perTryNanos > 0 && (timeoutNanos == 0 || perTryNanos < remaining);
    long tryTimeout = perTry ? perTryNanos : remaining;
    EndpointHandle endpoint;
    HttpRequest rewritten;
    HttpClient client;
    try {
      endpoint = target.pick(lastEndpoint);
      if (endpoint == null) {
        target.release();
        target.reject(Rejection.NO_ENDPOINTS);
        result.completeExceptionally(unavailable(Rejection.NO_ENDPOINTS));
        return null;
      }
      rewritten = rewrite(endpoint, transport.scheme(settings), tryTimeout);
      client = transport.client(service, settings);
    } catch (RuntimeException e) {
      target.release();
      result.completeExceptionally(e);
      return null;
    }
    lastEndpoint = endpoint;
    tries++;
    return new Attempt(endpoint, client, rewritten, perTry, tryTimeout, target.begin(endpoint));
  }

  /** The request with the endpoint's address in place of the service name, and this try's timeout. */
  private HttpRequest rewrite(EndpointHandle endpoint, String scheme, long tryTimeoutNanos) {
    URI u = request.uri();
    String path = u.getRawPath();
    String query = u.getRawQuery();
    StringBuilder s = new StringBuilder(64).append(scheme).append(endpoint.endpoint().authority());
    if (path != null) {
      s.append(path);
    }
    if (query != null) {
      s.append('?').append(query);
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(request, ALL_HEADERS).uri(URI.create(s.toString()));
    if (tryTimeoutNanos > 0) {
      b.timeout(Duration.ofNanos(tryTimeoutNanos));
    }
    return b.build();
  }

  /**
   * Records how an attempt ended and decides what follows: {@link #DONE} (the result is complete),
   * 0 for another attempt now, or the backoff before a retry.
   */
  private long finish(Attempt a, HttpResponse<T> response, Throwable error) {
    Throwable cause = error == null ? null : HttpOutcomes.unwrap(error);
    Failure failure = cause == null ? null : HttpOutcomes.classify(cause);
    Outcome outcome;
    if (cause == null) {
      outcome = HttpOutcomes.ofStatus(response.statusCode());
    } else if (failure == Failure.CANCELLED) {
      outcome = timedOut ? Outcome.TIMEOUT : Outcome.CANCELLED;
    } else if (failure == Failure.OTHER && a.status != 0) {
      outcome = HttpOutcomes.ofStatus(a.status);
    } else {
      outcome = HttpOutcomes.ofFailure(failure);
    }
    target.record(a.endpoint, a.startNanos, outcome);
    if (result.isDone()) {
      return DONE;
    }
    if (a.retry) {
      return retryAfterBackoff(a, "status " + a.status);
    }
    if (cause == null) {
      result.complete(response);
      return DONE;
    }
    if (a.status != 0) {
      // the caller's handler has the response: its body failed, nothing can be replayed
      result.completeExceptionally(cause);
      return DONE;
    }
    switch (failure) {
      case NOT_SENT:
        if (transparentRetries < MAX_TRANSPARENT_RETRIES) {
          transparentRetries++;
          log.debug("{}: attempt on {} never connected ({}); replaying on another endpoint",
              target.describe(), a.endpoint.endpoint().id(), cause.toString());
          return 0;
        }
        if (HttpOutcomes.retriableFailure(failure, retryPolicy) && grantRetry(a)) {
          return retryAfterBackoff(a, "connect failure");
        }
        result.completeExceptionally(connectFailure(a, cause));
        return DONE;
      case TIMEOUT:
        if (!a.perTry && timeoutNanos > 0) {
          onDeadline();
          return DONE;
        }
        if (idempotent && HttpOutcomes.retriableFailure(failure, retryPolicy) && grantRetry(a)) {
          return retryAfterBackoff(a, "per-try timeout");
        }
        if (a.perTry) {
          HttpTimeoutException e = new HttpTimeoutException("meshup: " + target.describe() + ": try on "
              + a.endpoint.endpoint().authority() + " timed out after " + millis(a.tryTimeoutNanos)
              + " ms (perTryTimeout of route " + target.route().name() + ")");
          e.initCause(cause);
          result.completeExceptionally(e);
          return DONE;
        }
        break;
      case RESET:
        if (idempotent && HttpOutcomes.retriableFailure(failure, retryPolicy) && grantRetry(a)) {
          return retryAfterBackoff(a, cause.toString());
        }
        break;
      default:
        break;
    }
    result.completeExceptionally(cause);
    return DONE;
  }

  /**
   * Takes a route retry for {@code a} when attempts, deadline and budget allow one, and draws its
   * backoff: 25 ms doubling to 250 ms, jittered over the upper half.
   */
  private boolean grantRetry(Attempt a) {
    if (retries >= retryPolicy.attempts()) {
      return false;
    }
    long cap = Math.min(BACKOFF_MAX_NANOS, BACKOFF_BASE_NANOS << Math.min(retries, 10));
    long backoff = ThreadLocalRandom.current().nextLong(cap / 2, cap + 1);
    if (timeoutNanos > 0 && deadline - clock.nanoTime() <= backoff) {
      return false;
    }
    if (!target.tryRetry()) {
      return false;
    }
    retries++;
    a.backoffNanos = backoff;
    return true;
  }

  private long retryAfterBackoff(Attempt a, String why) {
    log.debug("{}: retry {} of {} after {} on {} (route {})", target.describe(), retries,
        retryPolicy.attempts(), why, a.endpoint.endpoint().id(), target.route().name());
    return a.backoffNanos;
  }

  /** The JDK's connect failure (often without a message), named: same type, the original as cause. */
  private IOException connectFailure(Attempt a, Throwable cause) {
    int n = tries;
    String msg = "meshup: " + target.describe() + ": could not connect to " + a.endpoint.endpoint().authority()
        + " (" + cause + "; " + n + (n == 1 ? " try)" : " tries)");
    IOException e = cause instanceof HttpConnectTimeoutException ? new HttpConnectTimeoutException(msg)
        : new ConnectException(msg);
    e.initCause(cause);
    return e;
  }

  private void onDeadline() {
    if (result.isDone()) {
      return;
    }
    timedOut = true;
    String what = routeTimeoutBinds ? "timeout of route " + target.route().name() : "the request's own timeout";
    int n = tries;
    result.completeExceptionally(new HttpTimeoutException("meshup: " + target.describe() + ": timed out after "
        + millis(timeoutNanos) + " ms (" + what + "; " + n + (n == 1 ? " try)" : " tries)")));
  }

  /**
   * Runs when the caller's future completes: stops the timers and, when it failed or was cancelled,
   * ends the attempt in flight. A response handed over is left alone: a streaming body handler
   * (such as {@code ofInputStream}) is still reading it.
   */
  private void onDone(Throwable failure) {
    ScheduledFuture<?> t = deadlineTimer;
    if (t != null) {
      t.cancel(false);
    }
    ScheduledFuture<?> p = pending;
    if (p != null) {
      p.cancel(false);
    }
    Attempt a = current;
    if (a != null && failure != null) {
      a.end();
    }
  }

  private ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    try {
      return transport.mesh().scheduler().schedule(() -> {
        try {
          task.run();
        } catch (RuntimeException | Error e) {
          result.completeExceptionally(e);
          throw e;
        }
      }, delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(new IOException("meshup: the mesh is closed; its scheduler refused a timer", e));
      return null;
    }
  }

  private MeshUnavailableException unavailable(Rejection rejection) {
    return new MeshUnavailableException(target.service(), target.subset(), target.describe(),
        target.route().name(), rejection);
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  /**
   * One try on one endpoint, and the JDK's body handler for it: on the response headers it decides
   * whether the status is retried (and then discards the body) or hands the response to the
   * caller's handler.
   */
  private final class Attempt implements HttpResponse.BodyHandler<T> {
    final EndpointHandle endpoint;
    /** The JDK client this attempt is sent with: TLS or not, as its request's scheme says. */
    final HttpClient client;
    final HttpRequest request;
    final boolean perTry;
    final long tryTimeoutNanos;
    final long startNanos;
    /** The JDK's future on the asynchronous path. */
    volatile CompletableFuture<HttpResponse<T>> future;
    /** The caller's body subscriber on the blocking path, when a deadline may have to end it. */
    volatile AbortableBodySubscriber<T> body;
    // Written by apply() before the JDK completes the attempt, read in finish().
    int status;
    boolean retry;
    long backoffNanos;

    Attempt(EndpointHandle endpoint, HttpClient client, HttpRequest request, boolean perTry, long tryTimeoutNanos,
        long startNanos) {
      this.endpoint = endpoint;
      this.client = client;
      this.request = request;
      this.perTry = perTry;
      this.tryTimeoutNanos = tryTimeoutNanos;
      this.startNanos = startNanos;
    }

    @Override
    public HttpResponse.BodySubscriber<T> apply(HttpResponse.ResponseInfo info) {
      status = info.statusCode();
      HttpResponse.BodySubscriber<T> s;
      if (idempotent && !result.isDone() && HttpOutcomes.retriableStatus(status, retryPolicy) && grantRetry(this)) {
        retry = true;
        s = HttpResponse.BodySubscribers.replacing(null);
      } else {
        s = handler.apply(info);
      }
      if (!blocking || timeoutNanos == 0) {
        return s;
      }
      AbortableBodySubscriber<T> guarded = new AbortableBodySubscriber<>(s);
      body = guarded;
      if (result.isCompletedExceptionally()) {
        guarded.abort(bodyTimeout());
      }
      return guarded;
    }

    /** Ends this attempt if it is still running: the exchange is over. */
    void end() {
      CompletableFuture<HttpResponse<T>> f = future;
      if (f != null && !f.isDone()) {
        f.cancel(true);
      }
      AbortableBodySubscriber<T> b = body;
      if (b != null) {
        b.abort(bodyTimeout());
      }
    }

    private HttpTimeoutException bodyTimeout() {
      return new HttpTimeoutException("meshup: " + target.describe() + ": timed out after "
          + millis(timeoutNanos) + " ms while reading the response body");
    }
  }
}
