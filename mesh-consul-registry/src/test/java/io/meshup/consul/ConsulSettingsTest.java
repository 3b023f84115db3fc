package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Mesh;
import org.junit.jupiter.api.Test;

/** Consistency settings that cannot work are refused at start, with the field named. */
class ConsulSettingsTest {
  private static Mesh mesh(String consul) {
    return Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry:
            type: consul
            consul:
              address: 127.0.0.1:1
        %s
        """.formatted(consul.indent(6)));
  }

  @Test
  void anUnknownConsistencyModeIsRefused() {
    assertThatThrownBy(() -> mesh("consistency: eventual"))
        .hasMessageContaining("consistency").hasMessageContaining("'eventual' is not a consistency mode");
  }

  @Test
  void maxStalenessOutsideStaleReadsIsRefused() {
    assertThatThrownBy(() -> mesh("consistency: consistent\nmaxStaleness: 2s"))
        .hasMessageContaining("maxStaleness").hasMessageContaining("stale only");
    assertThatThrownBy(() -> mesh("maxStaleness: 10ms")).hasMessageContaining("maxStaleness").hasMessageContaining("out of range");
  }

  @Test
  void theAgentCacheWithConsistentReadsIsRefused() {
    assertThatThrownBy(() -> mesh("consistency: consistent\nagentCache: true"))
        .hasMessageContaining("agentCache").hasMessageContaining("consistent");
  }
}
