package io.meshup.core.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class WorkloadIdentityTest {
  @Test
  void parsesAndFormatsConsulConnectForm() {
    WorkloadIdentity id = WorkloadIdentity.parse("spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/web");

    assertThat(id.trustDomain()).isEqualTo("11111111-2222-3333-4444-555555555555.consul");
    assertThat(id.namespace()).isEqualTo("default");
    assertThat(id.datacenter()).isEqualTo("dc1");
    assertThat(id.service()).isEqualTo("web");
    assertThat(id).hasToString("spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/web");
    assertThat(WorkloadIdentity.parse(id.toString())).isEqualTo(id);
  }

  @Test
  void refusesAnUpperCaseTrustDomainOrSchemeAsTheSpiffeIdSpecificationAsks() {
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe://Example.ORG/ns/default/dc/dc1/svc/web"))
        .hasMessageContaining("the trust domain must be in lower case");
    assertThatThrownBy(() -> WorkloadIdentity.parse("SPIFFE://example.org/ns/default/dc/dc1/svc/web"))
        .hasMessageContaining("the scheme must be spiffe, in lower case");
    // configuration may still name a trust domain in any case: it is a DNS-style name
    assertThat(WorkloadIdentity.of("Example.ORG", "web").trustDomain()).isEqualTo("example.org");
  }

  @Test
  void isServiceIgnoresNamespaceAndDatacenter() {
    WorkloadIdentity id = WorkloadIdentity.of("example.org", "ns2", "dc9", "web");

    assertThat(id.isService("example.org", "web")).isTrue();
    assertThat(id.isService("example.org", "api")).isFalse();
    assertThat(id.isService("other.org", "web")).isFalse();
  }

  @Test
  void rejectsMalformedIdsSayingWhy() {
    assertThatThrownBy(() -> WorkloadIdentity.parse("https://example.org/ns/default/dc/dc1/svc/web"))
        .hasMessageContaining("the scheme must be spiffe")
        .hasMessageContaining("expected spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>");
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe://example.org/svc/web"))
        .hasMessageContaining("the path must be /ns/<namespace>/dc/<datacenter>/svc/<service>");
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe:///ns/default/dc/dc1/svc/web"))
        .hasMessageContaining("the trust domain is missing");
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe://example.org:8443/ns/default/dc/dc1/svc/web"))
        .hasMessageContaining("no port");
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe://example.org/ns/default/dc/dc1/svc/we$b"))
        .hasMessageContaining("the path may hold only letters, digits, '.', '-' and '_'");
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe://example.org/ns/default/dc/dc1/svc/"))
        .hasMessageContaining("the path has an empty segment");
    assertThatThrownBy(() -> WorkloadIdentity.of("bad_domain!", "web"))
        .hasMessageContaining("trust domain 'bad_domain!' is invalid");
  }
}
