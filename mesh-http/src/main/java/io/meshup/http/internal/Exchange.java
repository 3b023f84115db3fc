package io.meshup.http.internal;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.EngineCall;
import io.meshup.core.call.Protocol;
import io.meshup.core.route.EndpointHandle;
import io.meshup.http.MeshNoRouteException;
import io.meshup.http.MeshUnavailableException;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiPredicate;

/**
 * One HTTP request through the mesh: the core's call engine runs its lifecycle ({@link EngineCall});
 * this class adapts the JDK client to it. It is the request's {@code RequestAttributes} (reading the
 * {@link HttpRequest} without copying); each attempt is the request rewritten to the picked endpoint
 * ({@code https} with mutual TLS, verified against the service the attempt was routed to) and sent
 * with the JDK client, with the attempt's time limit as the JDK's timeout and, in header
 * {@value #TIMEOUT_HEADER}, for the server. Whether a response status is retried is decided when its
 * headers arrive, so the body of a retried response is discarded, never handed to the caller's
 * handler.
 *
 * <p>Two drivers: {@link #sendAsync} sends each attempt with {@code HttpClient.sendAsync} and never
 * blocks; {@link #send} runs every attempt on the caller's thread with the JDK's blocking
 * {@code send}, which spares the hop to another thread the JDK's {@code sendAsync} makes, and waits
 * out backoffs there.
 */
final class Exchange<T> extends EngineCall {
  /** Tells the server how long the attempt may take, in milliseconds, as Envoy does. */
  static final String TIMEOUT_HEADER = "x-envoy-expected-rq-timeout-ms";
  private static final BiPredicate<String, String> ALL_HEADERS = (name, value) -> true;

  private final HttpTransport transport;
  private final HttpRequest request;
  private final HttpResponse.BodyHandler<T> handler;
  private final String service;
  private final String method;
  private final boolean blocking;
  private final CompletableFuture<HttpResponse<T>> result = new CompletableFuture<>();
  private final boolean hasTimeout;

  private volatile Attempt current;
  /** The blocking driver's next attempt, handed from the engine to the caller's thread. */
  private volatile Attempt handoff;
  private final Thread caller;

  Exchange(HttpTransport transport, String service, HttpRequest request, HttpResponse.BodyHandler<T> handler,
      boolean blocking) {
    this(transport, transport.router(service), service, request, handler, blocking);
  }

  private Exchange(HttpTransport transport, io.meshup.core.route.ServiceRouter router, String service, HttpRequest request,
      HttpResponse.BodyHandler<T> handler, boolean blocking) {
    super(transport.mesh().callEngine(), router, Protocol.HTTP);
    this.transport = transport;
    this.request = request;
    this.handler = handler;
    this.service = service;
    this.method = request.method().toUpperCase(Locale.ROOT);
    this.blocking = blocking;
    this.caller = blocking ? Thread.currentThread() : null;
    this.hasTimeout = request.timeout().isPresent();
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

  @Override
  public String authority() {
    String a = request.uri().getRawAuthority();
    return a == null ? "" : a;
  }

  @Override
  public String scheme() {
    String sc = request.uri().getScheme();
    return sc == null ? "http" : sc.toLowerCase(Locale.ROOT);
  }

  @Override
  public int port() {
    return Math.max(request.uri().getPort(), 0);
  }

  @Override
  public String query() {
    return request.uri().getRawQuery();
  }

  // ---- drivers ----------------------------------------------------------------------------

  private void begin() {
    long deadline = hasTimeout ? engine().clock().nanoTime() + saturated(request.timeout().get()) : 0;
    start(deadline, hasTimeout, HttpOutcomes.idempotent(method), false);
  }

  /** A duration in nanos, capped so that adding it to a clock reading cannot wrap. */
  private static long saturated(Duration d) {
    try {
      return Math.min(d.toNanos(), Long.MAX_VALUE / 4);
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4;
    }
  }

  /** Runs the request without blocking; returns the caller's future (cancelling it cancels the request). */
  CompletableFuture<HttpResponse<T>> sendAsync() {
    result.whenComplete((r, e) -> {
      if (result.isCancelled()) {
        cancel("the caller cancelled its future", null);
      }
    });
    begin();
    return result;
  }

  /** Runs the request on this thread and returns its response. */
  HttpResponse<T> send() throws IOException, InterruptedException {
    begin();
    while (true) {
      Attempt a = handoff;
      if (a != null) {
        handoff = null;
        runBlocking(a);
        continue;
      }
      if (result.isDone()) {
        break;
      }
      LockSupport.park(this);
      if (Thread.interrupted()) {
        cancel("interrupted", null);
        throw new InterruptedException("interrupted while waiting for " + service);
      }
    }
    return outcome(result);
  }

  private void runBlocking(Attempt a) throws InterruptedException {
    HttpResponse<T> response;
    try {
      response = a.client.send(a.request, a);
    } catch (InterruptedException e) {
      a.closed(null, new CancellationException("interrupted"));
      cancel("interrupted", e);
      throw e;
    } catch (IOException | RuntimeException e) {
      a.closed(null, e);
      return;
    }
    a.closed(response, null);
  }

  /** The response of a completed future, or its failure rethrown as {@code HttpClient.send} would. */
  static <T> HttpResponse<T> outcome(CompletableFuture<HttpResponse<T>> f) throws IOException, InterruptedException {
    try {
      return f.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IOException(cause);
    }
  }

  // ---- the engine's hooks -----------------------------------------------------------------

  @Override
  protected void startAttempt() {
    EndpointHandle endpoint = endpoint();
    Attempt a = new Attempt(attempt(), endpoint.endpoint().authority());
    current = a;
    try {
      a.client = transport.client(endpoint.service(), connectionSettings());
      a.request = rewrite(endpoint, transport.scheme(connectionSettings()), attemptTimeoutNanos());
      if (blocking) {
        handoff = a;
        LockSupport.unpark(caller);
        return;
      }
      CompletableFuture<HttpResponse<T>> f = a.client.sendAsync(a.request, a);
      a.future = f;
      f.whenComplete(a::closed);
    } catch (RuntimeException e) {
      a.closed(null, e);
    }
  }

  /** A copy of this request to the route's mirror, sent without waiting and its response discarded. */
  @Override
  protected void mirror(io.meshup.core.route.ServiceRouter mirror) {
    Exchange<Void> shadow = new Exchange<>(transport, mirror, mirror.service(), request,
        HttpResponse.BodyHandlers.discarding(), false);
    shadow.sendAsync();
  }

  @Override
  protected void responseDecided(int n, boolean commit) {
    Attempt a = current;
    if (a != null && a.number == n) {
      a.decided(commit);
    }
  }

  @Override
  protected void cancelAttempt(CallFailure why) {
    Attempt a = current;
    if (a == null) {
      return;
    }
    CompletableFuture<HttpResponse<T>> f = a.future;
    if (f != null) {
      f.cancel(true);
    }
    AbortableBodySubscriber<T> b = a.body;
    if (b != null) {
      b.abort(why.kind() == CallFailure.Kind.DEADLINE_EXCEEDED ? new HttpTimeoutException(why.message())
          : new IOException(why.message()));
    }
  }

  @Override
  protected void completeWithAttempt() {
    Attempt a = current;
    if (a.error == null) {
      result.complete(editsResponseHeaders() ? new EditedResponse<>(a.response, edited(a.response.headers())) : a.response);
    } else if (a.end == AttemptEnd.NOT_SENT) {
      result.completeExceptionally(connectFailure(a));
    } else {
      result.completeExceptionally(a.error);
    }
    wake();
  }

  @Override
  protected void fail(CallFailure f) {
    switch (f.kind()) {
      case NO_ROUTE:
        result.completeExceptionally(new MeshNoRouteException(service, method, path()));
        break;
      case REJECTED:
        result.completeExceptionally(new MeshUnavailableException(target().service(), target().subset(),
            target().describe(), target().route().name(), f.rejection()));
        break;
      case DEADLINE_EXCEEDED:
      case ATTEMPT_TIMEOUT:
        result.completeExceptionally(new HttpTimeoutException(f.message()));
        break;
      case CANCELLED:
        if (!result.isDone()) {
          CancellationException c = new CancellationException(f.message());
          if (f.cause() != null) {
            c.initCause(f.cause());
          }
          result.completeExceptionally(c);
        }
        break;
      case DIRECT_RESPONSE:
        completeWith(InjectedResponse.direct(request, f.abortHttpStatus(), f.body(), f.location(), f.headers(),
            this::editResponseHeaders, handler));
        return;
      case FAULT_ABORT: {
        int status = f.abortHttpStatus() > 0 ? f.abortHttpStatus() : HttpOutcomes.httpStatusOfGrpc(f.abortGrpcStatus());
        completeWith(InjectedResponse.of(request, status, target().route().name(), handler));
        return;
      }
      default: // NO_CERTIFICATES, SHUT_DOWN, INTERNAL
        result.completeExceptionally(new IOException(f.message(), f.cause()));
        break;
    }
    wake();
  }

  private void wake() {
    if (blocking) {
      LockSupport.unpark(caller);
    }
  }

  /** The headers after the route's response header changes. */
  private java.net.http.HttpHeaders edited(java.net.http.HttpHeaders headers) {
    EditedHeaders e = new EditedHeaders(headers);
    editResponseHeaders(e);
    return e.headers();
  }

  /**
   * The request with the endpoint's address in place of the service name, the route's path rewrite
   * and header changes, and this try's timeout.
   */
  private HttpRequest rewrite(EndpointHandle endpoint, String scheme, long tryTimeoutNanos) {
    URI u = request.uri();
    String path = pathRewritten() ? attemptPath() : u.getRawPath();
    String query = u.getRawQuery();
    StringBuilder s = new StringBuilder(64).append(scheme).append(endpoint.endpoint().authority());
    if (path != null) {
      s.append(path);
    }
    if (query != null) {
      s.append('?').append(query);
    }
    HttpRequest.Builder b;
    if (editsRequestHeaders()) {
      RequestEdits edits = new RequestEdits();
      editRequestHeaders(edits);
      b = HttpRequest.newBuilder(request, (name, value) -> !edits.drops(name)).uri(URI.create(s.toString()));
      edits.applyTo(b, rewrittenAuthority());
    } else {
      b = HttpRequest.newBuilder(request, ALL_HEADERS).uri(URI.create(s.toString()));
    }
    if (tryTimeoutNanos > 0) {
      b.timeout(Duration.ofNanos(tryTimeoutNanos));
      b.setHeader(TIMEOUT_HEADER, Long.toString(Math.max(1, TimeUnit.NANOSECONDS.toMillis(tryTimeoutNanos))));
    }
    if (traced()) {
      traceHeaders(b::setHeader);
    }
    return b.build();
  }

  /** The JDK's connect failure (often without a message), named: same type, the original as cause. */
  private IOException connectFailure(Attempt a) {
    int n = attempts();
    String msg = "meshup: " + target().describe() + ": could not connect to " + a.authority
        + " (" + a.error + "; " + n + (n == 1 ? " try)" : " tries)");
    IOException e = a.error instanceof HttpConnectTimeoutException ? new HttpConnectTimeoutException(msg)
        : new ConnectException(msg);
    e.initCause(a.error);
    return e;
  }

  /**
   * One try on one endpoint, and the JDK's body handler for it: on the response headers it asks the
   * engine whether the status is retried (and then discards the body) or goes to the caller's
   * handler.
   */
  private static final int UNDECIDED = 0;
  private static final int COMMITTED = 1;
  private static final int DISCARDED = 2;

  /** The response's status and version with the route's header changes, for the caller's handler. */
  private HttpResponse.ResponseInfo edited(HttpResponse.ResponseInfo info) {
    java.net.http.HttpHeaders h = edited(info.headers());
    return new HttpResponse.ResponseInfo() {
      @Override
      public int statusCode() {
        return info.statusCode();
      }

      @Override
      public java.net.http.HttpHeaders headers() {
        return h;
      }

      @Override
      public HttpClient.Version version() {
        return info.version();
      }
    };
  }

  /**
   * The route's request header changes, recorded and then applied to the builder of a copy of the
   * request whose edited headers were left out. The JDK restricts {@code Host}: an authority rewrite
   * needs {@code -Djdk.httpclient.allowRestrictedHeaders=host}, and without it the attempt fails
   * saying so.
   */
  private static final class RequestEdits implements io.meshup.core.route.HeaderEdits {
    private final java.util.Set<String> dropped = new java.util.HashSet<>();
    private final java.util.List<String[]> sets = new java.util.ArrayList<>();
    private final java.util.List<String[]> adds = new java.util.ArrayList<>();

    @Override
    public void set(String name, String value) {
      dropped.add(name);
      sets.add(new String[] {name, value});
    }

    @Override
    public void add(String name, String value) {
      adds.add(new String[] {name, value});
    }

    @Override
    public void remove(String name) {
      dropped.add(name);
      sets.removeIf(e -> e[0].equals(name));
      adds.removeIf(e -> e[0].equals(name));
    }

    boolean drops(String name) {
      return dropped.contains(name.toLowerCase(Locale.ROOT));
    }

    void applyTo(HttpRequest.Builder b, String authority) {
      try {
        for (String[] e : sets) {
          b.setHeader(e[0], e[1]);
        }
        for (String[] e : adds) {
          b.header(e[0], e[1]);
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException("meshup: the route's header changes cannot be sent by the JDK client: "
            + e.getMessage(), e);
      }
      if (authority != null) {
        try {
          b.setHeader("Host", authority);
        } catch (IllegalArgumentException e) {
          throw new IllegalStateException("meshup: the route rewrites the authority to " + authority + ", and the JDK"
              + " client sends a Host header only with -Djdk.httpclient.allowRestrictedHeaders=host", e);
        }
      }
    }
  }

  private final class Attempt implements HttpResponse.BodyHandler<T> {
    final int number;
    final String authority;
    HttpClient client;
    HttpRequest request;
    volatile CompletableFuture<HttpResponse<T>> future;
    /** The caller's body subscriber, when a deadline may have to end its body. */
    volatile AbortableBodySubscriber<T> body;
    // written by the JDK's threads before the attempt completes, read once it did
    volatile int status;
    volatile HttpResponse<T> response;
    volatile Throwable error;
    volatile AttemptEnd end;
    // a verdict that came later (Verdict.LATER): guarded by this
    private DeferredBody<T> deferred;
    private int verdict = UNDECIDED;

    Attempt(int number, String authority) {
      this.number = number;
      this.authority = authority;
    }

    @Override
    public HttpResponse.BodySubscriber<T> apply(HttpResponse.ResponseInfo info) {
      status = info.statusCode();
      switch (attemptResponded(number, status)) {
        case RETRY:
          return HttpResponse.BodySubscribers.replacing(null);
        case COMMIT:
          return callerSubscriber(info);
        default:
          synchronized (this) {
            if (verdict == UNDECIDED) {
              DeferredBody<T> d = new DeferredBody<>(info, this::callerSubscriber);
              deferred = d;
              return d;
            }
          }
          return verdict == COMMITTED ? callerSubscriber(info) : HttpResponse.BodySubscribers.replacing(null);
      }
    }

    /** The engine's verdict on this attempt's response, after {@link EngineCall.Verdict#LATER}. */
    void decided(boolean commit) {
      DeferredBody<T> d;
      synchronized (this) {
        d = deferred;
        if (d == null) {
          verdict = commit ? COMMITTED : DISCARDED; // apply has not made its subscriber yet
          return;
        }
      }
      d.decide(commit);
    }

    /** The caller's handler's subscriber, guarded when a deadline may have to end its body. */
    HttpResponse.BodySubscriber<T> callerSubscriber(HttpResponse.ResponseInfo info) {
      HttpResponse.BodySubscriber<T> s = handler.apply(editsResponseHeaders() ? edited(info) : info);
      if (!blocking || remainingNanos() == Long.MAX_VALUE) {
        return s;
      }
      AbortableBodySubscriber<T> guarded = new AbortableBodySubscriber<>(s);
      body = guarded;
      return guarded;
    }

    void closed(HttpResponse<T> r, Throwable e) {
      if (e == null) {
        response = r;
        end = AttemptEnd.STATUS;
        attemptClosed(number, AttemptEnd.STATUS, r.statusCode());
        return;
      }
      Throwable cause = HttpOutcomes.unwrap(e);
      error = cause;
      AttemptEnd how = HttpOutcomes.classify(cause);
      end = how;
      attemptClosed(number, how, status);
    }
  }

  /** Ends the call with the response MeshUp made itself (a direct response or an injected fault). */
  private void completeWith(CompletableFuture<HttpResponse<T>> injected) {
    injected.whenComplete((r, e) -> {
      if (e != null) {
        result.completeExceptionally(HttpOutcomes.unwrap(e));
      } else {
        result.complete(r);
      }
      wake();
    });
  }
}
