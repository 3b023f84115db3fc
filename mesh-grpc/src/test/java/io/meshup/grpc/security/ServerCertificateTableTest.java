package io.meshup.grpc.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.identity.HostileCertificates;
import io.meshup.core.internal.tls.CertificateSecurityTableTest;
import io.meshup.grpc.MeshChannels;
import io.micrometer.core.instrument.Counter;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The client side of X509-SVID validation, end to end: a mesh channel to {@code payments} calls a
 * plain grpc-netty server (not MeshUp's) that presents a hostile certificate, one row of
 * {@link CertificateSecurityTableTest} each. A refused server fails the call with UNAVAILABLE
 * before anything is sent, counted in {@code mesh.tls.rejections{side=client,reason}} under that
 * reason only. It runs a second time with BoringSSL (netty-tcnative), which refuses a server leaf
 * without {@code digitalSignature} itself, uncounted.
 */
class ServerCertificateTableTest {
  static Stream<Arguments> rows() {
    return CertificateSecurityTableTest.rows().filter(r -> r.get()[0].equals("client"))
        .map(r -> Arguments.of(r.get()[1], r.get()[2], r.get()[3]));
  }

  static boolean refusedByBoringSsl(HostileCertificates.Leaf leaf) {
    return Boolean.getBoolean("meshup.test.expectOpenSsl") && leaf.keyUsage() != null
        && (leaf.keyUsage() & org.bouncycastle.asn1.x509.KeyUsage.digitalSignature) == 0;
  }

  @ParameterizedTest(name = "{0} -> {2}")
  @MethodSource("rows")
  void aHostileServerCertificateFailsTheCallAndIsCounted(String what, HostileCertificates.Leaf leaf, String verdict)
      throws Exception {
    HostileCertificates.Minted m = HostileCertificates.mint(CertificateSecurityTableTest.CA, leaf);
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(GrpcSslContexts.configure(io.netty.handler.ssl.SslContextBuilder.forServer(m.key(), m.chain())).build())
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            out.onNext(SimpleResponse.newBuilder().setResponseMessage("served").build());
            out.onCompleted();
          }
        })
        .build().start();
    try (Mesh mesh = Mesh.builder().service("checkout").certificates(CertificateSecurityTableTest.CA.source("checkout"))
        .endpoints("payments", List.of(new Endpoint("p1", "127.0.0.1", server.getPort(), Map.of(), 1))).build()) {
      ManagedChannel ch = MeshChannels.forService(mesh, "payments");
      try {
        String outcome;
        try {
          outcome = SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
              .unaryRpc(SimpleRequest.getDefaultInstance()).getResponseMessage();
        } catch (StatusRuntimeException e) {
          outcome = e.getStatus().getCode().name();
        }
        double counted = 0;
        double others = 0;
        for (Counter c : mesh.meterRegistry().find("mesh.tls.rejections").counters()) {
          if (c.getId().getTag("reason").equals(verdict)) {
            counted += c.count();
          } else {
            others += c.count();
          }
        }
        if (verdict.equals("accept")) {
          assertThat(outcome).isEqualTo("served");
          assertThat(others).isZero();
        } else if (refusedByBoringSsl(leaf)) {
          // BoringSSL refuses a server leaf whose key usage lacks digitalSignature itself, during
          // the handshake, before any trust manager is asked: refused, but not counted
          assertThat(outcome).isEqualTo(Status.Code.UNAVAILABLE.name());
          assertThat(counted + others).isZero();
        } else {
          assertThat(outcome).isEqualTo(Status.Code.UNAVAILABLE.name());
          assertThat(counted).as("counted as %s", verdict).isGreaterThanOrEqualTo(1.0);
          assertThat(others).as("counted under no other reason").isZero();
        }
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
