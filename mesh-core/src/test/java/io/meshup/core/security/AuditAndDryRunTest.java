package io.meshup.core.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.Mesh;
import io.meshup.core.identity.WorkloadIdentity;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Test;

/**
 * AUDIT policies and dry-run policies are decided, logged and counted, and never enforced: the
 * call's outcome is the enforced policies' alone.
 */
class AuditAndDryRunTest {
  static final WorkloadIdentity SLEEP = WorkloadIdentity.parse("spiffe://cluster.local/ns/default/sa/sleep");

  @Test
  void anAuditPolicyCountsTheCallsItMatchesAndDecidesNothing() {
    try (Mesh mesh = Mesh.builder().service("myapi").build()) {
      mesh.updatePolicies("audit", """
          apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata:
            namespace: default
            name: anyname
          spec:
            selector:
              matchLabels:
                app: myapi
            action: AUDIT
            rules:
            - to:
              - operation:
                  methods: ["GET"]
                  paths: ["/user/profile/*"]
          """);
      assertThat(mesh.authorizer().authorize(SLEEP, "/user/profile/1", "GET").allowed()).isTrue();
      assertThat(mesh.authorizer().authorize(SLEEP, "/user/other", "GET").allowed()).isTrue();
      MeterRegistry m = mesh.meterRegistry();
      assertThat(m.counter("mesh.authz.audits", "policy", "anyname", "rule", "rules[0]").count()).isEqualTo(1.0);
    }
  }

  @Test
  void dryRunPoliciesCountWhatTheyWouldDoAndEnforceNothing() {
    try (Mesh mesh = Mesh.builder().service("httpbin").build()) {
      mesh.updatePolicies("dry", """
          apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata:
            name: deny-path-headers
            annotations:
              "istio.io/dry-run": "true"
          spec:
            selector:
              matchLabels:
                app: httpbin
            action: DENY
            rules:
            - to:
              - operation:
                  paths: ["/headers"]
          ---
          apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata:
            name: allow-ip
            annotations:
              "istio.io/dry-run": "true"
          spec:
            rules:
            - to:
              - operation:
                  paths: ["/ip"]
          """);
      MeterRegistry m = mesh.meterRegistry();
      assertThat(mesh.authorizer().authorize(SLEEP, "/headers", "GET").allowed()).isTrue();
      assertThat(mesh.authorizer().authorize(SLEEP, "/ip", "GET").allowed()).isTrue();
      assertThat(m.counter("mesh.authz.dryrun", "policy", "deny-path-headers", "rule", "rules[0]", "result", "denied").count())
          .as("the dry-run DENY would have denied /headers").isEqualTo(1.0);
      assertThat(m.counter("mesh.authz.dryrun", "policy", "allow-ip", "rule", "rules[0]", "result", "allowed").count())
          .as("the dry-run ALLOW would have allowed /ip").isEqualTo(1.0);
      assertThat(m.counter("mesh.authz.dryrun", "policy", "none", "rule", "none", "result", "denied").count())
          .as("no dry-run ALLOW rule matched /headers: it would have been denied").isEqualTo(1.0);
      assertThat(m.find("mesh.authz.denials").counters()).allSatisfy(c -> assertThat(c.count()).isZero());
    }
  }
}
