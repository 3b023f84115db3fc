package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.grpc.MeshChannels;
import io.meshup.grpc.MeshServers;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The starter's gRPC server with mutual TLS: a payments context (certificates from a development
 * CA in a folder shared with its callers, STRICT mode, an AuthorizationPolicy allowing only
 * checkout's SPIFFE identity) called by meshes of other services over real loopback TLS. Checkout
 * is served and its identity reaches the handler; another service is refused by the policy; a
 * plaintext caller does not get through the handshake.
 */
class MutualTlsGrpcTest {
  static final SimpleRequest HI = SimpleRequest.newBuilder().setRequestMessage("hi").build();

  @TempDir Path caDir;

  @Configuration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class App {
    @Bean
    SimpleServiceGrpc.SimpleServiceImplBase payments() {
      return new SimpleServiceGrpc.SimpleServiceImplBase() {
        @Override
        public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
          out.onNext(SimpleResponse.newBuilder().setResponseMessage("paid for " + MeshServers.CALLER.get()).build());
          out.onCompleted();
        }
      };
    }
  }

  Mesh caller(String service, int port) {
    return Mesh.fromYamlString("""
        mesh:
          service: %s
          tls: { certificates: dev, trustDomain: dev.test, caDirectory: "%s" }
          registry: { type: static, static: { services: { payments: [{ address: 127.0.0.1, port: %d }] } } }
        """.formatted(service, caDir, port));
  }

  @Test
  void onlyTheAllowedPeerIsServedAndItsIdentityReachesTheHandler() throws Exception {
    try (ConfigurableApplicationContext ctx = new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE)
        .properties("spring.config.name=mtls", "mesh.tls.ca-directory=" + caDir, "meshup.grpc.server.port=0",
            "meshup.grpc.server.address=127.0.0.1")
        .run()) {
      int port = ctx.getBean(MeshGrpcServer.class).port();
      try (Mesh checkout = caller("checkout", port); Mesh intruder = caller("intruder", port)) {
        ManagedChannel c = MeshChannels.forService(checkout, "payments");
        ManagedChannel i = MeshChannels.forService(intruder, "payments");
        ManagedChannel plain = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
          assertThat(SimpleServiceGrpc.newBlockingStub(c).unaryRpc(HI).getResponseMessage())
              .startsWith("paid for ").contains("dev.test").endsWith("svc/checkout");
          assertThatThrownBy(() -> SimpleServiceGrpc.newBlockingStub(i).unaryRpc(HI))
              .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(e.getStatus().getDescription()).contains("AuthorizationPolicy checkout-only");
              });
          assertThatThrownBy(() -> SimpleServiceGrpc.newBlockingStub(plain).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(HI))
              .isInstanceOfSatisfying(StatusRuntimeException.class,
                  e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        } finally {
          c.shutdownNow();
          i.shutdownNow();
          plain.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    }
  }
}
