package io.meshup.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.http.internal.JdkServers;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * Inbound HTTP on the JDK's built-in server ({@code com.sun.net.httpserver}), with the mesh's
 * mutual TLS and authorization. The server returned is bound, not started: create contexts, set an
 * executor and start it as usual.
 *
 * <pre>{@code
 * HttpServer server = MeshHttpServers.jdk(mesh, new InetSocketAddress(8443));
 * server.createContext("/", exchange -> {
 *   WorkloadIdentity caller = MeshHttpServers.caller(exchange);   // spiffe://.../svc/checkout
 *   ...
 * });
 * server.start();
 * }</pre>
 *
 * <p>Per {@link MtlsMode}: STRICT serves HTTPS only, presents this workload's certificate and
 * requires each client's, which must verify against the mesh's current trust bundle and carry a
 * SPIFFE ID of its trust domain; the server is an {@code HttpsServer}. DISABLE serves plaintext
 * only. PERMISSIVE (TLS and plaintext on one port) is refused: the JDK server cannot tell them
 * apart on one port, so run a STRICT and a DISABLE server on two ports, or use
 * {@link MeshNettyHttp}. Certificates are read at every handshake, so rotation needs no restart.
 * The server lets TLS sessions be resumed for 5 minutes; MeshUp's clients never resume one. The
 * transport is fixed when the server is built: unlike {@link MeshNettyHttp}, a PeerAuthentication
 * cannot move it between TLS and plaintext, though a STRICT one refuses each plaintext request.
 *
 * <p>Every context created on the returned server normalizes each request's path per
 * {@link Mesh#pathNormalization()} (a target that cannot be made unambiguous, or a method not in
 * upper case, is answered 400, counted in {@code mesh.server.requests.rejected{reason}}) and
 * authorizes it against the mesh's AuthorizationPolicy and PeerAuthentication documents (and
 * Consul intentions) in force at that moment, before its handler and its other filters run, with
 * the normalized path (no query) and method. The handler then sees that path: when normalization
 * changed it, the exchange it gets returns the normalized path (and the original query) from
 * {@code getRequestURI()} and runs in the context that path belongs to. A TLS client that
 * presented no certificate is answered 401 and counted
 * ({@code mesh.tls.rejections{reason=no_certificate}}). A refused request is answered with 403 (401 for a plaintext caller under a STRICT
 * PeerAuthentication), a {@code text/plain} body naming the policy and rule
 * ({@code meshup: denied by AuthorizationPolicy deny-legacy rules[0]}), and the headers
 * {@value io.meshup.http.internal.Denials#POLICY_HEADER} and
 * {@value io.meshup.http.internal.Denials#RULE_HEADER}; it counts in
 * {@code mesh.authz.denials{policy,rule}}.
 *
 * <p>The same holds for RequestAuthentication (a request whose JWT fails is answered 401 with
 * {@code www-authenticate}; a verified token is removed from the headers the handler sees unless
 * {@code forwardOriginalToken}) and for CUSTOM policies: the dispatcher thread does not wait for
 * the external authorizer; the exchange goes on to its handler (or is refused with the
 * authorizer's status, body and headers) on the thread that delivers the answer, within the
 * provider's timeout. Conditions see the request's headers, the peer's address, the local port and
 * the TLS server name.
 *
 * <p>Stateless; thread-safe.
 */
public final class MeshHttpServers {
  private MeshHttpServers() {}

  /**
   * A server bound to {@code address} in the mesh's {@link Mesh#mtlsMode()}.
   *
   * @throws IllegalArgumentException when the mode is PERMISSIVE (see the class documentation)
   * @throws IOException when the address cannot be bound
   */
  public static HttpServer jdk(Mesh mesh, InetSocketAddress address) throws IOException {
    return jdk(mesh, address, mesh.mtlsMode());
  }

  /**
   * A server bound to {@code address} in {@code mode}: an {@code HttpsServer} for STRICT, a
   * plaintext {@code HttpServer} for DISABLE.
   *
   * @throws IllegalArgumentException when {@code mode} is PERMISSIVE (see the class documentation)
   * @throws IllegalStateException when the mode is STRICT and the mesh has no certificates
   * @throws IOException when the address cannot be bound
   */
  public static HttpServer jdk(Mesh mesh, InetSocketAddress address, MtlsMode mode) throws IOException {
    return JdkServers.create(Objects.requireNonNull(mesh, "mesh"), Objects.requireNonNull(address, "address"),
        Objects.requireNonNull(mode, "mode"));
  }

  /**
   * The caller's verified SPIFFE identity, or null when the exchange came in plaintext. Read from
   * the connection's TLS session (once per session); call it from a handler of a server built here.
   */
  public static WorkloadIdentity caller(HttpExchange exchange) {
    return JdkServers.caller(exchange);
  }
}
