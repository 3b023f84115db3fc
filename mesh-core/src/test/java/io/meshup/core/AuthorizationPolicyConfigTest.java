package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** AuthorizationPolicy and PeerAuthentication documents: errors name the field, updates apply whole or not at all. */
class AuthorizationPolicyConfigTest {
  static final WorkloadIdentity LEGACY = WorkloadIdentity.parse("spiffe://example.org/ns/default/dc/dc1/svc/legacy");

  static String ap(String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: " + name + " }\nspec:\n"
        + spec.indent(2);
  }

  static String pa(String spec) {
    return "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: { name: default }\nspec:\n" + spec.indent(2);
  }

  static Stream<Arguments> wrongDocuments() {
    return Stream.of(
        Arguments.of(ap("p", "rules:\n- from: [{ source: { ipBlocks: [10.0.0.0/8] } }]"),
            "spec.rules[0].from[0].source.ipBlocks", "field 'ipBlocks' is not supported by MeshUp: the caller's IP address is not used"),
        Arguments.of(ap("p", "rules:\n- from: [{ source: { requestPrincipals: [\"*\"] } }]"),
            "spec.rules[0].from[0].source.requestPrincipals", "field 'requestPrincipals' is not supported by MeshUp: request (JWT) authentication"),
        Arguments.of(ap("p", "rules:\n- when: [{ key: \"request.headers[x]\", values: [y] }]"),
            "spec.rules[0].when", "field 'when' is not supported by MeshUp: conditions"),
        Arguments.of(ap("p", "rules:\n- to: [{ operation: { ports: [\"8080\"] } }]"),
            "spec.rules[0].to[0].operation.ports", "field 'ports' is not supported by MeshUp"),
        Arguments.of(ap("p", "rules:\n- to: [{ operation: { hosts: [a] } }]"),
            "spec.rules[0].to[0].operation.hosts", "field 'hosts' is not supported by MeshUp"),
        Arguments.of(ap("p", "action: AUDIT"), "spec.action", "'AUDIT' is not supported by MeshUp"),
        Arguments.of(ap("p", "action: CUSTOM\nprovider: { name: ext }"), "spec.provider", "field 'provider' is not supported by MeshUp"),
        Arguments.of(ap("p", "action: CUSTOM"), "spec.action", "'CUSTOM' is not supported by MeshUp"),
        Arguments.of(ap("p", "action: ALLOWED"), "spec.action", "'ALLOWED' is not one of [ALLOW, DENY]"),
        Arguments.of(ap("p", "targetRefs: [{ kind: Gateway, name: gw }]"), "spec.targetRefs", "field 'targetRefs' is not supported by MeshUp"),
        Arguments.of(ap("p", "selector: { matchLabels: { version: v1 } }"), "spec.selector.matchLabels.version",
            "label 'version' is not supported by MeshUp"),
        Arguments.of(ap("p", "rules:\n- from: [{ source: { principals: [cluster.local/ns/default/sa/sleep] } }]"),
            "spec.rules[0].from[0].source.principals[0]", "'cluster.local/ns/default/sa/sleep' is a Kubernetes service-account principal"),
        Arguments.of(ap("p", "rules:\n- from: [{ source: { principals: [\"spiffe://example.org/ns/default/dc/dc1/svc/a\"] } }]"),
            "spec.rules[0].from[0].source.principals[0]", "starts with spiffe://; write principals without the scheme"),
        Arguments.of(ap("p", "rules:\n- from: [{ source: { principals: [example.org/svc/a] } }]"),
            "spec.rules[0].from[0].source.principals[0]", "'example.org/svc/a' is not a workload principal"),
        Arguments.of(ap("p", "rules:\n- to: [{ operation: { paths: [\"/a/*/b\"] } }]"),
            "spec.rules[0].to[0].operation.paths[0]", "'/a/*/b' has '*' in the wrong place"),
        Arguments.of(ap("p", "rules:\n- to: [{ operation: { paths: [\"\"] } }]"),
            "spec.rules[0].to[0].operation.paths[0]", "must not be empty"),
        Arguments.of(ap("p", "rules:\n- from: []"), "spec.rules[0].from", "must not be empty; omit it to match any caller"),
        Arguments.of(ap("p", "rules:\n- from: [{ source: {} }]"), "spec.rules[0].from[0].source",
            "must set at least one of principals, notPrincipals, namespaces or notNamespaces"),
        Arguments.of(ap("p", "rules:\n- to: [{ operation: { pathz: [a] } }]"), "spec.rules[0].to[0].operation.pathz", "unknown field 'pathz'"),
        Arguments.of(ap("p", "{}") + "---\n" + ap("p", "{}"), "metadata.name", "AuthorizationPolicy 'p' is defined twice"),
        Arguments.of(ap("p", "{}").replace("security.istio.io/v1", "networking.istio.io/v1"), "apiVersion",
            "'networking.istio.io/v1' is not supported; expected one of [security.istio.io/v1, security.istio.io/v1beta1]"),
        Arguments.of(pa("selector: { matchLabels: { app: payments } }\nmtls: { mode: STRICT }"), "spec.selector",
            "field 'selector' is not supported by MeshUp"),
        Arguments.of(pa("portLevelMtls: { 8080: { mode: DISABLE } }"), "spec.portLevelMtls", "field 'portLevelMtls' is not supported by MeshUp"),
        Arguments.of(pa("mtls: { mode: STRICTEST }"), "spec.mtls.mode", "'STRICTEST' is not one of [UNSET, PERMISSIVE, STRICT, DISABLE]"),
        Arguments.of(pa("mtls: { mode: STRICT }") + "---\n" + pa("mtls: { mode: PERMISSIVE }"), "kind",
            "this service already has a PeerAuthentication"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("wrongDocuments")
  void rejectsUnsupportedOrWrongFieldsByName(String yaml, String path, String problem) {
    assertThatThrownBy(() -> Mesh.builder().service("payments").policies("authz.yaml", yaml).build())
        .isInstanceOf(MeshConfigException.class)
        .satisfies(e -> {
          MeshConfigException ex = (MeshConfigException) e;
          assertThat(ex.getMessage()).contains("authz.yaml: ").contains(problem);
          assertThat(ex.path()).isEqualTo(path);
        });
  }

  @Test
  void istioDocumentationExamplesLoadUnchanged() {
    String yaml = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: allow-nothing
          namespace: default
        spec:
          {}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: deny-method-get
          namespace: foo
        spec:
          selector:
            matchLabels:
              app: payments
          action: DENY
          rules:
          - to:
            - operation:
                methods: ["GET"]
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: default
          namespace: foo
        spec:
          mtls:
            mode: UNSET
        """;
    try (Mesh mesh = Mesh.builder().service("payments").policies("docs.yaml", yaml).build()) {
      assertThat(mesh.policyOrigins()).containsExactly("docs.yaml: AuthorizationPolicy allow-nothing",
          "docs.yaml: AuthorizationPolicy deny-method-get", "docs.yaml: PeerAuthentication default");
      assertThat(mesh.inboundPolicy().policies()).containsExactly("allow-nothing", "deny-method-get");
      assertThat(mesh.inboundPolicy().peerMode()).isNull();
    }
  }

  @Test
  void updateAppliesToTheNextCallAndRejectedUpdateKeepsTheLastGood() {
    try (Mesh mesh = Mesh.builder().service("payments").build()) {
      assertThat(mesh.authorizer().authorize(LEGACY, "/a.B/C", "POST").allowed()).isTrue();

      mesh.updatePolicies("kv", ap("deny-legacy", "action: DENY\nrules:\n- from: [{ source: { principals: [\"*/svc/legacy\"] } }]"));
      InboundAuthorizer.Decision d = mesh.authorizer().authorize(LEGACY, "/a.B/C", "POST");
      assertThat(d.message()).isEqualTo("meshup: denied by AuthorizationPolicy deny-legacy rules[0]");

      assertThatThrownBy(() -> mesh.updatePolicies("kv", ap("deny-legacy", "action: DENY\nrules:\n- when: []")))
          .isInstanceOf(MeshConfigException.class).hasMessageContaining("spec.rules[0].when");
      assertThat(mesh.authorizer().authorize(LEGACY, "/a.B/C", "POST").message())
          .isEqualTo("meshup: denied by AuthorizationPolicy deny-legacy rules[0]");
      assertThat(mesh.meterRegistry().counter("mesh.authz.denials", "policy", "deny-legacy", "rule", "rules[0]").count())
          .isEqualTo(2.0);
      assertThat(mesh.meterRegistry().counter("mesh.policy.updates", "source", "kv", "result", "rejected").count())
          .isEqualTo(1.0);

      mesh.updatePolicies("kv", pa("mtls: { mode: STRICT }"));
      assertThat(mesh.authorizer().authorize(LEGACY, "/a.B/C", "POST").allowed()).isTrue();
      assertThat(mesh.inboundPolicy().peerMode()).isEqualTo(MtlsMode.STRICT);
    }
  }
}
