package io.meshup.core.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.HostileCertificates;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.tls.JdkTlsContexts;
import io.meshup.core.route.InboundAuthorizer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.Test;

/**
 * Workload identities of Istio's and SPIRE's shape beside Consul's: parsed, issued by the
 * development CA, verified by the trust manager, named by AuthorizationPolicy principals as the
 * certificate carries them; and trust domain aliases, as Istio's trust-domain migration has them.
 */
class IstioIdentityTest {
  /** istio/istio pilot/pkg/security/trustdomain/bundle.go. */
  static final String ALIASES = "Any service with the identity `td1/ns/foo/sa/a-service-account`,"
      + " `td2/ns/foo/sa/a-service-account`, or `td3/ns/foo/sa/a-service-account` will be treated the same in the Istio mesh.";

  @Test
  void parsesIstiosShapeBesideConsuls() {
    WorkloadIdentity sa = WorkloadIdentity.parse("spiffe://cluster.local/ns/default/sa/sleep");
    assertThat(sa.isServiceAccount()).isTrue();
    assertThat(sa.serviceAccount()).isEqualTo("sleep");
    assertThat(sa.service()).isEqualTo("sleep");
    assertThat(sa.namespace()).isEqualTo("default");
    assertThat(sa.datacenter()).isNull();
    assertThat(sa.principal()).isEqualTo("cluster.local/ns/default/sa/sleep");
    assertThat(sa).isEqualTo(WorkloadIdentity.serviceAccount("cluster.local", "default", "sleep")).hasToString(
        "spiffe://cluster.local/ns/default/sa/sleep");
    WorkloadIdentity consul = WorkloadIdentity.parse("spiffe://cluster.local/ns/default/dc/dc1/svc/sleep");
    assertThat(consul.isServiceAccount()).isFalse();
    assertThat(consul).isNotEqualTo(sa);
    assertThatThrownBy(() -> WorkloadIdentity.parse("spiffe://cluster.local/ns/default/sa"))
        .hasMessageContaining("/ns/<namespace>/sa/<service-account>");
  }

  @Test
  void theDevelopmentCaIssuesEitherShapeAndTheTrustManagerAcceptsBoth() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("cluster.local");
    Credentials sleep = ca.issue(ca.serviceAccountIdentity("default", "sleep"));
    Credentials web = ca.issue(ca.identity("web"));
    assertThat(sleep.identity().principal()).isEqualTo("cluster.local/ns/default/sa/sleep");
    X509ExtendedTrustManager server = (X509ExtendedTrustManager) trustManager(ca, Set.of());
    server.checkClientTrusted(sleep.chain().toArray(new X509Certificate[0]), "EC");
    server.checkClientTrusted(web.chain().toArray(new X509Certificate[0]), "EC");
  }

  @Test
  void aServerAcceptsCallersOfItsTrustDomainAliasesAndNoOthers() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("new-td");
    X509Certificate[] old = HostileCertificates.mint(ca,
        HostileCertificates.Leaf.valid("spiffe://old-td/ns/curl-allow/sa/curl")).chain();
    X509Certificate[] other = HostileCertificates.mint(ca,
        HostileCertificates.Leaf.valid("spiffe://other-td/ns/curl-allow/sa/curl")).chain();
    X509ExtendedTrustManager withAlias = (X509ExtendedTrustManager) trustManager(ca, Set.of("old-td"));
    withAlias.checkClientTrusted(old, "EC");
    assertThatThrownBy(() -> withAlias.checkClientTrusted(other, "EC")).isInstanceOf(CertificateException.class)
        .hasMessageContaining("this workload trusts only 'new-td' and its aliases [old-td]");
    assertThatThrownBy(() -> ((X509ExtendedTrustManager) trustManager(ca, Set.of())).checkClientTrusted(old, "EC"))
        .isInstanceOf(CertificateException.class);
  }

  private static javax.net.ssl.TrustManager trustManager(DevCertificateAuthority ca, Set<String> aliases) {
    return new io.meshup.core.internal.tls.MeshTrustManager(ca.source(ca.serviceAccountIdentity("default", "httpbin")),
        MeshClock.system(), null, aliases, new SimpleMeterRegistry());
  }

  @Test
  void principalsOfTheTrustDomainOrItsAliasesOrClusterLocalNameTheCallerWhicheverItCarries() {
    DevCertificateAuthority ca = DevCertificateAuthority.create("new-td");
    try (Mesh mesh = Mesh.builder().service("httpbin").certificates(ca.source(ca.serviceAccountIdentity("default", "httpbin")))
        .trustDomainAliases(List.of("old-td")).build()) {
      // the task's policy names the old trust domain: with the alias it still names the migrated caller
      mesh.updatePolicies("td", """
          apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata:
            name: service-httpbin.default.svc.cluster.local
            namespace: default
          spec:
            rules:
            - from:
              - source:
                  principals:
                  - old-td/ns/curl-allow/sa/curl
              to:
              - operation:
                  methods:
                  - GET
            selector:
              matchLabels:
                app: httpbin
          """);
      InboundAuthorizer a = mesh.authorizer();
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://new-td/ns/curl-allow/sa/curl"), "/ip", "GET").allowed())
          .as(ALIASES).isTrue();
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://old-td/ns/curl-allow/sa/curl"), "/ip", "GET").allowed()).isTrue();
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://other-td/ns/curl-allow/sa/curl"), "/ip", "GET").allowed()).isFalse();
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://new-td/ns/default/sa/curl"), "/ip", "GET").allowed()).isFalse();

      // cluster.local stands for the trust domain and its aliases
      mesh.updatePolicies("td", """
          apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata: { name: allow-sleep }
          spec:
            rules:
            - from: [{ source: { principals: [cluster.local/ns/default/sa/sleep] } }]
          """);
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://new-td/ns/default/sa/sleep"), "/", "GET").allowed()).isTrue();
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://old-td/ns/default/sa/sleep"), "/", "GET").allowed()).isTrue();
      assertThat(a.authorize(WorkloadIdentity.parse("spiffe://new-td/ns/default/dc/dc1/svc/sleep"), "/", "GET").allowed())
          .as("Consul's shape is another identity").isFalse();
    }
  }

  @Test
  void theDevCaOfTheBootstrapIssuesIstiosShapeWhenAServiceAccountIsNamed() {
    String yaml = """
        mesh:
          service: reviews
          tls:
            mode: STRICT
            certificates: dev
            trustDomain: cluster.local
            namespace: bookinfo
            serviceAccount: bookinfo-reviews
            caDirectory: none
        """;
    try (Mesh mesh = Mesh.fromYamlString(yaml)) {
      assertThat(mesh.certificates().orElseThrow().current().identity())
          .isEqualTo(WorkloadIdentity.serviceAccount("cluster.local", "bookinfo", "bookinfo-reviews"));
    }
    assertThatThrownBy(() -> Mesh.fromYamlString(yaml.replace("serviceAccount: bookinfo-reviews",
        "serviceAccount: bookinfo-reviews\n    datacenter: dc1"))).hasMessageContaining("set one of serviceAccount or datacenter");
    // the JDK contexts take the aliases too
    assertThat(JdkTlsContexts.server(DevCertificateAuthority.create("a.test").source("x"), MeshClock.system(),
        Set.of("b.test"), new SimpleMeterRegistry())).isNotNull();
  }
}
