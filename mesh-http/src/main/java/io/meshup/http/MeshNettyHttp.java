package io.meshup.http;

import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.http.internal.NettyAdapter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import java.util.Objects;

/**
 * Inbound HTTP/1.1 on a Netty server, with the mesh's mutual TLS and authorization. Needs
 * {@code io.netty:netty-handler} and {@code io.netty:netty-codec-http} on the class path (optional
 * dependencies of mesh-http). Create one per server, then one handler per connection, placed right
 * after the HTTP codec:
 *
 * <pre>{@code
 * MeshNettyHttp meshHttp = MeshNettyHttp.create(mesh);   // once: builds the TLS context
 * new ServerBootstrap().childHandler(new ChannelInitializer<SocketChannel>() {
 *   protected void initChannel(SocketChannel ch) {
 *     ch.pipeline().addLast(new HttpServerCodec(), meshHttp.newHandler(), new YourHandler());
 *   }
 * });
 * // in YourHandler:
 * WorkloadIdentity caller = MeshNettyHttp.caller(ctx.channel());   // or null for plaintext
 * }</pre>
 *
 * <p>When the mesh has certificates, the handler installs at the head of its pipeline, when added,
 * a sniffer that reads the first five bytes of the connection and applies the mutual TLS mode in
 * force at that moment: a PeerAuthentication's for this service (hot-reloaded), else the mode the
 * adapter was built with. STRICT accepts only TLS, PERMISSIVE both TLS and plaintext on one port,
 * DISABLE only plaintext; a connection the mode refuses is closed and counted in
 * {@code mesh.server.connections.refused{mode,transport}}. A TLS connection gets an
 * {@code SslHandler} (JDK provider) that presents this workload's certificate and requires the
 * client's, which must verify against the mesh's current trust bundle and carry a SPIFFE ID of
 * its trust domain; a failed handshake closes the connection (logged at debug, counted in
 * {@code mesh.tls.rejections}). Certificates are read at every handshake, so rotation needs no
 * restart. Connections already open keep their transport. Without certificates the adapter serves
 * plaintext only (DISABLE). The pipeline must have no {@code SslHandler} of its own.
 *
 * <p>Each {@code HttpRequest} is first normalized per {@link Mesh#pathNormalization()} (Istio's
 * options; a target that cannot be made unambiguous, or a method not in upper case, is answered
 * 400 and the connection closed, counted in {@code mesh.server.requests.rejected{reason}}), then
 * authorized against the mesh's AuthorizationPolicy and PeerAuthentication documents (and Consul
 * intentions) in force at that moment, with its normalized path (no query) and method. An allowed
 * request goes on with its {@code uri} set to the normalized path (and the original query), its
 * content unchanged. A TLS client that presented no certificate is counted
 * ({@code mesh.tls.rejections{reason=no_certificate}}) and its connection closed. A refused one goes no
 * further, nor does its content: the handler answers 403 (401 for a plaintext caller under a
 * STRICT PeerAuthentication) with a {@code text/plain} body naming the policy and rule
 * ({@code meshup: denied by AuthorizationPolicy deny-legacy rules[0]}) and the headers
 * {@value io.meshup.http.internal.Denials#POLICY_HEADER} and
 * {@value io.meshup.http.internal.Denials#RULE_HEADER}, keeping the connection open when the
 * request allows; it counts in {@code mesh.authz.denials{policy,rule}}.
 *
 * <p>RequestAuthentication and CUSTOM policies apply too: a request whose JWT fails is answered
 * 401; a request an external authorizer must decide is held with what follows it on the
 * connection (reading paused) until the answer returns to the event loop, within the provider's
 * timeout. Conditions see the request's headers, the peer's address, the local port and the TLS
 * server name; a PeerAuthentication's {@code portLevelMtls} applies by the local port.
 *
 * <p>Thread-safe; each handler runs on its connection's event loop and never blocks.
 */
public final class MeshNettyHttp {
  private final NettyAdapter adapter;

  private MeshNettyHttp(NettyAdapter adapter) {
    this.adapter = adapter;
  }

  /**
   * An adapter in the mesh's {@link Mesh#mtlsMode()}.
   *
   * @throws IllegalStateException when the mode needs TLS and the mesh has no certificates
   */
  public static MeshNettyHttp create(Mesh mesh) {
    return create(mesh, mesh.mtlsMode());
  }

  /**
   * An adapter in {@code mode}.
   *
   * @throws IllegalStateException when {@code mode} needs TLS and the mesh has no certificates
   */
  public static MeshNettyHttp create(Mesh mesh, MtlsMode mode) {
    return new MeshNettyHttp(new NettyAdapter(Objects.requireNonNull(mesh, "mesh"), Objects.requireNonNull(mode, "mode")));
  }

  /** The mode it was built with; a PeerAuthentication in force overrides it for each new connection. */
  public MtlsMode mode() {
    return adapter.mode();
  }

  /** A new handler for one connection, to be placed right after the HTTP server codec; not sharable. */
  public ChannelHandler newHandler() {
    return adapter.newHandler();
  }

  /**
   * The verified SPIFFE identity of the channel's TLS peer, or null when the connection is
   * plaintext. Read from its TLS session (once per session).
   */
  public static WorkloadIdentity caller(Channel channel) {
    return NettyAdapter.caller(channel);
  }
}
