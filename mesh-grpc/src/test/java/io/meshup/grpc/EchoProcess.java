package io.meshup.grpc;

import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A gRPC echo server in a JVM of its own ({@link io.meshup.core.testing.ChildProcess}): answers
 * each unary call with its id, after writing the request's message as one line to its log before
 * it answers (so calls executed survive a SIGKILL of the process). Args: id, log file.
 */
public final class EchoProcess {
  private EchoProcess() {}

  public static void main(String[] args) throws Exception {
    String id = args[0];
    OutputStream log = new FileOutputStream(args[1], true);
    Mesh mesh = Mesh.builder().service("echo").build();
    Server server = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.DISABLE)
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            try {
              synchronized (log) {
                log.write((request.getRequestMessage() + "\n").getBytes(StandardCharsets.UTF_8));
                log.flush();
              }
            } catch (IOException e) {
              out.onError(e);
              return;
            }
            out.onNext(SimpleResponse.newBuilder().setResponseMessage(id).build());
            out.onCompleted();
          }
        })
        .build().start();
    System.out.println("PORT " + server.getPort());
    System.out.flush();
    server.awaitTermination();
  }
}
