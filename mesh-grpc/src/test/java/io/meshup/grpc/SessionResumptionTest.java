package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.grpc.internal.tls.TlsContexts;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.ssl.SslContext;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Reconnects through one client TLS context (as a channel does after a connection drops) handshake
 * afresh: a resumed session would present the leaf of its first handshake.
 */
class SessionResumptionTest {
  @Test
  void newConnectionsOfOneClientContextPresentTheRotatedLeaf() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test");
    try (TlsTestServers.Running server = TlsTestServers.start("payments", ca.source("payments"), MtlsMode.STRICT)) {
      DevCertificateAuthority.Source client = ca.source("checkout");
      SslContext ctx = TlsContexts.client(client, MeshClock.system(), "payments", new SimpleMeterRegistry());
      for (int i = 0; i < 3; i++) {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).sslContext(ctx).build();
        SimpleServiceGrpc.newBlockingStub(ch).unaryRpc(SimpleRequest.getDefaultInstance());
        ch.shutdownNow();
        ch.awaitTermination(5, TimeUnit.SECONDS);
        client.rotate();
      }

      assertThat(server.callerSerials.stream().distinct().count()).isEqualTo(3);
    }
  }
}
