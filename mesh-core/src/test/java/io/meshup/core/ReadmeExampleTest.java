package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's first {@code mesh:} section is what a user copies first: it must load as written. */
class ReadmeExampleTest {
  @Test
  void theReadmesFirstMeshSectionLoads() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    int section = readme.indexOf("### A first `mesh:` section");
    assertThat(section).as("the README's first mesh section").isPositive();
    int start = readme.indexOf("```yaml\n", section) + "```yaml\n".length();
    String yaml = readme.substring(start, readme.indexOf("```", start));
    try (Mesh mesh = Mesh.fromYamlString(yaml)) {
      assertThat(mesh.endpoints("payments")).hasSize(2);
      assertThat(mesh.policyOrigins()).anyMatch(o -> o.contains("VirtualService payments"));
    }
  }
}
