package io.meshup.grpc.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.grpc.MeshServers;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * gRPC paths are matched exactly and never normalized: a policy that denies
 * {@code /grpc.testing.SimpleService/UnaryRpc} is not walked past by any spelling of it, because
 * the server looks the method up by its exact name (an unknown name never reaches a handler) and
 * the authorizer sees the registered name. Calls go out on a bare grpc-java channel with the
 * {@code :path} written as given.
 */
class GrpcPathSecurityTableTest {
  static final String DENY = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: deny-unary }
      spec:
        action: DENY
        rules:
        - to: [{ operation: { paths: ["/grpc.testing.SimpleService/UnaryRpc"] } }]
      """;
  static final AtomicInteger handled = new AtomicInteger();
  static Mesh mesh;
  static Server server;
  static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    mesh = Mesh.builder().service("payments").policies("security", DENY).build();
    server = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.DISABLE)
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            handled.incrementAndGet();
            out.onNext(SimpleResponse.newBuilder().setResponseMessage("handled").build());
            out.onCompleted();
          }
        })
        .build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    mesh.close();
  }

  static final Set<String> NOT_HANDLED = Set.of("PERMISSION_DENIED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE");

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      "grpc.testing.SimpleService/UnaryRpc            | PERMISSION_DENIED",
      "grpc.testing.SimpleService/unaryRpc            | UNIMPLEMENTED",
      "grpc.testing.SimpleService/UNARYRPC            | UNIMPLEMENTED",
      "grpc.testing.simpleservice/UnaryRpc            | UNIMPLEMENTED",
      "%67rpc.testing.SimpleService/UnaryRpc          | not handled",
      "grpc.testing.SimpleService/%55naryRpc          | not handled",
      "grpc.testing.SimpleService/./UnaryRpc          | not handled",
      "grpc.testing.SimpleService/../SimpleService/UnaryRpc | not handled",
      "grpc.testing.SimpleService//UnaryRpc           | not handled",
      "./grpc.testing.SimpleService/UnaryRpc          | not handled",
      "/grpc.testing.SimpleService/UnaryRpc           | not handled",
      "grpc.testing.SimpleService/UnaryRpc/           | not handled",
      "grpc.testing.SimpleService/UnaryRpc?x=1        | not handled",
      "grpc.testing.SimpleService/UnaryRpc#x          | not handled",
      "grpc.testing.SimpleService/UnaryRpc%00         | not handled",
      "grpc.testing.SimpleService%2FUnaryRpc          | not handled",
      "grpc.testing.SimpleService\\UnaryRpc           | not handled",
      "grpc.testing.SimpleService/UnaryRpc%20         | not handled",
  })
  void aGrpcPathIsMatchedExactly(String fullMethodName, String expected) {
    int before = handled.get();
    MethodDescriptor<SimpleRequest, SimpleResponse> m = SimpleServiceGrpc.getUnaryRpcMethod().toBuilder()
        .setFullMethodName(fullMethodName).build();
    String code;
    try {
      ClientCalls.blockingUnaryCall(channel, m, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
          SimpleRequest.getDefaultInstance());
      code = "OK";
    } catch (StatusRuntimeException e) {
      code = e.getStatus().getCode().name();
    }
    assertThat(handled.get()).as("BYPASS: the handler ran (status %s)", code).isEqualTo(before);
    if (expected.equals("not handled")) {
      assertThat(code).isIn(NOT_HANDLED);
    } else {
      assertThat(code).isEqualTo(expected);
    }
  }

  @org.junit.jupiter.api.Test
  void theExactNameRunsOnceThePolicyAllowsIt() {
    mesh.updatePolicies("security", "");
    try {
      assertThat(ClientCalls.blockingUnaryCall(channel, SimpleServiceGrpc.getUnaryRpcMethod(),
          CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), SimpleRequest.getDefaultInstance())
          .getResponseMessage()).isEqualTo("handled");
    } finally {
      mesh.updatePolicies("security", DENY);
    }
  }
}
