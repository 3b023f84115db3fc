package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.testing.HostileDocuments;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile policy documents through every core reader (Mesh.updatePolicies, inline bootstrap YAML,
 * policy files): each is refused with a MeshConfigException naming the source and the limit, in
 * a bounded time, the last good policy keeps serving and a later valid update applies.
 */
class HostilePolicyTest {
  @TempDir Path dir;

  static Mesh mesh() {
    return Mesh.builder().service("checkout")
        .endpoints("payments", List.of(new Endpoint("p1", "127.0.0.1", 9001, Map.of(), 1)))
        .env(k -> k.equals("BIG") ? HostileDocuments.bigVariable() : null)
        .policies("base", HostileDocuments.goodVirtualService("good"))
        .build();
  }

  static Stream<Arguments> hostile() {
    return Stream.of(
        Arguments.of("alias doubling 2^30", HostileDocuments.aliasDoubling(30), "maxNodes"),
        Arguments.of("alias doubling 2^20 (the issue's 545-byte document)", HostileDocuments.aliasDoubling(20), "maxNodes"),
        Arguments.of("10,000-deep sequences", HostileDocuments.deepSequences(10_000), "maxDepth"),
        Arguments.of("2,000-deep mappings", HostileDocuments.deepMappings(2_000), "maxDepth"),
        Arguments.of("50 MB", HostileDocuments.large(50 << 20), "maxDocumentBytes"),
        Arguments.of("2 MB", HostileDocuments.large(2 << 20), "maxDocumentBytes"),
        Arguments.of("scalar alias bomb through ${BIG}", HostileDocuments.scalarAliasBomb(150_000), "maxNodes"),
        Arguments.of("substitution flood through ${BIG}", HostileDocuments.substitutionFlood(50), "maxSubstitutionChars"),
        Arguments.of("duration that overflows", HostileDocuments.overflowingDuration(), "durations are at most 8760h"),
        Arguments.of("1 MB kind", HostileDocuments.hugeKind(1_000_000), "is not a supported kind"));
  }

  // No timed assertion (the refusal times are measured, not asserted: docs/security.md); the
  // timeout only stops a document that would expand without bound from hanging the build.
  @ParameterizedTest(name = "{0}")
  @MethodSource("hostile")
  @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void updatePoliciesRefusesAndTheLastGoodPolicyServes(String what, String doc, String limit) {
    try (Mesh mesh = mesh()) {
      assertThatThrownBy(() -> mesh.updatePolicies("attacker", doc))
          .isInstanceOf(MeshConfigException.class)
          .hasMessageContaining("attacker")
          .hasMessageContaining(limit)
          .satisfies(e -> assertThat(e.getMessage().length()).as("message length").isLessThan(2_500));
      assertThat(mesh.policyOrigins()).containsExactly("base: VirtualService good");
      assertThat(mesh.meterRegistry().counter("mesh.policy.updates", "source", "attacker", "result", "rejected").count())
          .isEqualTo(1.0);

      mesh.updatePolicies("attacker", HostileDocuments.goodVirtualService("later"));
      assertThat(mesh.policyOrigins()).containsExactly("attacker: VirtualService later");
    }
  }

  @Test
  void theOverflowingDurationIsRefusedNotWrappedToTwoMilliseconds() {
    try (Mesh mesh = mesh()) {
      assertThatThrownBy(() -> mesh.updatePolicies("attacker", HostileDocuments.overflowingDuration()))
          .hasMessageContaining("spec.http[0].timeout")
          .hasMessageContaining("is too long; durations are at most 8760h (one year)");
    }
  }

  @Test
  void aHugeKindGivesAShortMessage() {
    try (Mesh mesh = mesh()) {
      assertThatThrownBy(() -> mesh.updatePolicies("attacker", HostileDocuments.hugeKind(1_000_000)))
          .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(500).contains("(1000000 characters)"));
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostile")
  void aPolicyFileIsRefusedAtStartNamingTheFileAndTheLimit(String what, String doc, String limit) throws Exception {
    Files.writeString(dir.resolve("policy.yaml"), doc);
    Path boot = dir.resolve("application.yaml");
    Files.writeString(boot, """
        mesh:
          service: checkout
          registry: { type: static, static: { services: { payments: [{ address: 127.0.0.1, port: 9001 }] } } }
          policy: { files: [policy.yaml] }
        """);
    assertThatThrownBy(() -> Mesh.builder().yaml(boot).env(k -> k.equals("BIG") ? HostileDocuments.bigVariable() : null).build())
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("policy.yaml")
        .hasMessageContaining(limit);
  }

  @Test
  void aFileThatIsNotUtf8IsRefusedWithTheByteOffset() throws Exception {
    Files.write(dir.resolve("policy.yaml"), HostileDocuments.invalidUtf8());
    Path boot = dir.resolve("application.yaml");
    Files.writeString(boot, """
        mesh:
          service: checkout
          registry: { type: static, static: { services: { payments: [{ address: 127.0.0.1, port: 9001 }] } } }
          policy: { files: [policy.yaml] }
        """);
    assertThatThrownBy(() -> Mesh.fromYaml(boot))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("policy.yaml: is not UTF-8: invalid byte sequence at byte offset");
  }

  @Test
  void hostileInlinePoliciesAreRefusedAtStart() {
    String boot = """
        mesh:
          service: checkout
          registry: { type: static, static: { services: { payments: [{ address: 127.0.0.1, port: 9001 }] } } }
          policies:
          - %s
        """.formatted(HostileDocuments.deepSequences(5_000).replace("\n", " ").replace("kind: VirtualService spec: ", ""));
    assertThatThrownBy(() -> Mesh.fromYamlString(boot))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("inline")
        .hasMessageContaining("maxDepth");
    assertThatThrownBy(() -> Mesh.fromYamlString(boot.replace("policies:", "policies: []\n  x:") ))
        .isInstanceOf(MeshConfigException.class);
  }

  @Test
  void aRegexThatWouldCompileToABillionInstructionsIsRefused() {
    try (Mesh mesh = mesh()) {
      String vs = HostileDocuments.goodVirtualService("re").replace("  - name: re-route\n",
          "  - name: re-route\n    match: [{ uri: { regex: \"((a{1000}){1000}){1000}\" } }]\n");
      assertThatThrownBy(() -> mesh.updatePolicies("attacker", vs))
          .hasMessageContaining("spec.http[0].match[0].uri.regex")
          .hasMessageContaining("instructions");
      assertThat(mesh.policyOrigins()).containsExactly("base: VirtualService good");
    }
  }
}
