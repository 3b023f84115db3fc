package io.meshup.core.internal.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Why MeshUp's trust manager refuses a peer, check by check. */
class MeshTrustManagerTest {
  final DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test");
  final DevCertificateAuthority.Source payments = ca.source("payments");
  final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  final MeshTrustManager server = new MeshTrustManager(payments, MeshClock.system(), null, meters);
  final MeshTrustManager clientOfPayments =
      new MeshTrustManager(ca.source("checkout"), MeshClock.system(), "payments", meters);

  static X509Certificate[] chain(Credentials c) {
    return c.chain().toArray(new X509Certificate[0]);
  }

  double count(String side, String reason) {
    return meters.counter("mesh.tls.rejections", "side", side, "reason", reason).count();
  }

  @Test
  void acceptsClientOfTheTrustDomainAndReturnsItsIdentity() throws Exception {
    assertThat(server.verify(chain(ca.issue(ca.identity("checkout"))), false)).isEqualTo(ca.identity("checkout"));
  }

  @Test
  void acceptsTheDestinationServiceWhateverItsHostOrDatacenter() throws Exception {
    Credentials otherDc = ca.issue(io.meshup.core.identity.WorkloadIdentity.of("dev.test", "default", "eu1", "payments"));
    assertThat(clientOfPayments.verify(chain(otherDc), true).datacenter()).isEqualTo("eu1");
  }

  @Test
  void refusesEmptyChain() {
    assertThatThrownBy(() -> server.verify(new X509Certificate[0], false))
        .hasMessage("the client presented no certificate; mutual TLS is required");
    assertThat(count("server", "no_certificate")).isEqualTo(1.0);
  }

  @Test
  void refusesUntrustedCa() {
    DevCertificateAuthority rogue = DevCertificateAuthority.create("dev.test");
    assertThatThrownBy(() -> server.verify(chain(rogue.issue(rogue.identity("checkout"))), false))
        .hasMessageContaining("the client's certificate spiffe://dev.test/ns/default/dc/dc1/svc/checkout does not verify against the trust bundle");
    assertThat(count("server", "untrusted")).isEqualTo(1.0);
  }

  @Test
  void refusesExpiredCertificate() {
    Instant now = Instant.now();
    Credentials expired = ca.issue(ca.identity("checkout"), now.minus(Duration.ofHours(2)), now.minus(Duration.ofHours(1)));
    assertThatThrownBy(() -> server.verify(chain(expired), false))
        .hasMessageContaining("does not verify against the trust bundle: the certificate expired (notAfter ");
    assertThat(count("server", "expired")).isEqualTo(1.0);
  }

  @Test
  void refusesAnotherTrustDomainEvenWhenItsRootIsTrusted() {
    DevCertificateAuthority other = DevCertificateAuthority.create("other.test");
    Credentials own = payments.current();
    CertificateSource federated = new FixedSource(new Credentials(own.privateKey(), own.chain(), List.of(ca.root(), other.root())));
    MeshTrustManager tm = new MeshTrustManager(federated, MeshClock.system(), null, meters);

    assertThatThrownBy(() -> tm.verify(chain(other.issue(other.identity("checkout"))), false))
        .hasMessage("the client is spiffe://other.test/ns/default/dc/dc1/svc/checkout, of trust domain 'other.test'; "
            + "this workload trusts only 'dev.test'");
    assertThat(count("server", "trust_domain")).isEqualTo(1.0);
  }

  @Test
  void clientRefusesServerOfAnotherService() {
    assertThatThrownBy(() -> clientOfPayments.verify(chain(ca.issue(ca.identity("inventory"))), true))
        .hasMessage("the server is spiffe://dev.test/ns/default/dc/dc1/svc/inventory, not service 'payments' of trust "
            + "domain 'dev.test' that this channel calls");
    assertThat(count("client", "wrong_service")).isEqualTo(1.0);
  }

  @Test
  void followsTheSourcesCurrentTrustBundle() throws Exception {
    Credentials before = ca.issue(ca.identity("checkout"));
    ca.rotateRoot();
    Credentials after = ca.issue(ca.identity("checkout"));

    // the bundle now holds both roots: leaves of either verify
    assertThat(server.verify(chain(before), false)).isEqualTo(ca.identity("checkout"));
    assertThat(server.verify(chain(after), false)).isEqualTo(ca.identity("checkout"));
  }

  private record FixedSource(Credentials credentials) implements CertificateSource {
    @Override
    public Credentials current() {
      return credentials;
    }

    @Override
    public Subscription subscribe(Listener listener) {
      return () -> {};
    }
  }
}
