package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.consul.internal.ConsulSettings;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.config.MeshSettings;
import io.meshup.core.internal.config.NodeSettings;
import io.meshup.spring.internal.BoundTree;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.ByteArrayResource;

/**
 * The module README's {@code application.yaml} and its {@code eu} profile file, read as the starter
 * reads them (Spring's YAML loader, the profile file over the main one, {@link BoundTree}) and
 * checked by MeshUp's readers and the Consul plug-in's: what the README shows starts.
 */
class ReadmeExampleTest {
  @Test
  void theReadmesApplicationYamlAndProfileAreAccepted() throws Exception {
    String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
    Matcher m = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertThat(m.find()).as("application.yaml block").isTrue();
    String main = m.group(1);
    assertThat(m.find()).as("application-eu.yaml block").isTrue();
    String eu = m.group(1);

    StandardEnvironment env = new StandardEnvironment();
    add(env, "application.yaml", main);
    add(env, "application-eu.yaml", eu);
    ConfigNode tree = BoundTree.read(env);
    MeshSettings settings = MeshSettings.parse("README", tree, n -> null, null);
    assertThat(settings).isNotNull();
    ConsulSettings.read(new NodeSettings(tree.get("mesh").get("registry").get("consul")), "checkout", n -> null);
    assertThat(tree.get("mesh").get("registry").get("consul").get("address").string()).isEqualTo("consul.eu.internal:8500");
  }

  private static void add(StandardEnvironment env, String name, String yaml) throws Exception {
    for (PropertySource<?> ps : new YamlPropertySourceLoader().load(name,
        new ByteArrayResource(yaml.getBytes(StandardCharsets.UTF_8), name))) {
      env.getPropertySources().addFirst(ps);
    }
  }
}
