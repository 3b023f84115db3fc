package io.meshup.grpc;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.meshup.core.Mesh;
import io.meshup.grpc.internal.MeshManagedChannel;
import java.util.function.Consumer;

/**
 * gRPC channels to logical services, routed through the mesh on every call.
 *
 * <pre>{@code
 * ManagedChannel channel = MeshChannels.forService(mesh, "payments");
 * PaymentsGrpc.PaymentsBlockingStub stub = PaymentsGrpc.newBlockingStub(channel);
 * }</pre>
 *
 * <p>Stubs made on the channel are ordinary grpc-java stubs. Each call is matched by its full
 * method name ({@code /package.Service/Method}) and metadata against the service's
 * VirtualService, sent to a weighted subset through its circuit breaker and load balancer, bounded
 * by the route timeout (unless the caller's deadline is earlier), retried per the route within the
 * destination's retry budget, and retried transparently when it never reached a server.
 *
 * <p>The channel keeps one HTTP/2 connection per endpoint it has used. Shutting it down closes
 * them. When the mesh has certificates ({@link Mesh#certificates()}), every connection uses mutual
 * TLS with the current credentials at each handshake and accepts only a server whose SPIFFE ID is
 * {@code service} in the mesh's trust domain (host names are not checked); otherwise connections
 * are plaintext.
 */
public final class MeshChannels {
  private MeshChannels() {}

  /**
   * A channel to {@code service}.
   *
   * @throws IllegalArgumentException when the mesh's registry cannot have the service
   */
  public static ManagedChannel forService(Mesh mesh, String service) {
    return forService(mesh, service, b -> {});
  }

  /**
   * A channel to {@code service} whose per-endpoint connections are further configured by
   * {@code configurer} (message size limits, executors, interceptors of your own...). The
   * configurer runs for every endpoint connection, after MeshUp's own settings.
   */
  public static ManagedChannel forService(Mesh mesh, String service, Consumer<NettyChannelBuilder> configurer) {
    return new MeshManagedChannel(mesh, mesh.router(service), configurer);
  }
}
