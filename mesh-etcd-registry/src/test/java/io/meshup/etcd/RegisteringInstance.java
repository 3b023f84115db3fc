package io.meshup.etcd;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

/**
 * A service instance in a JVM of its own, for tests that kill or freeze it: a gRPC server on a free
 * loopback port, registered in etcd by its mesh with a lease. Prints {@code PORT <n>} once
 * registered, then runs until killed.
 *
 * <p>Arguments: etcd endpoints, service name, lease TTL (such as {@code 2s}).
 */
public final class RegisteringInstance {
  private RegisteringInstance() {}

  public static void main(String[] args) throws Exception {
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            out.onNext(SimpleResponse.newBuilder().setResponseMessage("child").build());
            out.onCompleted();
          }
        }).build().start();
    Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: etcd
            etcd:
              endpoints: ["%s"]
              registration: { port: %d, ttl: %s, drainTime: 0s }
        """.formatted(args[1], args[0], server.getPort(), args[2]));
    System.out.println("PORT " + server.getPort());
    System.out.flush();
    new CountDownLatch(1).await();
    mesh.close();
  }
}
