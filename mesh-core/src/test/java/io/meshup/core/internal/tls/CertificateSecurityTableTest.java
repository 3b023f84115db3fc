package io.meshup.core.internal.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.HostileCertificates;
import io.meshup.core.identity.HostileCertificates.Leaf;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile certificates, minted under the mesh's own root so that only the property under test is
 * wrong, presented to a server (as a client's) and to a client of {@code payments} (as a
 * server's). Each row gives the verdict: accepted with its identity, or the reason tag counted in
 * {@code mesh.tls.rejections{side,reason}}. Rules from the X509-SVID specification (sections 4.1,
 * 4.3, 4.4 and 5.2) and the SPIFFE-ID specification (scheme, trust domain and path syntax).
 */
public class CertificateSecurityTableTest {
  /** The CA every row is minted under; servers of other modules' tables use it too. */
  public static final DevCertificateAuthority CA = DevCertificateAuthority.create("dev.test");
  static final String CHECKOUT = "spiffe://dev.test/ns/default/dc/dc1/svc/checkout";
  static final String PAYMENTS = "spiffe://dev.test/ns/default/dc/dc1/svc/payments";

  /** The rows: side ({@code server} checks a client's chain), what, leaf, verdict (a reason tag or {@code accept}). */
  public static Stream<Arguments> rows() {
    List<Arguments> rows = new ArrayList<>();
    for (String side : List.of("server", "client")) {
      // the server checks a client (any service of the trust domain); the client checks payments
      String id = side.equals("server") ? CHECKOUT : PAYMENTS;
      String prefix = "spiffe://dev.test/ns/default/dc/dc1/svc/";
      Leaf ok = Leaf.valid(id);
      Instant now = Instant.now();
      rows.add(Arguments.of(side, "a valid X509-SVID", ok, "accept"));
      rows.add(Arguments.of(side, "no basic constraints (cA defaults to false)", ok.withCa(null), "accept"));
      rows.add(Arguments.of(side, "leaf with cA true", ok.withCa(true), "not_leaf"));
      rows.add(Arguments.of(side, "keyCertSign set", ok.withKeyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign), "key_usage"));
      rows.add(Arguments.of(side, "cRLSign set", ok.withKeyUsage(KeyUsage.digitalSignature | KeyUsage.cRLSign), "key_usage"));
      rows.add(Arguments.of(side, "cA true and keyCertSign (a CA certificate)",
          ok.withCa(true).withKeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign), "not_leaf"));
      rows.add(Arguments.of(side, "no key usage", ok.withKeyUsage(null), "key_usage"));
      rows.add(Arguments.of(side, "key usage without digitalSignature", ok.withKeyUsage(KeyUsage.keyEncipherment), "key_usage"));
      rows.add(Arguments.of(side, "no URI SAN", ok.withUris(), "no_spiffe_id"));
      rows.add(Arguments.of(side, "two URI SANs", ok.withUris(id, prefix + "other"), "multiple_uri_sans"));
      rows.add(Arguments.of(side, "scheme SPIFFE://", ok.withUris(id.replace("spiffe://", "SPIFFE://")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "scheme Spiffe://", ok.withUris(id.replace("spiffe://", "Spiffe://")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "upper-case trust domain", ok.withUris(id.replace("dev.test", "DEV.test")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "'.' segment", ok.withUris(id.replace("/ns/default", "/ns/./default")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "'..' segment", ok.withUris(id.replace("/ns/default", "/ns/x/../default")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "empty segment", ok.withUris(id.replace("/ns/", "/ns//")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "trailing slash", ok.withUris(id + "/"), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "percent-encoding", ok.withUris(id.substring(0, id.length() - 1) + "%74"), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "query", ok.withUris(id + "?x=1"), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "fragment", ok.withUris(id + "#x"), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "port", ok.withUris(id.replace("dev.test", "dev.test:8443")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "user info", ok.withUris(id.replace("dev.test", "admin@dev.test")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "no path (a trust domain's ID)", ok.withUris("spiffe://dev.test"), "invalid_spiffe_id"));
      // since issue 13 Istio's shape .../ns/<ns>/sa/<sa> is a workload identity; a service account without its namespace is not
      rows.add(Arguments.of(side, "service account without a namespace",
          ok.withUris("spiffe://dev.test/sa/checkout"), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "https URI", ok.withUris(id.replace("spiffe://", "https://")), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "an ID longer than 2048 bytes", ok.withUris(prefix + "a".repeat(2100)), "invalid_spiffe_id"));
      rows.add(Arguments.of(side, "another trust domain, same root",
          ok.withUris(id.replace("dev.test", "evil.test")), "trust_domain"));
      rows.add(Arguments.of(side, "expired", ok.withValidity(now.minus(Duration.ofHours(2)), now.minus(Duration.ofHours(1))), "expired"));
      rows.add(Arguments.of(side, "not yet valid", ok.withValidity(now.plus(Duration.ofHours(1)), now.plus(Duration.ofHours(2))), "untrusted"));
      rows.add(Arguments.of(side, "signed by another CA", ok.signedBy("rogue"), "untrusted"));
      rows.add(Arguments.of(side, "self-signed", ok.signedBy("self"), "untrusted"));
      rows.add(Arguments.of(side, "through a valid intermediate", ok.signedBy("intermediate"), "accept"));
      rows.add(Arguments.of(side, "through an intermediate that may not sign certificates", ok.signedBy("badIntermediate"), "untrusted"));
    }
    rows.add(Arguments.of("server", "a client certificate only for servers", Leaf.valid(CHECKOUT).withEku(KeyPurposeId.id_kp_serverAuth), "not_for_role"));
    rows.add(Arguments.of("client", "a server certificate only for clients", Leaf.valid(PAYMENTS).withEku(KeyPurposeId.id_kp_clientAuth), "not_for_role"));
    rows.add(Arguments.of("client", "a server that is another service", Leaf.valid(CHECKOUT), "wrong_service"));
    rows.add(Arguments.of("client", "a server of payments in another datacenter",
        Leaf.valid("spiffe://dev.test/ns/default/dc/eu1/svc/payments"), "accept"));
    return rows.stream();
  }

  @ParameterizedTest(name = "{0} side: {1} -> {3}")
  @MethodSource("rows")
  void refusesWhatTheX509SvidSpecificationForbids(String side, String what, Leaf leaf, String verdict) throws Exception {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    boolean serverSide = side.equals("server");
    MeshTrustManager tm = new MeshTrustManager(CA.source(serverSide ? "payments" : "checkout"), MeshClock.system(),
        serverSide ? null : "payments", meters);
    HostileCertificates.Minted m = HostileCertificates.mint(CA, leaf);
    if (verdict.equals("accept")) {
      assertThat(tm.verify(m.chain(), !serverSide).trustDomain()).isEqualTo("dev.test");
      assertThat(meters.get("mesh.tls.rejections").counters()).allSatisfy(c -> assertThat(c.count()).isZero());
      return;
    }
    assertThatThrownBy(() -> tm.verify(m.chain(), !serverSide)).isInstanceOf(CertificateException.class);
    assertThat(meters.counter("mesh.tls.rejections", "side", side, "reason", verdict).count()).as("counted as %s", verdict)
        .isEqualTo(1.0);
    assertThat(meters.get("mesh.tls.rejections").counters().stream().mapToDouble(c -> c.count()).sum()).isEqualTo(1.0);
  }
}
