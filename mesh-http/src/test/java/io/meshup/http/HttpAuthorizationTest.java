package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.http.HttpTlsServers.Adapter;
import io.meshup.http.HttpTlsServers.Running;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** AuthorizationPolicy and PeerAuthentication enforced per request by both server adapters, on loopback. */
class HttpAuthorizationTest {
  static final String DENY_LEGACY = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: deny-legacy }
      spec:
        action: DENY
        rules:
        - from: [{ source: { principals: ["dev.test/ns/default/dc/dc1/svc/legacy"] } }]
      """;
  static final String ALLOW_PUBLIC = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: allow-public }
      spec:
        rules:
        - to: [{ operation: { paths: ["/public/*"], methods: [GET] } }]
      """;
  static final String DENY_ADMIN = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: deny-admin }
      spec:
        action: DENY
        rules:
        - to: [{ operation: { paths: ["/public/*"], methods: [DELETE] } }]
        - to: [{ operation: { paths: ["/admin/*"] } }]
      """;

  final DevCertificateAuthority ca = DevCertificateAuthority.create(HttpMutualTlsTest.TD);
  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  Running server(Adapter adapter, MtlsMode mode) throws Exception {
    Mesh mesh = HttpTlsServers.serverMesh("payments", mode == MtlsMode.DISABLE ? null : ca.source("payments"), mode, null);
    Running s = HttpTlsServers.start(adapter, mesh, mode, false);
    closers.add(s);
    return s;
  }

  /** A client of "payments" for a mesh of {@code service}, with mutual TLS when {@code tls}. */
  MeshHttpClient client(Running server, String service, boolean tls) {
    Mesh.Builder b = Mesh.builder().service(service).endpoints("payments", List.of(server.endpoint()));
    if (tls) {
      b.certificates(ca.source(service));
    }
    Mesh mesh = b.build();
    closers.add(mesh);
    return MeshHttp.client(mesh);
  }

  static HttpResponse<String> send(MeshHttpClient client, String method, String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://payments" + path)).timeout(Duration.ofSeconds(10))
        .method(method, method.equals("POST") ? HttpRequest.BodyPublishers.ofString("x".repeat(20_000))
            : HttpRequest.BodyPublishers.noBody())
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> get(MeshHttpClient client, String path) throws Exception {
    return send(client, "GET", path);
  }

  static double denials(Running server, String policy, String rule) {
    return server.mesh.meterRegistry().counter("mesh.authz.denials", "policy", policy, "rule", rule).count();
  }

  static void assertRefused(HttpResponse<String> r, int status, String policy, String rule, String message) {
    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(r.body()).isEqualTo(message + "\n");
    assertThat(r.headers().firstValue("x-meshup-authz-policy")).hasValue(policy);
    assertThat(r.headers().firstValue("x-meshup-authz-rule")).hasValue(rule);
    assertThat(r.headers().firstValue("content-type")).hasValue("text/plain; charset=utf-8");
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void deniedCallerGets403NamingTheRuleAndTheHandlerNeverRuns(Adapter adapter) throws Exception {
    Running server = server(adapter, MtlsMode.STRICT);
    server.mesh.updatePolicies("authz", DENY_LEGACY);
    MeshHttpClient checkout = client(server, "checkout", true);
    MeshHttpClient legacy = client(server, "legacy", true);

    assertThat(get(checkout, "/charges/1").body()).isEqualTo(HttpMutualTlsTest.CHECKOUT);
    HttpResponse<String> refused = get(legacy, "/charges/1");

    assertRefused(refused, 403, "deny-legacy", "rules[0]", "meshup: denied by AuthorizationPolicy deny-legacy rules[0]");
    assertThat(server.handled).hasValue(1);
    assertThat(denials(server, "deny-legacy", "rules[0]")).isEqualTo(1.0);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void requestMatchingNoAllowRuleGets403NamingThePolicyAndQueriesAreNotPartOfThePath(Adapter adapter) throws Exception {
    Running server = server(adapter, MtlsMode.STRICT);
    server.mesh.updatePolicies("authz", ALLOW_PUBLIC);
    MeshHttpClient checkout = client(server, "checkout", true);

    assertThat(get(checkout, "/public/menu?lang=en&x=/private").statusCode()).isEqualTo(200);
    HttpResponse<String> refused = get(checkout, "/private/menu");

    assertRefused(refused, 403, "none", "none", "meshup: no ALLOW rule of AuthorizationPolicy allow-public matches");
    assertThat(server.handled).hasValue(1);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void policyUpdateAppliesToTheNextRequestOfAnOpenConnection(Adapter adapter) throws Exception {
    Running server = server(adapter, MtlsMode.STRICT);
    MeshHttpClient legacy = client(server, "legacy", true);
    assertThat(get(legacy, "/charges/1").statusCode()).isEqualTo(200);

    server.mesh.updatePolicies("authz", DENY_LEGACY);

    assertThat(get(legacy, "/charges/1").statusCode()).isEqualTo(403);
    assertThat(server.callerSerials).hasSize(1);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void strictPeerAuthenticationAnswers401ToPlaintextCallerNamingIt(Adapter adapter) throws Exception {
    Running server = server(adapter, MtlsMode.DISABLE);
    MeshHttpClient plaintext = client(server, "checkout", false);
    assertThat(get(plaintext, "/charges/1").body()).isEqualTo("anonymous");

    server.mesh.updatePolicies("authz", """
        apiVersion: security.istio.io/v1beta1
        kind: PeerAuthentication
        metadata: { name: default }
        spec: { mtls: { mode: STRICT } }
        """);

    assertRefused(get(plaintext, "/charges/1"), 401, "default", "mtls",
        "meshup: PeerAuthentication default requires mutual TLS (mode STRICT); the call came in plaintext");
    assertThat(denials(server, "default", "mtls")).isEqualTo(1.0);
    assertThat(server.handled).hasValue(1);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void refusedRequestWithABodyLeavesItsConnectionServingTheNextRequest(Adapter adapter) throws Exception {
    Running server = server(adapter, MtlsMode.STRICT);
    server.mesh.updatePolicies("authz", DENY_ADMIN);
    MeshHttpClient checkout = client(server, "checkout", true);

    HttpResponse<String> post = send(checkout, "POST", "/admin/reset");
    HttpResponse<String> delete = send(checkout, "DELETE", "/public/menu");
    HttpResponse<String> allowed = get(checkout, "/public/menu");

    assertRefused(post, 403, "deny-admin", "rules[1]", "meshup: denied by AuthorizationPolicy deny-admin rules[1]");
    assertRefused(delete, 403, "deny-admin", "rules[0]", "meshup: denied by AuthorizationPolicy deny-admin rules[0]");
    assertThat(allowed.statusCode()).isEqualTo(200);
    assertThat(server.handled).hasValue(1);
    // one connection served all three: one handshake, one serial
    assertThat(server.callerSerials).hasSize(1);
  }

  @ParameterizedTest
  @EnumSource(Adapter.class)
  void refusedHeadRequestGetsNoBody(Adapter adapter) throws Exception {
    Running server = server(adapter, MtlsMode.STRICT);
    server.mesh.updatePolicies("authz", ALLOW_PUBLIC);
    MeshHttpClient checkout = client(server, "checkout", true);

    HttpResponse<String> head = send(checkout, "HEAD", "/private");

    assertThat(head.statusCode()).isEqualTo(403);
    assertThat(head.body()).isEmpty();
    assertThat(head.headers().firstValue("x-meshup-authz-policy")).hasValue("none");
    assertThat(get(checkout, "/public/menu").statusCode()).isEqualTo(200);
  }

}
