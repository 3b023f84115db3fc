package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Mesh;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.spi.CertificateSource;
import io.meshup.core.testing.FakeClock;
import io.meshup.http.HttpTlsServers.Adapter;
import io.meshup.http.HttpTlsServers.Running;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Mutual TLS with SPIFFE identities between {@link MeshHttpClient} (or raw JDK clients) and real
 * servers built through both server adapters, on loopback.
 */
class HttpMutualTlsTest {
  static final String TD = "dev.test";
  static final String CHECKOUT = "spiffe://dev.test/ns/default/dc/dc1/svc/checkout";
  static final String PAYMENTS = "spiffe://dev.test/ns/default/dc/dc1/svc/payments";

  final DevCertificateAuthority ca = DevCertificateAuthority.create(TD);
  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  Running server(Adapter adapter, CertificateSource source, MtlsMode mode) throws Exception {
    return server(adapter, HttpTlsServers.serverMesh("payments", source, mode, null), mode, false);
  }

  Running server(Adapter adapter, Mesh mesh, MtlsMode mode, boolean closeEachConnection) throws Exception {
    Running s;
    try {
      s = HttpTlsServers.start(adapter, mesh, mode, closeEachConnection);
    } catch (Exception | Error e) {
      mesh.close();
      throw e;
    }
    closers.add(s);
    return s;
  }

  /** A mesh of service checkout routing "payments" to {@code server}; certificates may be null. */
  Mesh client(Running server, CertificateSource certificates) {
    Mesh.Builder b = Mesh.builder().service("checkout").endpoints("payments", List.of(server.endpoint()));
    if (certificates != null) {
      b.certificates(certificates);
    }
    Mesh m = b.build();
    closers.add(m);
    return m;
  }

  static HttpResponse<String> call(MeshHttpClient client) throws IOException, InterruptedException {
    return client.send(HttpRequest.newBuilder(URI.create("http://payments/whoami")).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> call(Mesh mesh) throws IOException, InterruptedException {
    return call(MeshHttp.client(mesh));
  }

  static HttpResponse<String> raw(HttpClient client, String url) throws IOException, InterruptedException {
    return client.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

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

  static IOException failure(ThrowingCall call) throws InterruptedException {
    try {
      call.run();
    } catch (IOException e) {
      return e;
    }
    throw new AssertionError("the call succeeded; expected it to fail");
  }

  interface ThrowingCall {
    void run() throws IOException, InterruptedException;
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void mutualTlsCallShowsEachSideTheOthersIdentity(Adapter adapter) throws Exception {
    Running server = server(adapter, ca.source("payments"), MtlsMode.STRICT);
    Mesh checkout = client(server, ca.source("checkout"));

    HttpResponse<String> r = call(checkout);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(CHECKOUT);
    assertThat(r.uri().getScheme()).isEqualTo("https");
    assertThat(MeshHttp.serverIdentity(r)).hasValueSatisfying(id -> assertThat(id).hasToString(PAYMENTS));
    assertThat(server.callerSerials).containsExactly(checkout.certificates().orElseThrow().current().leaf().getSerialNumber());
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void strictRefusesClientWithoutCertificate(Adapter adapter) throws Exception {
    Running server = server(adapter, ca.source("payments"), MtlsMode.STRICT);

    // the handshake may finish without a certificate, so that the client is counted; then the JDK
    // adapter answers 401 and closes, the Netty adapter closes the connection at once
    try {
      HttpResponse<String> r = raw(HttpTlsServers.rawTlsClient(null), "https" + server.url("/whoami"));
      assertThat(adapter).isEqualTo(Adapter.JDK);
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(r.body()).contains("presented no certificate");
    } catch (IOException closed) {
      assertThat(adapter).isEqualTo(Adapter.NETTY);
    }

    assertThat(server.handled).hasValue(0);
    // once per connection (the JDK client may try a closed connection a second time)
    assertThat(rejections(server.mesh, "server", "no_certificate")).isGreaterThanOrEqualTo(1.0);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void strictRefusesPlaintextClient(Adapter adapter) throws Exception {
    Running server = server(adapter, ca.source("payments"), MtlsMode.STRICT);
    Mesh plaintext = client(server, null);

    failure(() -> call(plaintext));
    failure(() -> raw(HttpTlsServers.rawPlaintextClient(), "http" + server.url("/whoami")));

    assertThat(server.handled).hasValue(0);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void strictRefusesCertificateFromUntrustedCa(Adapter adapter) throws Exception {
    Running server = server(adapter, ca.source("payments"), MtlsMode.STRICT);
    DevCertificateAuthority rogue = DevCertificateAuthority.create(TD);
    Credentials issued = rogue.issue(rogue.identity("checkout"));
    // the client trusts the server, so the handshake gets as far as the server checking the client
    Mesh checkout = client(server, HttpTlsServers.fixed(new Credentials(issued.privateKey(), issued.chain(), List.of(ca.root()))));

    failure(() -> call(checkout));

    assertThat(rejections(server.mesh, "server", "untrusted")).isGreaterThanOrEqualTo(1.0);
    assertThat(server.handled).hasValue(0);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void strictRefusesCertificateOfAnotherTrustDomainEvenFromATrustedRoot(Adapter adapter) throws Exception {
    DevCertificateAuthority other = DevCertificateAuthority.create("other.test");
    Credentials own = ca.issue(ca.identity("payments"));
    // the server trusts the other domain's root too (as if federated), but not its identities
    Credentials federated = new Credentials(own.privateKey(), own.chain(), List.of(ca.root(), other.root()));
    Running server = server(adapter, HttpTlsServers.fixed(federated), MtlsMode.STRICT);

    failure(() -> raw(HttpTlsServers.rawTlsClient(other.issue(other.identity("checkout"))), "https" + server.url("/whoami")));

    // the JDK client retries a GET once when the connection closes before a response
    assertThat(rejections(server.mesh, "server", "trust_domain")).isGreaterThanOrEqualTo(1.0);
    assertThat(rejections(server.mesh, "server", "untrusted")).isZero();
    // the same domain's certificate is let in, so it was the trust domain that was refused
    assertThat(raw(HttpTlsServers.rawTlsClient(ca.issue(ca.identity("checkout"))), "https" + server.url("/whoami")).body())
        .isEqualTo(CHECKOUT);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void strictRefusesCertificateExpiredByTheServersClock(Adapter adapter) throws Exception {
    FakeClock clock = new FakeClock();
    DevCertificateAuthority fakeCa = DevCertificateAuthority.create(TD, clock, Duration.ofHours(1));
    DevCertificateAuthority.Source serverSource = fakeCa.source("payments");
    // every response closes its connection, so each call handshakes
    Running server = server(adapter, HttpTlsServers.serverMesh("payments", serverSource, MtlsMode.STRICT, clock),
        MtlsMode.STRICT, true);
    DevCertificateAuthority.Source clientSource = fakeCa.source("checkout");
    Mesh checkout = Mesh.builder().service("checkout").clock(clock).certificates(clientSource)
        .endpoints("payments", List.of(server.endpoint())).build();
    closers.add(checkout);
    MeshHttpClient http = MeshHttp.client(checkout);
    assertThat(call(http).body()).isEqualTo(CHECKOUT);

    clock.advance(Duration.ofHours(2));
    serverSource.rotate(); // the server's own leaf is fresh again; the client's is an hour past notAfter

    failure(() -> call(http));
    assertThat(rejections(server.mesh, "server", "expired")).isGreaterThanOrEqualTo(1.0);
    assertThat(rejections(server.mesh, "server", "untrusted")).isZero();
    assertThat(server.handled).hasValue(1);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void clientRefusesServerPresentingAnotherServicesIdentity(Adapter adapter) throws Exception {
    Running server = server(adapter, ca.source("inventory"), MtlsMode.STRICT);
    Mesh checkout = client(server, ca.source("checkout"));

    IOException e = failure(() -> call(checkout));

    assertThat(causes(e)).contains("the server is spiffe://dev.test/ns/default/dc/dc1/svc/inventory, not service 'payments'");
    assertThat(rejections(checkout, "client", "wrong_service")).isGreaterThanOrEqualTo(1.0);
    assertThat(server.handled).hasValue(0);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void disableServesPlaintextWithoutCallerIdentity(Adapter adapter) throws Exception {
    Running server = server(adapter, null, MtlsMode.DISABLE);

    HttpResponse<String> r = call(client(server, null));

    assertThat(r.body()).isEqualTo("anonymous");
    assertThat(r.uri().getScheme()).isEqualTo("http");
    assertThat(MeshHttp.serverIdentity(r)).isEmpty();
  }

  @Test
  void permissiveNettyServerAcceptsMutualTlsAndPlaintextOnOnePort() throws Exception {
    Running server = server(Adapter.NETTY, ca.source("payments"), MtlsMode.PERMISSIVE);

    assertThat(call(client(server, ca.source("checkout"))).body()).isEqualTo(CHECKOUT);
    assertThat(call(client(server, null)).body()).isEqualTo("anonymous");
    // TLS still means mutual TLS
    failure(() -> raw(HttpTlsServers.rawTlsClient(null), "https" + server.url("/whoami")));
    assertThat(server.handled).hasValue(2);
  }

  @Test
  void permissiveJdkServerIsRefusedNamingTheModeAndTheWayOut() throws Exception {
    try (Mesh mesh = HttpTlsServers.serverMesh("payments", ca.source("payments"), MtlsMode.PERMISSIVE, null)) {
      assertThatThrownBy(() -> MeshHttpServers.jdk(mesh, new java.net.InetSocketAddress("127.0.0.1", 0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("mTLS mode PERMISSIVE (mesh.tls.mode of payments)")
          .hasMessageContaining("MeshHttpServers.jdk(mesh, otherAddress, DISABLE)");
    }
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void rotatedClientCertificateIsPresentedOnEveryNewConnection(Adapter adapter) throws Exception {
    Running server = server(adapter, HttpTlsServers.serverMesh("payments", ca.source("payments"), MtlsMode.STRICT, null),
        MtlsMode.STRICT, true);
    DevCertificateAuthority.Source clientSource = ca.source("checkout");
    MeshHttpClient http = MeshHttp.client(client(server, clientSource));

    List<BigInteger> expected = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      expected.add(clientSource.current().leaf().getSerialNumber());
      assertThat(call(http).body()).isEqualTo(CHECKOUT);
      clientSource.rotate();
    }

    // one TLS context serves the client to "payments": a resumed session would show an old serial
    assertThat(server.callerSerials).isEqualTo(expected);
    assertThat(expected).doesNotHaveDuplicates();
  }

  @Test
  void openConnectionKeepsTheCertificateOfItsHandshake() throws Exception {
    Running server = server(Adapter.NETTY, ca.source("payments"), MtlsMode.STRICT);
    DevCertificateAuthority.Source clientSource = ca.source("checkout");
    MeshHttpClient http = MeshHttp.client(client(server, clientSource));
    BigInteger first = clientSource.current().leaf().getSerialNumber();
    call(http);

    clientSource.rotate();
    call(http);

    assertThat(server.callerSerials).containsExactly(first, first);
  }

  @Test
  void givenHttpClientIsRefusedWhenTheMeshHasCertificates() throws Exception {
    Running server = server(Adapter.JDK, ca.source("payments"), MtlsMode.STRICT);
    Mesh checkout = client(server, ca.source("checkout"));

    assertThatThrownBy(() -> MeshHttp.client(checkout, HttpClient.newHttpClient()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("mesh checkout has certificates (mutual TLS)");
  }

  static String tlsMode(String mode) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec:
          host: payments
          trafficPolicy: { tls: { mode: %s } }
        """.formatted(mode);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void destinationRuleTlsDisableReachesAPlaintextServerFromAMeshWithCertificates(Adapter adapter) throws Exception {
    Running server = server(adapter, null, MtlsMode.DISABLE);
    Mesh checkout = client(server, ca.source("checkout"));
    checkout.updatePolicies("dr", tlsMode("DISABLE"));

    HttpResponse<String> r = call(checkout);

    assertThat(r.body()).isEqualTo("anonymous");
    assertThat(r.uri().getScheme()).isEqualTo("http");
  }

  @Test
  void istioMutualWithoutCertificatesFailsTheCallSayingWhyAndSendsNothing() throws Exception {
    Running server = server(Adapter.NETTY, ca.source("payments"), MtlsMode.PERMISSIVE);
    Mesh checkout = client(server, null);
    checkout.updatePolicies("dr", tlsMode("ISTIO_MUTUAL"));

    IOException e = failure(() -> call(checkout));

    assertThat(e).hasMessage("meshup: payments: the DestinationRule sets trafficPolicy.tls.mode ISTIO_MUTUAL"
        + " but this mesh has no certificates (set mesh.tls.certificates)");
    assertThat(server.handled).hasValue(0);
  }

  @Test
  void policyUpdateMovesTheNextRequestBetweenMutualTlsAndPlaintext() throws Exception {
    Running server = server(Adapter.NETTY, ca.source("payments"), MtlsMode.PERMISSIVE);
    Mesh checkout = client(server, ca.source("checkout"));
    MeshHttpClient http = MeshHttp.client(checkout);
    assertThat(call(http).body()).isEqualTo(CHECKOUT);

    checkout.updatePolicies("dr", tlsMode("DISABLE"));
    assertThat(call(http).body()).isEqualTo("anonymous");

    checkout.updatePolicies("dr", tlsMode("ISTIO_MUTUAL"));
    assertThat(call(http).body()).isEqualTo(CHECKOUT);
  }

  static String peerAuthentication(String mode) {
    return """
        apiVersion: security.istio.io/v1beta1
        kind: PeerAuthentication
        metadata: { name: default }
        spec: { mtls: { mode: %s } }
        """.formatted(mode);
  }

  static double refusedConnections(Mesh mesh, String mode, String transport) {
    return mesh.meterRegistry().counter("mesh.server.connections.refused", "mode", mode, "transport", transport).count();
  }

  @Test
  void peerAuthenticationMovesARunningNettyServerBetweenModesForNewConnections() throws Exception {
    // every response closes its connection, so each call opens a new one
    Running server = server(Adapter.NETTY, HttpTlsServers.serverMesh("payments", ca.source("payments"), MtlsMode.STRICT,
        null), MtlsMode.STRICT, true);
    MeshHttpClient mtls = MeshHttp.client(client(server, ca.source("checkout")));
    MeshHttpClient plaintext = MeshHttp.client(client(server, null));
    assertThat(call(mtls).body()).isEqualTo(CHECKOUT);
    failure(() -> call(plaintext));
    assertThat(refusedConnections(server.mesh, "STRICT", "plaintext")).isGreaterThanOrEqualTo(1.0);

    server.mesh.updatePolicies("peer", peerAuthentication("PERMISSIVE"));
    assertThat(call(plaintext).body()).isEqualTo("anonymous");
    assertThat(call(mtls).body()).isEqualTo(CHECKOUT);

    server.mesh.updatePolicies("peer", peerAuthentication("DISABLE"));
    assertThat(call(plaintext).body()).isEqualTo("anonymous");
    failure(() -> call(mtls));
    assertThat(refusedConnections(server.mesh, "DISABLE", "tls")).isGreaterThanOrEqualTo(1.0);

    double strictRefusals = refusedConnections(server.mesh, "STRICT", "plaintext");
    server.mesh.updatePolicies("peer", ""); // no PeerAuthentication: the adapter's own STRICT again
    assertThat(call(mtls).body()).isEqualTo(CHECKOUT);
    failure(() -> call(plaintext));
    assertThat(refusedConnections(server.mesh, "STRICT", "plaintext")).isGreaterThan(strictRefusals);
  }
}
