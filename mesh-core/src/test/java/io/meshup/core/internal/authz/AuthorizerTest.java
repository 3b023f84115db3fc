package io.meshup.core.internal.authz;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.config.YamlReader;
import io.meshup.core.internal.policy.PolicySet;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Istio's AuthorizationPolicy and PeerAuthentication semantics, case by case, for service payments. */
class AuthorizerTest {
  static final String SERVICE = "payments";
  static final String CHECKOUT = "example.org/ns/default/dc/dc1/svc/checkout";
  static final String LEGACY = "example.org/ns/default/dc/dc1/svc/legacy";
  static final String PROD_CHECKOUT = "example.org/ns/prod/dc/dc1/svc/checkout";
  static final String OTHER_DOMAIN = "other.org/ns/default/dc/dc1/svc/checkout";
  static final String PLAINTEXT = null;
  static final String GET = "/pay.Payments/Get";
  static final String DELETE = "/pay.Payments/Delete";
  static final String ADMIN = "/pay.Admin/Reset";
  static final String ALLOW = "ALLOW";

  static String policy(String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: " + name
        + ", namespace: default }\nspec:\n" + spec.indent(2) + "---\n";
  }

  static String allow(String name, String rules) {
    return policy(name, "action: ALLOW\nrules:\n" + rules);
  }

  static String deny(String name, String rules) {
    return policy(name, "action: DENY\nrules:\n" + rules);
  }

  static String noAllow(String... names) {
    return "meshup: no ALLOW rule of AuthorizationPolicy " + String.join(", ", names) + " matches";
  }

  static String denied(String name, int rule) {
    return "meshup: denied by AuthorizationPolicy " + name + " rules[" + rule + "]";
  }

  static Arguments c(String name, String yaml, String caller, String path, String method, String expected) {
    return Arguments.of(name, yaml, caller, path, method, expected);
  }

  static Stream<Arguments> cases() {
    String allowCheckout = allow("allow-checkout", "- from: [{ source: { principals: [\"" + CHECKOUT + "\"] } }]");
    String denyLegacy = deny("deny-legacy", "- from: [{ source: { principals: [\"" + LEGACY + "\"] } }]");
    String allowAll = allow("allow-all", "- {}");
    return Stream.of(
        c("no policy allows everything", "", CHECKOUT, GET, "POST", ALLOW),
        c("no policy allows plaintext too", "", PLAINTEXT, GET, "POST", ALLOW),
        c("allow by exact principal", allowCheckout, CHECKOUT, GET, "POST", ALLOW),
        c("another principal matches no allow rule", allowCheckout, LEGACY, GET, "POST", noAllow("allow-checkout")),
        c("exact principal is not a prefix", allowCheckout, PROD_CHECKOUT, GET, "POST", noAllow("allow-checkout")),
        c("deny by exact principal", denyLegacy, LEGACY, GET, "POST", denied("deny-legacy", 0)),
        c("deny policy alone allows the rest", denyLegacy, CHECKOUT, GET, "POST", ALLOW),
        c("deny wins over allow", allowAll + denyLegacy, LEGACY, GET, "POST", denied("deny-legacy", 0)),
        c("allow all lets others through beside a deny", allowAll + denyLegacy, CHECKOUT, GET, "POST", ALLOW),
        c("prefix principal matches", allow("a", "- from: [{ source: { principals: [\"example.org/ns/default/*\"] } }]"),
            LEGACY, GET, "POST", ALLOW),
        c("prefix principal does not match another namespace",
            allow("a", "- from: [{ source: { principals: [\"example.org/ns/default/*\"] } }]"), PROD_CHECKOUT, GET, "POST", noAllow("a")),
        c("suffix principal matches any namespace", allow("a", "- from: [{ source: { principals: [\"*/svc/checkout\"] } }]"),
            PROD_CHECKOUT, GET, "POST", ALLOW),
        c("suffix principal does not match another service",
            allow("a", "- from: [{ source: { principals: [\"*/svc/checkout\"] } }]"), LEGACY, GET, "POST", noAllow("a")),
        c("star principal matches any mTLS caller", allow("a", "- from: [{ source: { principals: [\"*\"] } }]"),
            OTHER_DOMAIN, GET, "POST", ALLOW),
        c("star principal does not match plaintext", allow("a", "- from: [{ source: { principals: [\"*\"] } }]"),
            PLAINTEXT, GET, "POST", noAllow("a")),
        c("namespace matches", allow("a", "- from: [{ source: { namespaces: [prod] } }]"), PROD_CHECKOUT, GET, "POST", ALLOW),
        c("namespace does not match", allow("a", "- from: [{ source: { namespaces: [prod] } }]"), CHECKOUT, GET, "POST", noAllow("a")),
        c("namespace prefix", allow("a", "- from: [{ source: { namespaces: [\"pro*\"] } }]"), PROD_CHECKOUT, GET, "POST", ALLOW),
        c("namespace never matches plaintext", allow("a", "- from: [{ source: { namespaces: [\"*\"] } }]"),
            PLAINTEXT, GET, "POST", noAllow("a")),
        c("notNamespaces denies the others", deny("d", "- from: [{ source: { notNamespaces: [prod] } }]"),
            CHECKOUT, GET, "POST", denied("d", 0)),
        c("notNamespaces spares the listed", deny("d", "- from: [{ source: { notNamespaces: [prod] } }]"),
            PROD_CHECKOUT, GET, "POST", ALLOW),
        c("notPrincipals star denies plaintext", deny("require-mtls", "- from: [{ source: { notPrincipals: [\"*\"] } }]"),
            PLAINTEXT, GET, "POST", denied("require-mtls", 0)),
        c("notPrincipals star spares mTLS callers", deny("require-mtls", "- from: [{ source: { notPrincipals: [\"*\"] } }]"),
            CHECKOUT, GET, "POST", ALLOW),
        c("allow with notPrincipals excludes one", allow("a", "- from: [{ source: { principals: [\"*\"], notPrincipals: [\"" + LEGACY + "\"] } }]"),
            LEGACY, GET, "POST", noAllow("a")),
        c("allow with notPrincipals admits the others", allow("a", "- from: [{ source: { principals: [\"*\"], notPrincipals: [\"" + LEGACY + "\"] } }]"),
            CHECKOUT, GET, "POST", ALLOW),
        c("exact path allowed", allow("a", "- to: [{ operation: { paths: [\"" + GET + "\"] } }]"), CHECKOUT, GET, "POST", ALLOW),
        c("other path not allowed", allow("a", "- to: [{ operation: { paths: [\"" + GET + "\"] } }]"), CHECKOUT, DELETE, "POST", noAllow("a")),
        c("path prefix denies a whole service", deny("no-admin", "- to: [{ operation: { paths: [\"/pay.Admin/*\"] } }]"),
            CHECKOUT, ADMIN, "POST", denied("no-admin", 0)),
        c("path prefix spares other services", deny("no-admin", "- to: [{ operation: { paths: [\"/pay.Admin/*\"] } }]"),
            CHECKOUT, GET, "POST", ALLOW),
        c("path suffix denies a method in every service", deny("no-delete", "- to: [{ operation: { paths: [\"*/Delete\"] } }]"),
            CHECKOUT, DELETE, "POST", denied("no-delete", 0)),
        c("notPaths allows all but one", allow("a", "- to: [{ operation: { notPaths: [\"" + DELETE + "\"] } }]"),
            CHECKOUT, DELETE, "POST", noAllow("a")),
        c("notPaths allows the rest", allow("a", "- to: [{ operation: { notPaths: [\"" + DELETE + "\"] } }]"), CHECKOUT, GET, "POST", ALLOW),
        c("gRPC method is POST", allow("a", "- to: [{ operation: { methods: [POST] } }]"), CHECKOUT, GET, "POST", ALLOW),
        c("GET-only rule does not match gRPC", allow("a", "- to: [{ operation: { methods: [GET, HEAD] } }]"), CHECKOUT, GET, "POST", noAllow("a")),
        c("notMethods excludes POST", allow("a", "- to: [{ operation: { notMethods: [POST] } }]"), CHECKOUT, GET, "POST", noAllow("a")),
        c("plaintext matches a rule without principals", allow("a", "- to: [{ operation: { paths: [\"" + GET + "\"] } }]"),
            PLAINTEXT, GET, "POST", ALLOW),
        c("plaintext does not match a rule with principals", allowCheckout, PLAINTEXT, GET, "POST", noAllow("allow-checkout")),
        c("from and to must both match", allow("a", "- from: [{ source: { principals: [\"" + CHECKOUT + "\"] } }]\n  to: [{ operation: { paths: [\"" + GET + "\"] } }]"),
            CHECKOUT, DELETE, "POST", noAllow("a")),
        c("from and to both matching", allow("a", "- from: [{ source: { principals: [\"" + CHECKOUT + "\"] } }]\n  to: [{ operation: { paths: [\"" + GET + "\"] } }]"),
            CHECKOUT, GET, "POST", ALLOW),
        c("any from entry matches", allow("a", "- from:\n  - source: { principals: [\"" + LEGACY + "\"] }\n  - source: { namespaces: [prod] }"),
            PROD_CHECKOUT, GET, "POST", ALLOW),
        c("all fields of a source must match", allow("a", "- from: [{ source: { principals: [\"" + CHECKOUT + "\"], namespaces: [prod] } }]"),
            CHECKOUT, GET, "POST", noAllow("a")),
        c("the matching deny rule is named", deny("d", "- to: [{ operation: { paths: [\"" + GET + "\"] } }]\n- to: [{ operation: { paths: [\"" + DELETE + "\"] } }]"),
            CHECKOUT, DELETE, "POST", denied("d", 1)),
        c("first matching deny policy is named", deny("d1", "- from: [{ source: { namespaces: [default] } }]") + denyLegacy,
            LEGACY, GET, "POST", denied("d1", 0)),
        c("allow with no rules allows nothing", policy("allow-nothing", "{}"), CHECKOUT, GET, "POST", noAllow("allow-nothing")),
        c("allow with no rules refuses plaintext too", policy("allow-nothing", "{}"), PLAINTEXT, GET, "POST", noAllow("allow-nothing")),
        c("allow with one empty rule allows everything", allowAll, PLAINTEXT, ADMIN, "POST", ALLOW),
        c("deny with no rules denies nothing", policy("d", "action: DENY"), CHECKOUT, GET, "POST", ALLOW),
        c("deny with one empty rule denies everything", deny("deny-all", "- {}"), CHECKOUT, GET, "POST", denied("deny-all", 0)),
        c("any allow policy may admit", allowCheckout + allow("allow-prod", "- from: [{ source: { namespaces: [prod] } }]"),
            PROD_CHECKOUT, GET, "POST", ALLOW),
        c("no allow rule of several", allowCheckout + allow("allow-prod", "- from: [{ source: { namespaces: [prod] } }]"),
            LEGACY, GET, "POST", noAllow("allow-checkout", "allow-prod")),
        c("selector of another service does not apply",
            policy("x", "selector: { matchLabels: { app: inventory } }\naction: DENY\nrules: [{}]"), CHECKOUT, GET, "POST", ALLOW),
        c("selector of this service applies",
            policy("x", "selector: { matchLabels: { app: payments } }\naction: DENY\nrules: [{}]"), CHECKOUT, GET, "POST", denied("x", 0)),
        c("strict PeerAuthentication refuses plaintext",
            "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: { name: default }\nspec: { mtls: { mode: STRICT } }\n",
            PLAINTEXT, GET, "POST", "meshup: PeerAuthentication default requires mutual TLS (mode STRICT); the call came in plaintext"),
        c("strict PeerAuthentication admits mTLS",
            "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: { name: default }\nspec: { mtls: { mode: STRICT } }\n",
            CHECKOUT, GET, "POST", ALLOW),
        c("permissive PeerAuthentication admits plaintext",
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default }\nspec: { mtls: { mode: PERMISSIVE } }\n",
            PLAINTEXT, GET, "POST", ALLOW));
  }

  static InboundPolicy compile(String yaml, Map<String, Counter> counters) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    PolicySet set = PolicySet.of(List.of(new PolicySet.Source("test", new YamlReader(k -> null).readAll("test.yaml", yaml))), s -> true);
    return InboundPolicy.compile(set, Workload.basic(SERVICE, io.meshup.core.MeshClock.system(), null, (p, r) -> {
      Counter c = registry.counter("mesh.authz.denials", "policy", p, "rule", r);
      counters.put(p + "/" + r, c);
      return c;
    }));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void decidesAsIstioDoes(String name, String yaml, String caller, String path, String method, String expected) {
    Map<String, Counter> counters = new java.util.HashMap<>();
    InboundPolicy policy = yaml.isEmpty() ? InboundPolicy.EMPTY : compile(yaml, counters);
    WorkloadIdentity id = caller == null ? null : WorkloadIdentity.parse("spiffe://" + caller);

    AuthzDecision d = new Authorizer(() -> policy).authorize(id, path, method);

    if (expected.equals(ALLOW)) {
      assertThat(d.allowed()).as(d.toString()).isTrue();
      assertThat(d).isSameAs(AuthzDecision.ALLOW);
      assertThat(counters.values()).allSatisfy(c -> assertThat(c.count()).isZero());
    } else {
      assertThat(d.allowed()).isFalse();
      assertThat(d.message()).isEqualTo(expected);
      assertThat(counters.get(d.policy() + "/" + d.rule()).count()).isEqualTo(1.0);
    }
  }

  @Test
  void allowDecisionAllocatesNothing() {
    InboundPolicy policy = compile(deny("deny-legacy", "- from: [{ source: { principals: [\"" + LEGACY + "\"] } }]")
        + allow("a", "- from: [{ source: { principals: [\"*/svc/checkout\"], namespaces: [\"def*\"] } }]\n  to: [{ operation: { paths: [\"/pay.Payments/*\"], methods: [POST] } }]"),
        new java.util.HashMap<>());
    Authorizer authorizer = new Authorizer(() -> policy);
    WorkloadIdentity caller = WorkloadIdentity.parse("spiffe://" + CHECKOUT);
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long tid = Thread.currentThread().getId();
    for (int i = 0; i < 20_000; i++) {
      authorizer.authorize(caller, GET, "POST");
    }
    long before = mx.getThreadAllocatedBytes(tid);
    boolean all = true;
    for (int i = 0; i < 100_000; i++) {
      all &= authorizer.authorize(caller, GET, "POST").allowed();
    }
    long allocated = mx.getThreadAllocatedBytes(tid) - before;

    assertThat(all).isTrue();
    assertThat(allocated).as("bytes allocated by 100,000 decisions").isLessThan(10_000);
  }
}
