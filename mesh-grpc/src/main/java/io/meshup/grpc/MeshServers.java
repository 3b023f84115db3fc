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
 * <p>In every mode, each call is authorized against the mesh's AuthorizationPolicy and
 * PeerAuthentication documents in force at that moment, before the application's handler runs:
 * a refused call ends with
 * {@code PERMISSION_DENIED} ({@code UNAUTHENTICATED} for a plaintext caller under a STRICT
 * PeerAuthentication) and a description naming the policy and rule, and counts in
 * {@code mesh.authz.denials{policy,rule}}. The call's path is {@code /package.Service/Method}, its
 * method {@code POST}. Interceptors added to the builder later run before this one, as grpc-java
 * runs the last added first.
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
    NettyServerBuilder b = NettyServerBuilder.forAddress(address)
        .intercept(new AuthorizingInterceptor(authorizer, mode, mesh.meterRegistry()))
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
    return b.protocolNegotiator(new ModeNegotiator(TlsContexts.server(source, mesh.clock(), false, mesh.meterRegistry()),
        mode, authorizer, mesh.meterRegistry()));
  }

  /**
   * Authorizes each call against the mesh's current AuthorizationPolicy and PeerAuthentication
   * documents before the handler runs, refusing it with PERMISSION_DENIED (or UNAUTHENTICATED for a
   * plaintext caller under STRICT) and a description naming the policy and rule; then puts the TLS
   * peer's identity into the call's context under {@link #CALLER}.
   */
  private static final class AuthorizingInterceptor implements ServerInterceptor {
    private static final String METHOD = "POST";
    private static final String NO_CERTIFICATE =
        "meshup: the TLS client presented no certificate; mutual TLS requires one (counted as mesh.tls.rejections{reason=no_certificate})";
    private static final ServerCall.Listener<Object> REFUSED = new ServerCall.Listener<>() {};

    private final InboundAuthorizer authorizer;
    private final MtlsMode mode;
    private final MeterRegistry meters;
    private final io.micrometer.core.instrument.Counter strictDenials;
    /** "/" + full method name, per registered method (bounded by the server's methods). */
    private final ConcurrentHashMap<String, String> paths = new ConcurrentHashMap<>();

    AuthorizingInterceptor(InboundAuthorizer authorizer, MtlsMode mode, MeterRegistry meters) {
      this.authorizer = authorizer;
      this.mode = mode;
      this.meters = meters;
      this.strictDenials = io.micrometer.core.instrument.Counter.builder("mesh.authz.denials")
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
      InboundAuthorizer.Decision decision = authorizer.authorize(caller, path, METHOD);
      if (!decision.allowed()) {
        Status status = decision.kind() == InboundAuthorizer.Kind.UNAUTHENTICATED ? Status.UNAUTHENTICATED : Status.PERMISSION_DENIED;
        call.close(status.withDescription(decision.message()), new Metadata());
        return (ServerCall.Listener<ReqT>) REFUSED;
      }
      if (caller == null) {
        if (mode == MtlsMode.STRICT && authorizer.peerAuthenticationMode() == null) {
          // a plaintext connection opened while a PeerAuthentication allowed it, which is gone now:
          // the server's own STRICT mode holds for every call, not only for new connections
          strictDenials.increment();
          call.close(Status.UNAUTHENTICATED.withDescription("meshup: this server requires mutual TLS (mesh.tls.mode"
              + " STRICT, no PeerAuthentication in force); the call came in plaintext"), new Metadata());
          return (ServerCall.Listener<ReqT>) REFUSED;
        }
        return next.startCall(call, headers);
      }
      return Contexts.interceptCall(Context.current().withValue(CALLER, caller), call, headers, next);
    }
  }
}
