package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.TestCall;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** State that must not grow with time: meters after many policy updates (routes, subsets, DENY, AUDIT and dry-run policies). */
class BoundedStateTest {
  final FakeClock clock = new FakeClock();

  static String policy(int i) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec:
          host: payments
          subsets: [{ name: s%1$d, labels: { version: v1 } }]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - name: route-%1$d
              route: [{ destination: { host: payments, subset: s%1$d } }]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: deny-%1$d }
        spec:
          action: DENY
          rules: [{ to: [{ operation: { paths: ["/admin-%1$d"] } }] }]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: audit-%1$d }
        spec:
          action: AUDIT
          rules: [{ to: [{ operation: { paths: ["/audited-%1$d"] } }] }]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: dry-%1$d, annotations: { "istio.io/dry-run": "true" } }
        spec:
          action: DENY
          rules: [{ to: [{ operation: { paths: ["/dry-%1$d"] } }] }]
        """.formatted(i);
  }

  Mesh mesh() {
    return Mesh.builder().service("checkout").clock(clock)
        .endpoints("payments", List.of(new Endpoint("a", "127.0.0.1", 9001, Map.of("version", "v1"), 1))).build();
  }

  static void rejectOne(Mesh mesh) {
    try {
      mesh.updatePolicies("p", policy(1).replace("subset: s1 }", "subset: missing }"));
      throw new AssertionError("accepted a route to a subset that does not exist");
    } catch (MeshConfigException expected) {
      // refused: the last good policy serves
    }
  }

  static void oneCall(Mesh mesh) {
    TestCall c = TestCall.grpc(mesh, "payments", "/p").start();
    c.end(AttemptEnd.STATUS, 0);
    assertThat(c.completedWith).isEqualTo(1);
  }

  @Test
  void twoThousandPolicyUpdatesLeaveOnlyTheMetersThePolicyInForceNeeds() {
    int inForce;
    try (Mesh fresh = mesh()) {
      fresh.updatePolicies("p", policy(2000));
      oneCall(fresh);
      rejectOne(fresh);
      inForce = fresh.meterRegistry().getMeters().size();
    }
    try (Mesh mesh = mesh()) {
      for (int i = 1; i <= 2000; i++) {
        mesh.updatePolicies("p", policy(i));
        oneCall(mesh);
      }
      // the rejected update of a bad document leaves nothing behind either (but its own count)
      rejectOne(mesh);
      assertThat(mesh.meterRegistry().getMeters().size()).isEqualTo(inForce);
      assertThat(mesh.meterRegistry().find("mesh.client.requests").tag("route", "route-2000").timers()).isNotEmpty();
      assertThat(mesh.meterRegistry().find("mesh.client.requests").tag("route", "route-1999").timers()).isEmpty();
      assertThat(mesh.meterRegistry().find("mesh.authz.audits").tag("policy", "audit-1999").counters()).isEmpty();
      assertThat(mesh.meterRegistry().find("mesh.authz.dryrun").tag("policy", "dry-1999").counters()).isEmpty();
      assertThat(mesh.meterRegistry().find("mesh.authz.audits").tag("policy", "audit-2000").counters()).isNotEmpty();
    }
  }
}
