package io.meshup.grpc;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.netty.NettyChannelBuilder;
import io.meshup.core.Mesh;
import io.meshup.grpc.internal.GrpcConnections;
import io.meshup.grpc.internal.MeshChannelBuilder;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * gRPC channels to logical services, routed through the mesh on every call.
 *
 * <pre>{@code
 * ManagedChannel channel = MeshChannels.forService(mesh, "payments");
 * // or, as frameworks that build channels from a target do, with the process's only mesh:
 * ManagedChannel same = ManagedChannelBuilder.forTarget("meshup:///payments").build();
 * PaymentsGrpc.PaymentsBlockingStub stub = PaymentsGrpc.newBlockingStub(channel);
 * }</pre>
 *
 * <p>Stubs made on the channel are ordinary grpc-java stubs. Each call runs the mesh's call engine
 * ({@link io.meshup.core.call.EngineCall}): it is matched by its full method name
 * ({@code /package.Service/Method}) and metadata against the service's VirtualService, sent to a
 * weighted subset through its circuit breaker and load balancer, bounded by the earliest of the
 * caller's deadline (a {@link io.grpc.Context} deadline included) and the route timeout, retried per
 * the route within the destination's retry budget, and replayed on another endpoint when it never
 * reached a server. Interceptors set on a {@link #builder} run once per logical call.
 *
 * <p>All channels of a mesh share one HTTP/2 connection per endpoint, which lives as long as the
 * endpoint is in the registry (and its destination in use). When the mesh has certificates
 * ({@link Mesh#certificates()}), connections use mutual TLS with the current credentials at each
 * handshake and accept only a server whose SPIFFE ID is the service the call was routed to (host
 * names are not checked); otherwise they are plaintext. Connections ping an unresponsive peer after
 * 10 s and close after 10 s more without an answer, so calls on a frozen endpoint fail and it is
 * ejected; servers other than {@link MeshServers}' must permit such pings
 * ({@code permitKeepAliveTime(10, SECONDS)}), or the destination's DestinationRule sets
 * {@code connectionPool.tcp.tcpKeepalive.time} to what they permit.
 */
public final class MeshChannels {
  private MeshChannels() {}

  /**
   * A channel to {@code service}.
   *
   * @throws IllegalArgumentException when the mesh's registry cannot have the service
   */
  public static ManagedChannel forService(Mesh mesh, String service) {
    return builder(mesh, service).build();
  }

  /**
   * A builder of channels to {@code service}: add interceptors (they run once per logical call),
   * an executor, {@code maxInboundMessageSize} or {@code overrideAuthority}, then {@code build()}.
   */
  public static ManagedChannelBuilder<?> builder(Mesh mesh, String service) {
    return MeshChannelBuilder.forService(Objects.requireNonNull(mesh, "mesh"), Objects.requireNonNull(service, "service"));
  }

  /**
   * Further configures every connection {@code mesh} opens from now on (event loops, flow control
   * windows, message size limits of the transport...), after MeshUp's own settings. Call it before
   * the first call; connections already open keep their settings.
   */
  public static void configureConnections(Mesh mesh, Consumer<NettyChannelBuilder> configurer) {
    GrpcConnections.of(mesh).configure(Objects.requireNonNull(configurer, "configurer"));
  }
}
