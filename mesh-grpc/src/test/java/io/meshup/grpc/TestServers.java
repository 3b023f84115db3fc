package io.meshup.grpc;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** Real gRPC servers on ephemeral loopback ports; each answers with its own id. */
final class TestServers implements AutoCloseable {
  /** One server and the knobs a test turns. */
  static final class Instance {
    final String id;
    final Map<String, String> labels;
    final AtomicInteger calls = new AtomicInteger();
    /** When set, every call fails with this status. */
    final AtomicReference<Status> failWith = new AtomicReference<>();
    /** When positive, this many next calls fail with UNAVAILABLE. */
    final AtomicInteger failNext = new AtomicInteger();
    /** When set, calls wait for it before answering. */
    final AtomicReference<CountDownLatch> hold = new AtomicReference<>();
    Server server;

    Instance(String id, Map<String, String> labels) {
      this.id = id;
      this.labels = labels;
    }

    Endpoint endpoint() {
      return new Endpoint(id, "127.0.0.1", server.getPort(), labels, 1);
    }
  }

  final List<Instance> instances = new ArrayList<>();

  Instance start(String id, Map<String, String> labels) throws IOException {
    Instance in = new Instance(id, labels);
    in.server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            in.calls.incrementAndGet();
            CountDownLatch latch = in.hold.get();
            if (latch != null) {
              try {
                latch.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            Status fail = in.failWith.get();
            if (fail == null && in.failNext.getAndUpdate(n -> Math.max(n - 1, 0)) > 0) {
              fail = Status.UNAVAILABLE.withDescription("failing on purpose");
            }
            if (fail != null) {
              out.onError(fail.asRuntimeException());
              return;
            }
            out.onNext(SimpleResponse.newBuilder().setResponseMessage(in.id).build());
            out.onCompleted();
          }
        })
        .build()
        .start();
    instances.add(in);
    return in;
  }

  List<Endpoint> endpoints() {
    return instances.stream().map(Instance::endpoint).toList();
  }

  /** A loopback port with nothing listening. */
  static int deadPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    for (Instance in : instances) {
      CountDownLatch l = in.hold.get();
      if (l != null) {
        l.countDown();
      }
      in.server.shutdownNow();
    }
    for (Instance in : instances) {
      in.server.awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
