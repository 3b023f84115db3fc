package io.meshup.consul.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.consul.ConsulOps;
import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.core.identity.WorkloadIdentity;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Consul intentions decided by MeshUp, compared case by case with the real agent's
 * {@code /v1/agent/connect/authorize} (the agent's own authority for Connect-native services),
 * asked with the same token, on three agents: ACLs off, ACLs on with default policy allow, and
 * with default policy deny. Each scenario is a set of intentions for {@code payments}; each
 * case a caller (named in an intention or not, or of another namespace). MeshUp must decide as
 * the agent does, every time.
 */
class IntentionsAgreementTest {
  enum Acl { OFF, DEFAULT_ALLOW, DEFAULT_DENY }

  static final String MASTER = "root";
  static final String SERVICE = "payments";

  @RegisterExtension static ConsulAgent off = new ConsulAgent();
  @RegisterExtension static ConsulAgent allow = new ConsulAgent().withArgs("-hcl",
      "acl { enabled = true, default_policy = \"allow\", tokens { master = \"" + MASTER + "\", agent = \"" + MASTER + "\" } }");
  @RegisterExtension static ConsulAgent deny = new ConsulAgent().withArgs("-hcl",
      "acl { enabled = true, default_policy = \"deny\", tokens { master = \"" + MASTER + "\", agent = \"" + MASTER + "\" } }");

  static final Map<Acl, Mesh> meshes = new EnumMap<>(Acl.class);
  static final Map<Acl, ConsulOps> admin = new EnumMap<>(Acl.class);
  static final Map<Acl, String> tokens = new EnumMap<>(Acl.class);
  static final Map<Acl, String> trustDomains = new EnumMap<>(Acl.class);
  static final Map<Acl, String> current = new EnumMap<>(Acl.class);

  static ConsulAgent agent(Acl acl) {
    return acl == Acl.OFF ? off : acl == Acl.DEFAULT_ALLOW ? allow : deny;
  }

  @BeforeAll
  static void start() {
    for (Acl acl : Acl.values()) {
      ConsulAgent a = agent(acl);
      ConsulOps ops = new ConsulOps(a.httpAddress(), acl == Acl.OFF ? null : MASTER);
      String token = "";
      if (acl != Acl.OFF) {
        ops.aclPolicy("payments-native", """
            service "payments" { policy = "write" intentions = "read" }
            service_prefix "" { policy = "read" }
            node_prefix "" { policy = "read" }
            """);
        token = ops.aclToken("payments-native");
      }
      admin.put(acl, ops);
      tokens.put(acl, token);
      trustDomains.put(acl, ops.trustDomain());
      meshes.put(acl, Mesh.fromYamlString("""
          mesh:
            service: %s
            registry:
              type: consul
              consul: { address: %s, token: "%s", waitTime: 5s, configEntries: { enabled: false } }
          """.formatted(SERVICE, a.httpAddress(), token)));
    }
  }

  @AfterAll
  static void stop() {
    meshes.values().forEach(Mesh::close);
  }

  /** Scenarios: intentions as source>destination:action, separated by ';' (the cases among them). */
  static final Map<String, String> SCENARIOS = new LinkedHashMap<>();

  static {
    SCENARIOS.put("no intention", "");
    SCENARIOS.put("web denied", "web>payments:deny");
    SCENARIOS.put("web allowed", "web>payments:allow");
    SCENARIOS.put("everyone denied", "*>payments:deny");
    SCENARIOS.put("everyone allowed", "*>payments:allow");
    SCENARIOS.put("issue 11: * -> payments deny beats web -> * allow", "*>payments:deny;web>*:allow");
    SCENARIOS.put("exact source beats everything else", "*>*:deny;api>payments:allow");
    SCENARIOS.put("exact destination beats * destination", "web>*:deny;web>payments:allow");
    SCENARIOS.put("allow all but web", "*>payments:allow;web>payments:deny");
    SCENARIOS.put("three levels", "*>*:allow;*>payments:deny;api>payments:allow");
    SCENARIOS.put("web allowed everywhere", "web>*:allow");
    SCENARIOS.put("everything denied everywhere", "*>*:deny");
    SCENARIOS.put("named on * only", "api>*:deny;web>*:allow");
    SCENARIOS.put("other destination only", "web>orders:deny;*>orders:deny");
  }

  static final List<String> CALLERS = List.of("web", "api", "db", "stranger", "other-ns/web");

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Acl acl : Acl.values()) {
      for (Map.Entry<String, String> s : SCENARIOS.entrySet()) {
        for (String caller : CALLERS) {
          out.add(Arguments.of(acl, s.getKey(), caller));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "ACL {0}, {1}: caller {2}")
  @MethodSource("cases")
  void meshUpDecidesAsTheAgentDoes(Acl acl, String scenario, String caller) {
    Mesh mesh = meshes.get(acl);
    if (!scenario.equals(current.get(acl))) {
      apply(acl, SCENARIOS.get(scenario));
      current.put(acl, scenario);
      // the watch follows the agent within a blocking query's round trip; wait for every caller to agree
      await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(20)).until(() ->
          CALLERS.stream().allMatch(c -> meshAllows(acl, mesh, c) == agentAllows(acl, c)));
    }
    assertThat(meshAllows(acl, mesh, caller)).as("MeshUp vs the agent's /v1/agent/connect/authorize")
        .isEqualTo(agentAllows(acl, caller));
  }

  static double meter(Mesh mesh, String name, String... tags) {
    io.micrometer.core.instrument.search.Search q = mesh.meterRegistry().find(name).tags(tags);
    return q.counter() != null ? q.counter().count() : q.gauge() != null ? q.gauge().value() : Double.NaN;
  }

  static void refusesEveryone(Acl acl, Mesh mesh) {
    for (String c : CALLERS) {
      assertThat(meshAllows(acl, mesh, c)).as("caller %s must be refused", c).isFalse();
    }
    assertThat(mesh.authorizer().authorize(null, "/pkg.Payments/Charge", "POST").allowed()).as("plaintext caller").isFalse();
  }

  @org.junit.jupiter.api.Test
  void anAgentUnreachableAtStartRefusesEveryCaller() throws Exception {
    int closedPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    try (Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: payments
          registry:
            type: consul
            consul: { address: 127.0.0.1:%d, waitTime: 5s, configEntries: { enabled: false } }
        """.formatted(closedPort))) {
      refusesEveryone(Acl.OFF, mesh);
      await().atMost(Duration.ofSeconds(10)).until(() -> meter(mesh, "mesh.intentions.failures", "reason", "unreachable") >= 1);
      assertThat(meter(mesh, "mesh.intentions.closed")).isEqualTo(1.0);
      refusesEveryone(Acl.OFF, mesh);
    }
  }

  @org.junit.jupiter.api.Test
  void aTokenThatMayNotReadTheIntentionsRefusesEveryCaller() {
    ConsulOps ops = admin.get(Acl.DEFAULT_ALLOW);
    ops.aclPolicy("no-intentions", "node_prefix \"\" { policy = \"read\" }\nservice \"payments\" { policy = \"write\" intentions = \"deny\" }");
    String token = ops.aclToken("no-intentions");
    try (Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: payments
          registry:
            type: consul
            consul: { address: %s, token: "%s", waitTime: 5s, configEntries: { enabled: false } }
        """.formatted(allow.httpAddress(), token))) {
      await().atMost(Duration.ofSeconds(10)).until(() -> meter(mesh, "mesh.intentions.failures", "reason", "forbidden") >= 1);
      refusesEveryone(Acl.DEFAULT_ALLOW, mesh);
      assertThat(meter(mesh, "mesh.intentions.closed")).isEqualTo(1.0);
    }
  }

  @org.junit.jupiter.api.Test
  void aTokenThatMayNotAskTheAgentsDefaultRefusesEveryCaller() {
    ConsulOps ops = admin.get(Acl.DEFAULT_DENY);
    ops.aclPolicy("read-only", "node_prefix \"\" { policy = \"read\" }\nservice \"payments\" { policy = \"read\" intentions = \"read\" }");
    String token = ops.aclToken("read-only");
    try (Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: payments
          registry:
            type: consul
            consul: { address: %s, token: "%s", waitTime: 5s, configEntries: { enabled: false } }
        """.formatted(deny.httpAddress(), token))) {
      await().atMost(Duration.ofSeconds(10)).until(() -> meter(mesh, "mesh.intentions.failures", "reason", "forbidden") >= 1);
      refusesEveryone(Acl.DEFAULT_DENY, mesh);
    }
  }

  static void apply(Acl acl, String intentions) {
    ConsulOps ops = admin.get(acl);
    ops.deleteIntentions();
    if (!intentions.isEmpty()) {
      for (String i : intentions.split(";")) {
        String[] t = i.split(">|:");
        ops.intention(t[0], t[1], t[2]);
      }
    }
  }

  static WorkloadIdentity identity(Acl acl, String caller) {
    String ns = caller.contains("/") ? caller.substring(0, caller.indexOf('/')) : "default";
    String svc = caller.contains("/") ? caller.substring(caller.indexOf('/') + 1) : caller;
    return WorkloadIdentity.of(trustDomains.get(acl), ns, "dc1", svc);
  }

  static boolean meshAllows(Acl acl, Mesh mesh, String caller) {
    return mesh.authorizer().authorize(identity(acl, caller), "/pkg.Payments/Charge", "POST").allowed();
  }

  static boolean agentAllows(Acl acl, String caller) {
    String token = tokens.get(acl);
    return admin.get(acl).authorize(token.isEmpty() ? null : token, SERVICE, identity(acl, caller).toString());
  }
}
