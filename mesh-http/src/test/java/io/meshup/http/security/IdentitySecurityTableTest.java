package io.meshup.http.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.PathNormalization;
import io.meshup.core.identity.HostileCertificates;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.internal.tls.CertificateSecurityTableTest;
import io.meshup.http.security.SecurityServers.Adapter;
import io.meshup.http.security.SecurityServers.Running;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Who the caller is, attacked three ways on real servers of both adapters: a plaintext caller
 * (Netty under PERMISSIVE, the JDK server in plaintext) against every principal and namespace
 * form of AuthorizationPolicy, with Istio's semantics (a plaintext caller has no principal and no
 * namespace: principals and namespaces never match it, notPrincipals and notNamespaces always
 * do); headers a caller sends to pass for someone else, which carry no identity; and hostile
 * client certificates (the rows of {@link CertificateSecurityTableTest}) presented over TLS to
 * STRICT servers, refused during the handshake and counted by reason.
 */
class IdentitySecurityTableTest {
  static final String CHECKOUT = "dev.test/ns/default/dc/dc1/svc/checkout";
  static final Map<Adapter, Running> plaintext = new EnumMap<>(Adapter.class);
  static final Map<Adapter, Running> strict = new EnumMap<>(Adapter.class);

  @BeforeAll
  static void start() throws Exception {
    plaintext.put(Adapter.JDK, SecurityServers.start(Adapter.JDK,
        SecurityServers.mesh(PathNormalization.BASE, "", null, MtlsMode.DISABLE), MtlsMode.DISABLE));
    plaintext.put(Adapter.NETTY, SecurityServers.start(Adapter.NETTY, SecurityServers.mesh(PathNormalization.BASE, "",
        CertificateSecurityTableTest.CA.source("payments"), MtlsMode.PERMISSIVE), MtlsMode.PERMISSIVE));
    for (Adapter a : Adapter.values()) {
      strict.put(a, SecurityServers.start(a, SecurityServers.mesh(PathNormalization.BASE, "",
          CertificateSecurityTableTest.CA.source("payments"), MtlsMode.STRICT), MtlsMode.STRICT));
    }
  }

  @AfterAll
  static void stop() throws Exception {
    for (Running r : plaintext.values()) {
      r.close();
    }
    for (Running r : strict.values()) {
      r.close();
    }
  }

  static String policy(String action, String source) {
    return """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: p }
        spec:
          action: %s
          rules:
          - from: [{ source: %s }]
        """.formatted(action, source);
  }

  static Stream<Arguments> plaintextRows() {
    List<Object[]> rows = List.of(
        new Object[] {"ALLOW", "{ principals: [\"" + CHECKOUT + "\"] }", 403},
        new Object[] {"ALLOW", "{ principals: [\"dev.test/*\"] }", 403},
        new Object[] {"ALLOW", "{ principals: [\"*/svc/checkout\"] }", 403},
        new Object[] {"ALLOW", "{ principals: [\"*\"] }", 403},
        new Object[] {"ALLOW", "{ principals: [\"*\"], notPrincipals: [\"" + CHECKOUT + "\"] }", 403},
        new Object[] {"ALLOW", "{ notPrincipals: [\"" + CHECKOUT + "\"] }", 200},
        new Object[] {"ALLOW", "{ notPrincipals: [\"*\"] }", 200},
        new Object[] {"ALLOW", "{ namespaces: [default] }", 403},
        new Object[] {"ALLOW", "{ namespaces: [\"*\"] }", 403},
        new Object[] {"ALLOW", "{ namespaces: [\"def*\"] }", 403},
        new Object[] {"ALLOW", "{ namespaces: [\"*ult\"] }", 403},
        new Object[] {"ALLOW", "{ notNamespaces: [default] }", 200},
        new Object[] {"ALLOW", "{ namespaces: [default], notPrincipals: [\"" + CHECKOUT + "\"] }", 403},
        new Object[] {"DENY", "{ principals: [\"" + CHECKOUT + "\"] }", 200},
        new Object[] {"DENY", "{ principals: [\"*\"] }", 200},
        new Object[] {"DENY", "{ notPrincipals: [\"*\"] }", 403},
        new Object[] {"DENY", "{ notPrincipals: [\"" + CHECKOUT + "\"] }", 403},
        new Object[] {"DENY", "{ namespaces: [\"*\"] }", 200},
        new Object[] {"DENY", "{ notNamespaces: [\"*\"] }", 403},
        new Object[] {"DENY", "{ notNamespaces: [default] }", 403});
    List<Arguments> out = new ArrayList<>();
    for (Adapter a : Adapter.values()) {
      for (Object[] r : rows) {
        out.add(Arguments.of(a, r[0], r[1], r[2]));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: plaintext caller, {1} {2} -> {3}")
  @MethodSource("plaintextRows")
  void aPlaintextCallerHasNoPrincipalAndNoNamespace(Adapter adapter, String action, String source, int status) throws Exception {
    Running server = plaintext.get(adapter);
    server.mesh.updatePolicies("security", policy(action, source));
    RawHttp.Answer a = RawHttp.send(server.port, "GET /public/x HTTP/1.1");
    assertThat(a.status()).as("body %s", a.body()).isEqualTo(status);
    if (status == 200) {
      assertThat(a.body()).endsWith("|anonymous");
    }
  }

  static Stream<Arguments> headerRows() {
    List<String> headers = List.of(
        "X-Forwarded-Client-Cert: By=spiffe://dev.test/ns/default/dc/dc1/svc/payments;URI=spiffe://" + CHECKOUT,
        "x-forwarded-client-cert: URI=spiffe://" + CHECKOUT,
        "X-MeshUp-Caller: spiffe://" + CHECKOUT,
        "x-meshup-principal: " + CHECKOUT,
        "x-meshup-authz-policy: none",
        "X-SPIFFE-ID: spiffe://" + CHECKOUT,
        "X-Client-Cert: spiffe://" + CHECKOUT,
        "SSL-Client-Verify: SUCCESS",
        "X-Forwarded-Proto: https",
        "X-Forwarded-For: 127.0.0.1",
        "x-envoy-peer-metadata-id: sidecar~10.0.0.1~checkout~default.svc.cluster.local",
        "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJzcGlmZmU6Ly9kZXYudGVzdCJ9.");
    List<Arguments> out = new ArrayList<>();
    for (Adapter a : Adapter.values()) {
      for (String h : headers) {
        out.add(Arguments.of(a, h));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("headerRows")
  void aHeaderTheCallerSendsCarriesNoIdentity(Adapter adapter, String header) throws Exception {
    Running server = plaintext.get(adapter);
    server.mesh.updatePolicies("security", policy("ALLOW", "{ principals: [\"" + CHECKOUT + "\"] }"));
    RawHttp.Answer refused = RawHttp.send(server.port, "GET /public/x HTTP/1.1", header);
    assertThat(refused.status()).as("body %s", refused.body()).isEqualTo(403);

    server.mesh.updatePolicies("security", "");
    RawHttp.Answer allowed = RawHttp.send(server.port, "GET /public/x HTTP/1.1", header);
    assertThat(allowed.status()).isEqualTo(200);
    assertThat(allowed.body()).as("the caller the handler is told of").endsWith("|anonymous");
  }

  static Stream<Arguments> certificateRows() {
    List<Arguments> out = new ArrayList<>();
    for (Adapter adapter : Adapter.values()) {
      CertificateSecurityTableTest.rows().filter(r -> r.get()[0].equals("server"))
          .forEach(r -> out.add(Arguments.of(adapter, r.get()[1], r.get()[2], r.get()[3])));
      out.add(Arguments.of(adapter, "no certificate at all", null, "no_certificate"));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: {1} -> {3}")
  @MethodSource("certificateRows")
  void aHostileClientCertificateIsRefusedAndCounted(Adapter adapter, String what, HostileCertificates.Leaf leaf,
      String verdict) throws Exception {
    Running server = strict.get(adapter);
    HostileCertificates.Minted m = leaf == null ? null : HostileCertificates.mint(CertificateSecurityTableTest.CA, leaf);
    double before = server.mesh.meterRegistry().counter("mesh.tls.rejections", "side", "server", "reason",
        verdict.equals("accept") ? "untrusted" : verdict).count();
    int seen = server.seen.size();

    RawHttp.Answer a = RawTls.send(server.port, m, "GET /public/x HTTP/1.1");

    double after = server.mesh.meterRegistry().counter("mesh.tls.rejections", "side", "server", "reason",
        verdict.equals("accept") ? "untrusted" : verdict).count();
    if (verdict.equals("accept")) {
      assertThat(a.status()).as("answer %s", a.body()).isEqualTo(200);
      assertThat(a.body()).endsWith("|" + CHECKOUT);
      return;
    }
    assertThat(a.status()).as("answer %s", a.body()).isIn(0, 401);
    assertThat(server.seen.size()).as("the handler must not run").isEqualTo(seen);
    assertThat(after - before).as("counted as %s", verdict).isEqualTo(1.0);
  }
}
