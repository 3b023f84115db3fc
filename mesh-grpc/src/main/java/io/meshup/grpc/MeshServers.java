package io.meshup.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.internal.tls.TlsPeers;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.spi.CertificateSource;
import io.meshup.grpc.internal.tls.ModeNegotiator;
import io.meshup.grpc.internal.tls.TlsContexts;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLSession;

/**
 * gRPC servers that accept the mesh's mutual TLS. The builder it returns is an ordinary
 * {@link NettyServerBuilder}: add services and build it as usual.
 *
 * <pre>{@code
 * Server server = MeshServers.forPort(mesh, 8443).addService(new PaymentsImpl()).build().start();
 * // in a call:
 * WorkloadIdentity caller = MeshServers.CALLER.get();   // spiffe://.../svc/checkout, or null
 * }</pre>
 *
 * <p>Per {@link MtlsMode}: STRICT accepts only TLS connections whose client presents a certificate
 * that verifies against the mesh's current trust bundle and carries a SPIFFE ID of its trust
 * domain; PERMISSIVE accepts those and plaintext connections on the same port (told apart by
 * their first bytes); DISABLE accepts plaintext only. Certificates are read from
 * {@link Mesh#certificates()} at every handshake, so rotation needs no restart.
 *
 * <p>The mode is decided when each connection opens: a PeerAuthentication in force for this
 * service (from any policy source, hot-reloaded) overrides the mode the server was built with, so
 * a policy update moves a running server between STRICT, PERMISSIVE and DISABLE without a
 * restart. Connections already open keep their transport; on a plaintext one, a STRICT
 * PeerAuthentication refuses each call with {@code UNAUTHENTICATED}. A mesh without certificates
 * builds a plaintext-only server.
 *
 * <p>In every mode, each call is authorized against the mesh's AuthorizationPolicy,
 * PeerAuthentication and RequestAuthentication documents in force at that moment, before the
 * application's handler runs: a refused call ends with {@code PERMISSION_DENIED}
 * ({@code UNAUTHENTICATED} for a plaintext caller under a STRICT PeerAuthentication or an invalid
 * JWT) and a description naming the policy and rule, and counts in
 * {@code mesh.authz.denials{policy,rule}}. The call's path is {@code /package.Service/Method}, its
 * method {@code POST}, its host the {@code :authority}; its metadata are the request headers
 * {@code when} conditions and JWT rules read; the peer's address, the server's local port and
 * the TLS server name are {@code source.ip}, {@code destination.port} and {@code connection.sni}.
 * A verified JWT is removed from the metadata the handler sees unless {@code forwardOriginalToken}.
 * A call that a CUSTOM policy sends to an external authorizer is held, not blocking any thread,
 * until it answers (within the provider's timeout), then started or refused. Interceptors added to the builder later run before this one, as grpc-java
 * runs the last added first.
 *
 * <p>Each call, refused or not, is timed in {@code mesh.server.requests{protocol=grpc,caller,status}}
 * and, with a tracer installed ({@code Mesh.Builder.openTelemetry}), gets a SERVER span that
 * continues the trace context the caller sent ({@code traceparent}); the span is current while the
 * handler's callbacks run, so calls the handler makes through the mesh on that thread join the trace.
 *
 * <p>The server permits HTTP/2 keepalive pings every 5 s on connections with calls in flight, which
 * mesh clients send to tell a frozen server from a slow one.
 */
public final class MeshServers {
  /**
   * The caller's verified identity in the {@link Context} of each call; null when the connection is
   * plaintext (PERMISSIVE or DISABLE).
   */
  public static final Context.Key<WorkloadIdentity> CALLER = Context.key("meshup-caller");

  private MeshServers() {}

  /** A server builder for {@code port} on all interfaces, in the mesh's {@link Mesh#mtlsMode()}. */
  public static NettyServerBuilder forPort(Mesh mesh, int port) {
    return forAddress(mesh, new InetSocketAddress(port), mesh.mtlsMode());
  }

  /**
   * A server builder for {@code address} in {@code mode}.
   *
   * @throws IllegalStateException when the mode needs TLS and the mesh has no certificates
   */
  public static NettyServerBuilder forAddress(Mesh mesh, SocketAddress address, MtlsMode mode) {
    InboundAuthorizer authorizer = mesh.authorizer();
    io.meshup.grpc.internal.TelemetryInterceptor telemetry = new io.meshup.grpc.internal.TelemetryInterceptor(
        mesh.inboundTelemetry());
    NettyServerBuilder b = NettyServerBuilder.forAddress(address)
        .intercept(new AuthorizingInterceptor(authorizer, mode, mesh.meterRegistry()))
        // outside authorization: refused calls count too (mesh.server.requests, SERVER spans)
        .intercept(telemetry)
        .addStreamTracerFactory(telemetry.bytes())
        // mesh clients ping a connection with calls in flight after 10 s without reads, to find a frozen
        // peer; allow that (grpc-java's default allows one ping per 5 minutes)
        .permitKeepAliveTime(5, java.util.concurrent.TimeUnit.SECONDS);
    if (mesh.certificates().isEmpty()) {
      if (mode != MtlsMode.DISABLE) {
        throw new IllegalStateException(
            "mTLS mode " + mode + " needs certificates; set mesh.tls.certificates or Mesh.Builder.certificates(...)");
      }
      return b;
    }
    CertificateSource source = mesh.certificates().get();
    // the handshake may finish without a client certificate, so that such a client is counted
    // (no_certificate); every call on its connection is then refused
    return b.protocolNegotiator(new ModeNegotiator(TlsContexts.server(source, mesh.clock(), false,
        mesh.trustDomainAliases(), mesh.meterRegistry()),
        mode, authorizer, mesh.meterRegistry()));
  }

  /**
   * Authorizes each call against the mesh's current security policies before the handler runs,
   * refusing it with the status its decision maps to (PERMISSION_DENIED, UNAUTHENTICATED for a
   * plaintext caller under STRICT or an invalid JWT, or the gRPC equivalent of an external
   * authorizer's HTTP status, as Envoy maps them) and a description naming the policy and rule; then
   * puts the TLS peer's identity into the call's context under {@link #CALLER}. A call an external
   * authorizer must decide is held (its listener events queued) until the answer arrives, then
   * started or refused on the thread that delivered the answer.
   */
  private static final class AuthorizingInterceptor implements ServerInterceptor {
    private static final String NO_CERTIFICATE =
        "meshup: the TLS client presented no certificate; mutual TLS requires one (counted as mesh.tls.rejections{reason=no_certificate})";
    private static final ServerCall.Listener<Object> REFUSED = new ServerCall.Listener<>() {};

    private final InboundAuthorizer authorizer;
    private final MtlsMode mode;
    private final MeterRegistry meters;
    private final io.micrometer.core.instrument.Counter strictDenials;
    /** "/" + full method name, per registered method (bounded by the server's methods). */
    private final ConcurrentHashMap<String, String> paths = new ConcurrentHashMap<>();
    /** One request view per thread: the authorizer reads it only while it decides. */
    private final ThreadLocal<GrpcRequest> views = ThreadLocal.withInitial(GrpcRequest::new);

    AuthorizingInterceptor(InboundAuthorizer authorizer, MtlsMode mode, MeterRegistry meters) {
      this.authorizer = authorizer;
      this.mode = mode;
      this.meters = meters;
      this.strictDenials = io.micrometer.core.instrument.Counter.builder(Metrics.AUTHZ_DENIALS)
          .description("Inbound calls refused by authorization policy").baseUnit("calls")
          .tags("policy", "mesh.tls.mode", "rule", "mtls").register(meters);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
      if (TlsPeers.refusedWithoutCertificate(session, meters)) {
        call.close(Status.UNAUTHENTICATED.withDescription(NO_CERTIFICATE), new Metadata());
        return (ServerCall.Listener<ReqT>) REFUSED;
      }
      WorkloadIdentity caller = TlsPeers.identityOf(session);
      String name = call.getMethodDescriptor().getFullMethodName();
      String path = paths.get(name);
      if (path == null) {
        path = paths.computeIfAbsent(name, n -> "/" + n);
      }
      GrpcRequest view = views.get();
      view.set(caller, path, headers, call, session);
      InboundAuthorizer.Decision decision;
      try {
        decision = authorizer.authorize(view);
      } finally {
        view.clear();
      }
      if (decision.kind() == InboundAuthorizer.Kind.PENDING) {
        Context context = Context.current().withValue(CALLER, caller);
        HeldListener<ReqT> held = new HeldListener<>();
        decision.pending().whenComplete((d, error) -> {
          ServerCall.Listener<ReqT> l;
          try {
            l = error != null || d == null
                ? refuse(call, Status.INTERNAL.withDescription("meshup: the authorization could not be decided"), new Metadata())
                : proceed(call, headers, next, caller, d, context);
          } catch (RuntimeException e) {
            call.close(Status.INTERNAL.withDescription("meshup: the authorization could not be applied"), new Metadata());
            l = (ServerCall.Listener<ReqT>) REFUSED;
          }
          held.start(l);
        });
        return held;
      }
      return proceed(call, headers, next, caller, decision, null);
    }

    @SuppressWarnings("unchecked")
    private <ReqT, RespT> ServerCall.Listener<ReqT> proceed(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next, WorkloadIdentity caller, InboundAuthorizer.Decision decision, Context context) {
      if (!decision.allowed()) {
        Metadata trailers = new Metadata();
        for (java.util.Map.Entry<String, String> h : decision.responseHeaders()) {
          put(trailers, h.getKey(), h.getValue());
        }
        return refuse(call, status(decision).withDescription(decision.message()), trailers);
      }
      for (String h : decision.requestHeadersToRemove()) {
        headers.discardAll(key(h));
      }
      for (java.util.Map.Entry<String, String> h : decision.requestHeadersToSet()) {
        headers.discardAll(key(h.getKey()));
        put(headers, h.getKey(), h.getValue());
      }
      if (caller == null) {
        if (mode == MtlsMode.STRICT && authorizer.peerAuthenticationMode(localPort(call)) == null) {
          // a plaintext connection opened while a PeerAuthentication allowed it, which is gone now:
          // the server's own STRICT mode holds for every call, not only for new connections
          strictDenials.increment();
          return refuse(call, Status.UNAUTHENTICATED.withDescription("meshup: this server requires mutual TLS (mesh.tls.mode"
              + " STRICT, no PeerAuthentication in force); the call came in plaintext"), new Metadata());
        }
        return context == null ? next.startCall(call, headers) : Contexts.interceptCall(context, call, headers, next);
      }
      Context c = context != null ? context : Context.current().withValue(CALLER, caller);
      return Contexts.interceptCall(c, call, headers, next);
    }

    @SuppressWarnings("unchecked")
    private static <ReqT> ServerCall.Listener<ReqT> refuse(ServerCall<ReqT, ?> call, Status status, Metadata trailers) {
      call.close(status, trailers);
      return (ServerCall.Listener<ReqT>) REFUSED;
    }

    private static int localPort(ServerCall<?, ?> call) {
      SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR);
      return a instanceof InetSocketAddress i ? i.getPort() : 0;
    }

    private static void put(Metadata m, String name, String value) {
      try {
        if (!name.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
          m.put(key(name), value);
        }
      } catch (IllegalArgumentException e) {
        // a header name or value gRPC cannot carry is dropped
      }
    }

    /** The gRPC status of a refusal: Envoy's mapping of HTTP statuses to gRPC codes. */
    private static Status status(InboundAuthorizer.Decision d) {
      if (d.kind() == InboundAuthorizer.Kind.UNAUTHENTICATED) {
        return Status.UNAUTHENTICATED;
      }
      switch (d.httpStatus()) {
        case 400:
          return Status.INTERNAL;
        case 401:
          return Status.UNAUTHENTICATED;
        case 403:
          return Status.PERMISSION_DENIED;
        case 404:
          return Status.UNIMPLEMENTED;
        case 429:
        case 502:
        case 503:
        case 504:
          return Status.UNAVAILABLE;
        default:
          return d.httpStatus() == 0 ? Status.PERMISSION_DENIED : Status.UNKNOWN;
      }
    }
  }

  private static final ConcurrentHashMap<String, Metadata.Key<String>> KEYS = new ConcurrentHashMap<>();

  private static Metadata.Key<String> key(String name) {
    Metadata.Key<String> k = KEYS.get(name);
    if (k == null) {
      k = Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER);
      if (KEYS.size() < 10_000) {
        KEYS.putIfAbsent(name, k);
      }
    }
    return k;
  }

  /** What the authorizer reads of a gRPC call; set for one decision, then cleared; reused by its thread. */
  private static final class GrpcRequest implements InboundAuthorizer.Request {
    private WorkloadIdentity caller;
    private String path;
    private Metadata headers;
    private ServerCall<?, ?> call;
    private SSLSession session;

    void set(WorkloadIdentity caller, String path, Metadata headers, ServerCall<?, ?> call, SSLSession session) {
      this.caller = caller;
      this.path = path;
      this.headers = headers;
      this.call = call;
      this.session = session;
    }

    void clear() {
      caller = null;
      headers = null;
      call = null;
      session = null;
    }

    @Override
    public WorkloadIdentity caller() {
      return caller;
    }

    @Override
    public String path() {
      return path;
    }

    @Override
    public String method() {
      return "POST";
    }

    @Override
    public String header(String name) {
      if (name.equals("host") || name.equals(":authority")) {
        return call.getAuthority();
      }
      if (name.endsWith(Metadata.BINARY_HEADER_SUFFIX) || name.startsWith(":")) {
        return null;
      }
      Metadata.Key<String> k;
      try {
        k = key(name);
      } catch (IllegalArgumentException e) {
        return null;
      }
      if (!headers.containsKey(k)) {
        return null;
      }
      Iterable<String> all = headers.getAll(k);
      java.util.Iterator<String> it = all.iterator();
      String first = it.next();
      if (!it.hasNext()) {
        return first;
      }
      StringBuilder b = new StringBuilder(first);
      while (it.hasNext()) {
        b.append(',').append(it.next());
      }
      return b.toString();
    }

    @Override
    public java.util.List<String> headerNames() {
      java.util.List<String> names = new java.util.ArrayList<>();
      for (String k : headers.keys()) {
        if (!k.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
          names.add(k);
        }
      }
      return names;
    }

    @Override
    public String host() {
      return call.getAuthority();
    }

    @Override
    public java.net.InetAddress sourceAddress() {
      SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      return a instanceof InetSocketAddress i ? i.getAddress() : null;
    }

    @Override
    public int sourcePort() {
      SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      return a instanceof InetSocketAddress i ? i.getPort() : 0;
    }

    @Override
    public java.net.InetAddress destinationAddress() {
      SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR);
      return a instanceof InetSocketAddress i ? i.getAddress() : null;
    }

    @Override
    public int destinationPort() {
      return AuthorizingInterceptor.localPort(call);
    }

    @Override
    public String serverName() {
      return TlsPeers.serverName(session);
    }

    @Override
    public String scheme() {
      return session == null ? "http" : "https";
    }

    @Override
    public String protocol() {
      return "HTTP/2";
    }
  }

  /**
   * The listener of a call held for an external authorizer: events that arrive before the answer
   * are queued and replayed, in order, to the listener the answer starts (grpc-java's
   * delayed-listener pattern).
   */
  private static final class HeldListener<ReqT> extends ServerCall.Listener<ReqT> {
    private volatile boolean passThrough;
    private java.util.List<Runnable> queue = new java.util.ArrayList<>();
    private ServerCall.Listener<ReqT> delegate;

    void start(ServerCall.Listener<ReqT> listener) {
      synchronized (this) {
        delegate = listener;
      }
      while (true) {
        java.util.List<Runnable> run;
        synchronized (this) {
          if (queue.isEmpty()) {
            queue = null;
            passThrough = true;
            return;
          }
          run = queue;
          queue = new java.util.ArrayList<>();
        }
        for (Runnable r : run) {
          r.run();
        }
      }
    }

    private void deliver(Runnable r) {
      if (!passThrough) {
        synchronized (this) {
          if (!passThrough) {
            queue.add(r);
            return;
          }
        }
      }
      r.run();
    }

    @Override
    public void onMessage(ReqT message) {
      deliver(() -> delegate.onMessage(message));
    }

    @Override
    public void onHalfClose() {
      deliver(() -> delegate.onHalfClose());
    }

    @Override
    public void onCancel() {
      deliver(() -> delegate.onCancel());
    }

    @Override
    public void onComplete() {
      deliver(() -> delegate.onComplete());
    }

    @Override
    public void onReady() {
      deliver(() -> delegate.onReady());
    }
  }
}
