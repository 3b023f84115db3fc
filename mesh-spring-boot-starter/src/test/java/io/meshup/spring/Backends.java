package io.meshup.spring;

import com.sun.net.httpserver.HttpServer;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real servers on ephemeral loopback ports for the tests' destinations: gRPC {@code SimpleService}
 * servers answering their own id, and JDK HTTP servers answering {@code <id> <method> <path>}.
 */
final class Backends implements AutoCloseable {
  private final List<Server> grpc = new ArrayList<>();
  private final List<HttpServer> http = new ArrayList<>();

  /** A gRPC server whose unary calls answer {@code id}; returns its port. */
  int grpc(String id) {
    try {
      Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
            @Override
            public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
              out.onNext(SimpleResponse.newBuilder().setResponseMessage(id).build());
              out.onCompleted();
            }
          })
          .build().start();
      grpc.add(s);
      return s.getPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An HTTP server whose every request is answered 200 {@code <id> <method> <path>}; returns its port. */
  int http(String id) {
    try {
      HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      s.createContext("/", exchange -> {
        try (exchange) {
          exchange.getRequestBody().readAllBytes();
          byte[] body = (id + " " + exchange.getRequestMethod() + " " + exchange.getRequestURI().getRawPath())
              .getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        }
      });
      s.start();
      http.add(s);
      return s.getAddress().getPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    for (Server s : grpc) {
      s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (HttpServer s : http) {
      s.stop(0);
    }
  }
}
