package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.spi.CertificateSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** AuthorizationPolicy and PeerAuthentication enforced by MeshServers on real mTLS connections. */
class AuthorizationTest {
  static final String TD = MutualTlsTest.TD;
  static final String DENY_LEGACY = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: deny-legacy }
      spec:
        action: DENY
        rules:
        - from: [{ source: { principals: ["dev.test/ns/default/dc/dc1/svc/legacy"] } }]
      """;
  static final String ALLOW_LEGACY_ONLY = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: allow-legacy }
      spec:
        rules:
        - from: [{ source: { principals: ["*/svc/legacy"] } }]
          to: [{ operation: { paths: ["/grpc.testing.SimpleService/*"], methods: [POST] } }]
      """;

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

  /** A stub on a channel of a mesh for {@code service}, kept open for the whole test. */
  SimpleServiceGrpc.SimpleServiceBlockingStub stub(TlsTestServers.Running server, String service, boolean tls) {
    Mesh.Builder b = Mesh.builder().service(service).endpoints("payments", List.of(server.endpoint()));
    if (tls) {
      b.certificates(ca.source(service));
    }
    Mesh mesh = b.build();
    ManagedChannel ch = MeshChannels.forService(mesh, "payments");
    closers.add(mesh);
    closers.add(() -> {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    });
    return SimpleServiceGrpc.newBlockingStub(ch);
  }

  static String call(SimpleServiceGrpc.SimpleServiceBlockingStub stub) {
    return stub.withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(MutualTlsTest.REQ).getResponseMessage();
  }

  static double denials(TlsTestServers.Running server, String policy, String rule) {
    return server.mesh.meterRegistry().counter("mesh.authz.denials", "policy", policy, "rule", rule).count();
  }

  @Test
  void deniedCallerGetsPermissionDeniedNamingTheRuleBeforeTheHandlerRuns() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);
    server.mesh.updatePolicies("authz", DENY_LEGACY);
    var checkout = stub(server, "checkout", true);
    var legacy = stub(server, "legacy", true);

    assertThat(call(checkout)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/checkout");
    StatusRuntimeException e = MutualTlsTest.failure(() -> call(legacy));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(e.getStatus().getDescription()).isEqualTo("meshup: denied by AuthorizationPolicy deny-legacy rules[0]");
    assertThat(server.callerSerials).hasSize(1);
    assertThat(denials(server, "deny-legacy", "rules[0]")).isEqualTo(1.0);
  }

  @Test
  void policyUpdateFlipsTheDecisionOnTheNextCallOfAnOpenChannel() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.STRICT);
    server.mesh.updatePolicies("authz", DENY_LEGACY);
    var checkout = stub(server, "checkout", true);
    var legacy = stub(server, "legacy", true);
    assertThat(call(checkout)).endsWith("/svc/checkout");
    assertThat(MutualTlsTest.failure(() -> call(legacy)).getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);

    server.mesh.updatePolicies("authz", ALLOW_LEGACY_ONLY);

    assertThat(call(legacy)).isEqualTo("spiffe://dev.test/ns/default/dc/dc1/svc/legacy");
    StatusRuntimeException e = MutualTlsTest.failure(() -> call(checkout));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(e.getStatus().getDescription()).isEqualTo("meshup: no ALLOW rule of AuthorizationPolicy allow-legacy matches");
    assertThat(denials(server, "none", "none")).isEqualTo(1.0);
    // The counter of a policy no longer in force goes with it (see BoundedStateTest).
    assertThat(server.mesh.meterRegistry().find("mesh.authz.denials").tag("policy", "deny-legacy").counter()).isNull();
  }

  @Test
  void strictPeerAuthenticationRefusesPlaintextOnAPermissiveServer() throws Exception {
    TlsTestServers.Running server = server(ca.source("payments"), MtlsMode.PERMISSIVE);
    var plaintext = stub(server, "checkout", false);
    var mtls = stub(server, "checkout", true);
    assertThat(call(plaintext)).isEqualTo("anonymous");

    server.mesh.updatePolicies("authz", """
        apiVersion: security.istio.io/v1beta1
        kind: PeerAuthentication
        metadata: { name: default }
        spec: { mtls: { mode: STRICT } }
        """);

    StatusRuntimeException e = MutualTlsTest.failure(() -> call(plaintext));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("meshup: PeerAuthentication default requires mutual TLS (mode STRICT); the call came in plaintext");
    assertThat(call(mtls)).endsWith("/svc/checkout");
    assertThat(denials(server, "default", "mtls")).isEqualTo(1.0);
  }

  @Test
  void plaintextServerEnforcesPoliciesWithoutPrincipals() throws Exception {
    TlsTestServers.Running server = server(null, MtlsMode.DISABLE);
    var plaintext = stub(server, "checkout", false);
    server.mesh.updatePolicies("authz", """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: require-principal }
        spec:
          action: DENY
          rules:
          - from: [{ source: { notPrincipals: ["*"] } }]
        """);

    StatusRuntimeException e = MutualTlsTest.failure(() -> call(plaintext));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(e.getStatus().getDescription()).isEqualTo("meshup: denied by AuthorizationPolicy require-principal rules[0]");
    assertThat(server.callerSerials).isEmpty();
  }
}
