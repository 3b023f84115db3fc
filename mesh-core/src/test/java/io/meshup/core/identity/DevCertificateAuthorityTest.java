package io.meshup.core.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.testing.FakeClock;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class DevCertificateAuthorityTest {
  final FakeClock clock = new FakeClock();
  final DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test", clock, Duration.ofMinutes(10));

  static void verifies(Credentials c, List<X509Certificate> roots, Instant at) throws Exception {
    PKIXParameters p = new PKIXParameters(roots.stream().map(r -> new TrustAnchor(r, null)).collect(Collectors.toSet()));
    p.setRevocationEnabled(false);
    p.setDate(Date.from(at));
    CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(c.chain()), p);
  }

  @Test
  void issuesShortLivedP256LeafWithSpiffeIdAsOnlyUriSan() throws Exception {
    Credentials c = ca.issue(ca.identity("payments"));
    X509Certificate leaf = c.leaf();

    assertThat(c.identity()).hasToString("spiffe://dev.test/ns/default/dc/dc1/svc/payments");
    assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, "spiffe://dev.test/ns/default/dc/dc1/svc/payments"));
    assertThat(((ECPublicKey) leaf.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    assertThat(c.notAfter()).isEqualTo(now.plus(Duration.ofMinutes(10)));
    assertThat(leaf.getNotBefore().toInstant()).isEqualTo(now.minus(DevCertificateAuthority.BACKDATE));
    assertThat(c.trustBundle()).containsExactly(ca.root());
    verifies(c, c.trustBundle(), now);
  }

  @Test
  void issuesExpiredCertificatesOnRequest() {
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    Credentials c = ca.issue(ca.identity("payments"), now.minus(Duration.ofHours(2)), now.minus(Duration.ofHours(1)));

    assertThat(c.notAfter()).isBefore(now);
    assertThatThrownBy(() -> verifies(c, c.trustBundle(), now)).hasRootCauseInstanceOf(java.security.cert.CertificateExpiredException.class);
  }

  @Test
  void refusesIdentitiesOfAnotherTrustDomain() {
    assertThatThrownBy(() -> ca.issue(WorkloadIdentity.of("other.test", "payments")))
        .hasMessageContaining("this CA signs for trust domain 'dev.test', not for spiffe://other.test/");
  }

  @Test
  void rotateIssuesNewLeafAndTellsListeners() {
    DevCertificateAuthority.Source source = ca.source("payments");
    Credentials first = source.current();
    List<Credentials> seen = new ArrayList<>();
    source.subscribe(seen::add);

    Credentials second = source.rotate();

    assertThat(source.current()).isSameAs(second);
    assertThat(second.leaf().getSerialNumber()).isNotEqualTo(first.leaf().getSerialNumber());
    assertThat(second.privateKey()).isNotEqualTo(first.privateKey());
    assertThat(seen).containsExactly(second);
  }

  @Test
  void rotateRootTrustsOldAndNewRootsThenReissuesEverySource() throws Exception {
    DevCertificateAuthority.Source a = ca.source("a");
    X509Certificate oldRoot = ca.root();
    Credentials oldLeaf = a.current();
    List<Credentials> seen = new ArrayList<>();
    a.subscribe(seen::add);

    ca.rotateRoot();

    assertThat(ca.root()).isNotEqualTo(oldRoot);
    assertThat(ca.trustBundle()).containsExactly(ca.root(), oldRoot);
    // first the bundle with the old leaf, then a leaf of the new root
    assertThat(seen).hasSize(2);
    assertThat(seen.get(0).leaf()).isEqualTo(oldLeaf.leaf());
    assertThat(seen.get(0).trustBundle()).containsExactly(ca.root(), oldRoot);
    assertThat(a.current().leaf().getIssuerX500Principal()).isEqualTo(ca.root().getSubjectX500Principal());
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    verifies(oldLeaf, a.current().trustBundle(), now);
    verifies(a.current(), a.current().trustBundle(), now);
    assertThat(Set.copyOf(a.current().trustBundle())).hasSize(2);
  }
}
