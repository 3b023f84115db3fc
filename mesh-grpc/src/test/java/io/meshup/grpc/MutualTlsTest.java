package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.spi.CertificateSource;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Mutual TLS with SPIFFE identities between real gRPC clients and servers on loopback. */
class MutualTlsTest {
  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();
  static final String TD = "dev.test";
  /** How the client sees the server's alert: the JDK's TLS, or BoringSSL's (the "openssl" execution). */
  static final String TLS_ALERT = "SSLHandshakeException: Received fatal alert: |OPENSSL_internal:[A-Z0-9_]*ALERT";

  final DevCertificateAuthority ca = DevCertificateAuthority.create(TD);
  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  TlsTestServers.Running server(CertificateSource source, MtlsMode mode) throws Exception {
    TlsTestServers.Running s = TlsTestServers.start("payments", source, mode);
    closers.add(s);
    return s;
  }

  /** A client mesh for service checkout, routing "payments" to {@code server}; certificates may be null. */
  Mesh client(TlsTestServers.Running server, CertificateSource certificates) {
    Mesh.Builder b = Mesh.builder().service("checkout").endpoints("payments", List.of(server.endpoint()));
    if (certificates != null) {
      b.certificates(certificates);
    }
    Mesh m = b.build();
    closers.add(m);
    return m;
  }

  String call(Mesh mesh) throws InterruptedException {
    ManagedChannel ch = MeshChannels.forService(mesh, "payments");
    try {
      return SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(REQ)
          .getResponseMessage();
    } finally {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * As {@link #call}, once the client's connection (refused or closed by the server's last mode) has
   * backed off and reconnected: a grpc-java connection in TRANSIENT_FAILURE fails calls at once
   * until its reconnect backoff (about a second) ends.
   */
  String callWhenReconnected(Mesh mesh) {
    java.util.concurrent.atomic.AtomicReference<String> out = new java.util.concurrent.atomic.AtomicReference<>();
    await().atMost(Duration.ofSeconds(15)).ignoreException(StatusRuntimeException.class).until(() -> {
      out.set(call(mesh));
      return true;
    });
    return out.get();
  }

  /** A call on a bare grpc-netty channel (not MeshUp's) that trusts any server and presents {@code key}, if any. */
  String rawCall(TlsTestServers.Running server, Credentials clientCredentials, boolean tls) throws Exception {
    NettyChannelBuilder b = NettyChannelBuilder.forAddress("127.0.0.1", server.port());
    if (tls) {
      SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE);
      if (clientCredentials != null) {
        ssl.keyManager(clientCredentials.privateKey(), clientCredentials.chain());
      }
      b.sslContext(ssl.build());
    } else {
      b.usePlaintext();
    }
    ManagedChannel ch = b.build();
    try {
      return SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(REQ)
          .getResponseMessage();
    } finally {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** How many peers {@code mesh} refused for {@code reason} on {@code side}. */
  static double rejections(Mesh mesh, String side, String reason) {
    return mesh.meterRegistry().counter("mesh.tls.rejections", "side", side, "reason", reason).count();
  }

  static String causes(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append('\n');
    }
    return sb.toString();
  }

  static StatusRuntimeException failure(ThrowingCall call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    } catch (Exception e) {
      throw new AssertionError("expected a StatusRuntimeException", e);
    }
    throw new AssertionError("the call succeeded; expected it to fail");
  }

  interface ThrowingCall {
    void run() throws Exception;
  }

  @Test
  void runsOnTheTlsProviderThisExecutionExpects() {
    // the default execution runs the JDK's TLS; the "openssl" execution puts netty-tcnative on the class path
    assertThat(io.netty.handler.ssl.OpenSsl.isAvailable()).isEqualTo(Boolean.getBoolean("meshup.test.expectOpenSsl"));
  }

  @Test
  void mutualTlsCallThroughMeshChannelsShowsCallerIdentityToServer() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);
    Mesh checkout = client(server, ca.source("checkout"));

    assertThat(call(checkout)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
    assertThat(server.callerSerials).containsExactly(checkout.certificates().orElseThrow().current().leaf().getSerialNumber());
  }

  @Test
  void strictRejectsClientWithoutCertificate() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);

    StatusRuntimeException e = failure(() -> rawCall(server, null, true));

    // the handshake may finish without a certificate so that the client is counted; its calls are refused
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(e.getStatus().getDescription()).contains("presented no certificate");
    assertThat(server.callerSerials).isEmpty();
    assertThat(rejections(server.mesh, "server", "no_certificate")).isEqualTo(1.0);
  }

  @Test
  void strictRejectsPlaintextClient() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);

    StatusRuntimeException e = failure(() -> rawCall(server, null, false));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(server.callerSerials).isEmpty();
  }

  @Test
  void strictRejectsCertificateFromUntrustedCa() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);
    DevCertificateAuthority rogue = DevCertificateAuthority.create(TD);
    Credentials issued = rogue.issue(rogue.identity("checkout"));
    // the client trusts the server, so the handshake gets as far as the server checking the client
    Credentials rogueClient = new Credentials(issued.privateKey(), issued.chain(), List.of(ca.root()));
    Mesh checkout = client(server, TlsTestServers.fixed(rogueClient));

    StatusRuntimeException e = failure(() -> call(checkout));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(causes(e)).containsPattern(TLS_ALERT);
    assertThat(rejections(server.mesh, "server", "untrusted")).isGreaterThanOrEqualTo(1.0);
  }

  @Test
  void strictRejectsCertificateOfAnotherTrustDomainEvenFromATrustedRoot() throws Exception {
    DevCertificateAuthority other = DevCertificateAuthority.create("other.test");
    Credentials own = ca.issue(ca.identity("payments"));
    // the server trusts the other domain's root too (as if federated), but not its identities
    Credentials federated = new Credentials(own.privateKey(), own.chain(), List.of(ca.root(), other.root()));
    TlsTestServers.Running server = server(TlsTestServers.fixed(federated), MtlsMode.STRICT);

    StatusRuntimeException e = failure(() -> rawCall(server, other.issue(other.identity("checkout")), true));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(causes(e)).containsPattern(TLS_ALERT);
    assertThat(rejections(server.mesh, "server", "trust_domain")).isEqualTo(1.0);
    assertThat(rejections(server.mesh, "server", "untrusted")).isZero();
    // and the same domain's certificate is let in, so it was the trust domain that was refused
    assertThat(rawCall(server, ca.issue(ca.identity("checkout")), true))
        .isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
  }

  @Test
  void strictRejectsExpiredCertificate() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);
    Instant now = Instant.now();
    Credentials expired = ca.issue(ca.identity("checkout"), now.minus(Duration.ofHours(2)), now.minus(Duration.ofHours(1)));

    StatusRuntimeException e = failure(() -> rawCall(server, expired, true));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(causes(e)).containsPattern(TLS_ALERT);
    assertThat(rejections(server.mesh, "server", "expired")).isEqualTo(1.0);
  }

  @Test
  void clientRejectsServerPresentingAnotherServicesIdentity() throws Exception {
    TlsTestServers.Running server = server(ca.source("inventory"), MtlsMode.STRICT);
    Mesh checkout = client(server, ca.source("checkout"));

    StatusRuntimeException e = failure(() -> call(checkout));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(causes(e)).contains("the server is spiffe://dev.test/ns/default/dc/dc1/svc/inventory, not service 'payments'");
    assertThat(server.callerSerials).isEmpty();
    assertThat(rejections(checkout, "client", "wrong_service")).isGreaterThanOrEqualTo(1.0);
  }

  @Test
  void disableAcceptsPlaintextWithoutCallerIdentity() throws Exception {
    TlsTestServers.Running server = server(null, MtlsMode.DISABLE);
    Mesh checkout = client(server, null);

    assertThat(call(checkout)).isEqualTo("anonymous");
  }

  @Test
  void permissiveAcceptsMutualTlsAndPlaintextOnOnePort() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.PERMISSIVE);

    assertThat(call(client(server, ca.source("checkout")))).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
    assertThat(call(client(server, null))).isEqualTo("anonymous");
    // a TLS client must authenticate: PERMISSIVE lets unauthenticated callers in only in plaintext
    StatusRuntimeException e = failure(() -> rawCall(server, null, true));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(rejections(server.mesh, "server", "no_certificate")).isEqualTo(1.0);
  }

  static String peerAuthentication(String mode) {
    return """
        apiVersion: security.istio.io/v1beta1
        kind: PeerAuthentication
        metadata: { name: payments-mtls }
        spec: { mtls: { mode: %s } }
        """.formatted(mode);
  }

  static double refusedConnections(Mesh mesh, String mode, String transport) {
    return mesh.meterRegistry().counter("mesh.server.connections.refused", "mode", mode, "transport", transport).count();
  }

  @Test
  void peerAuthenticationMovesARunningServerBetweenModesForNewConnections() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);
    Mesh mtls = client(server, ca.source("checkout"));
    Mesh plaintext = client(server, null);
    assertThat(call(mtls)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
    assertThat(failure(() -> call(plaintext)).getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(refusedConnections(server.mesh, "STRICT", "plaintext")).isGreaterThanOrEqualTo(1.0);

    server.mesh.updatePolicies("peer", peerAuthentication("PERMISSIVE"));
    assertThat(callWhenReconnected(plaintext)).isEqualTo("anonymous");
    assertThat(call(mtls)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");

    server.mesh.updatePolicies("peer", peerAuthentication("DISABLE"));
    assertThat(call(plaintext)).isEqualTo("anonymous");
    // connections decide their transport when they open: a new TLS connection is refused (the open
    // one, more secure than DISABLE asks, keeps working)
    try (Mesh fresh = client(server, ca.source("checkout"))) {
      assertThat(failure(() -> call(fresh)).getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    }
    assertThat(refusedConnections(server.mesh, "DISABLE", "tls")).isGreaterThanOrEqualTo(1.0);

    double strictRefusals = refusedConnections(server.mesh, "STRICT", "plaintext");
    server.mesh.updatePolicies("peer", "");  // no PeerAuthentication: the server's own STRICT again
    assertThat(callWhenReconnected(mtls)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
    // the plaintext connection opened under PERMISSIVE is still open: its calls are refused one by one
    assertThat(failure(() -> call(plaintext)).getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    // a new plaintext connection is refused outright
    try (Mesh fresh = client(server, null)) {
      assertThat(failure(() -> call(fresh)).getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    }
    assertThat(refusedConnections(server.mesh, "STRICT", "plaintext")).isGreaterThan(strictRefusals);
  }

  @Test
  void unsetPeerAuthenticationKeepsTheServersOwnMode() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.PERMISSIVE);
    server.mesh.updatePolicies("peer", peerAuthentication("UNSET"));

    assertThat(call(client(server, null))).isEqualTo("anonymous");
    assertThat(call(client(server, ca.source("checkout")))).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
  }

  static String destinationTls(String mode) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec:
          host: payments
          trafficPolicy: { tls: { mode: %s } }
        """.formatted(mode);
  }

  @Test
  void destinationRuleTlsDisableReachesAPlaintextServiceFromAMeshWithCertificates() throws Exception {
    TlsTestServers.Running legacy = server(null, MtlsMode.DISABLE);
    Mesh checkout = client(legacy, ca.source("checkout"));
    assertThat(failure(() -> call(checkout)).getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);

    checkout.updatePolicies("rules", destinationTls("DISABLE"));

    assertThat(call(checkout)).isEqualTo("anonymous");
  }

  @Test
  void changingTheDestinationsTlsModeReplacesTheConnectionOnTheNextCall() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.PERMISSIVE);
    Mesh checkout = client(server, ca.source("checkout"));
    checkout.updatePolicies("rules", destinationTls("DISABLE"));
    ManagedChannel ch = MeshChannels.forService(checkout, "payments");
    closers.add(() -> ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    var stub = SimpleServiceGrpc.newBlockingStub(ch);
    assertThat(stub.withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(REQ).getResponseMessage()).isEqualTo("anonymous");

    checkout.updatePolicies("rules", destinationTls("ISTIO_MUTUAL"));

    assertThat(stub.withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(REQ).getResponseMessage())
        .isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
  }

  @Test
  void istioMutualWithoutCertificatesFailsTheCallSayingWhy() throws Exception {
    TlsTestServers.Running server = server(null, MtlsMode.DISABLE);
    Mesh checkout = client(server, null);
    checkout.updatePolicies("rules", destinationTls("ISTIO_MUTUAL"));

    StatusRuntimeException e = failure(() -> call(checkout));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getStatus().getDescription()).isEqualTo("meshup: payments: the DestinationRule sets "
        + "trafficPolicy.tls.mode ISTIO_MUTUAL but this mesh has no certificates (set mesh.tls.certificates)");
  }

  @Test
  void leafRotationAppliesToNewConnectionsWithoutFailedCalls() throws Exception {
    DevCertificateAuthority.Source serverSource = ca.source("payments");
    TlsTestServers.Running server = server(serverSource, MtlsMode.STRICT);
    DevCertificateAuthority.Source clientSource = ca.source("checkout");
    Mesh checkout = client(server, clientSource);

    List<BigInteger> expected = new ArrayList<>();
    int failures = 0;
    for (int i = 0; i < 300; i++) {
      if (i % 50 == 25) {
        clientSource.rotate();
        serverSource.rotate();
      }
      if (i == 160) {
        ca.rotateRoot();
      }
      expected.add(clientSource.current().leaf().getSerialNumber());
      try {
        assertThat(call(checkout)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
      } catch (StatusRuntimeException e) {
        failures++;
      }
    }

    assertThat(failures).isZero();
    assertThat(server.callerSerials).isEqualTo(expected);
    assertThat(expected.stream().distinct().count()).isEqualTo(8);
  }

  @Test
  void rotationRetiresOpenConnectionsLettingCallsInFlightFinish() throws Exception {
    DevCertificateAuthority.Source serverSource = ca.source("payments");
    TlsTestServers.Running server = server(serverSource, MtlsMode.STRICT);
    DevCertificateAuthority.Source clientSource = ca.source("checkout");
    Mesh checkout = client(server, clientSource);
    ManagedChannel ch = MeshChannels.forService(checkout, "payments");
    closers.add(() -> {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    });
    var stub = SimpleServiceGrpc.newBlockingStub(ch);
    BigInteger first = clientSource.current().leaf().getSerialNumber();
    stub.unaryRpc(REQ);
    // a call in flight on the open connection when the credentials rotate
    CountDownLatch hold = new CountDownLatch(1);
    server.hold.set(hold);
    var inFlight = SimpleServiceGrpc.newFutureStub(ch).unaryRpc(REQ);
    await().atMost(Duration.ofSeconds(10)).until(() -> server.callerSerials.size() == 2);
    server.hold.set(null);

    ca.rotateRoot();
    BigInteger second = clientSource.current().leaf().getSerialNumber();
    stub.unaryRpc(REQ);
    hold.countDown();

    assertThat(inFlight.get(10, TimeUnit.SECONDS).getResponseMessage()).isNotEmpty();
    assertThat(second).isNotEqualTo(first);
    // the call in flight finished on its connection; the next call handshook afresh
    assertThat(server.callerSerials).containsExactly(first, first, second);
  }

  @Test
  void meshRejectsStrictModeWithoutCertificates() {
    assertThatThrownBy(() -> Mesh.builder().service("payments").mtlsMode(MtlsMode.STRICT).build())
        .hasMessageContaining("mesh.tls, mode: is STRICT but the mesh has no certificates");
  }

  @Test
  void identityOfCallerIsTheConsulConnectForm() {
    assertThat(WorkloadIdentity.parse("spiffe://dev.test/ns/default/dc/dc1/svc/checkout").service()).isEqualTo("checkout");
  }
}
