package io.meshup.etcd;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.grpc.MeshChannels;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Real gRPC servers on loopback and mesh channels to them, closed together. Not thread-safe. */
final class TestServers implements AutoCloseable {
  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();

  private final List<Server> servers = new ArrayList<>();
  private final List<AutoCloseable> closers = new ArrayList<>();

  /** A server on a free loopback port that answers every call with {@code id}. */
  Server server(String id) throws IOException {
    Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            out.onNext(SimpleResponse.newBuilder().setResponseMessage(id).build());
            out.onCompleted();
          }
        }).build().start();
    servers.add(s);
    return s;
  }

  /** Closes {@code c} with the rest, in reverse order. */
  <T extends AutoCloseable> T closeLater(T c) {
    closers.add(c);
    return c;
  }

  /** A blocking stub whose channel routes through {@code mesh} to {@code service}. */
  SimpleServiceGrpc.SimpleServiceBlockingStub stub(Mesh mesh, String service) {
    ManagedChannel ch = MeshChannels.forService(mesh, service);
    closers.add(() -> ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return SimpleServiceGrpc.newBlockingStub(ch);
  }

  /** Sends {@code n} calls; counts answers by server id. */
  static Map<String, Integer> send(SimpleServiceGrpc.SimpleServiceBlockingStub stub, int n) {
    Map<String, Integer> seen = new ConcurrentHashMap<>();
    for (int i = 0; i < n; i++) {
      seen.merge(stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(REQ).getResponseMessage(), 1, Integer::sum);
    }
    return seen;
  }

  @Override
  public void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
    for (Server s : servers) {
      s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
