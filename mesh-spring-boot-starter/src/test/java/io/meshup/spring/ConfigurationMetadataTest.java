package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.config.MeshSettings;
import io.meshup.spring.internal.BoundTree;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * The configuration metadata IDEs complete {@code mesh.*} keys from names keys MeshUp reads: each
 * scalar property, written in the kebab case an IDE inserts, is accepted by MeshUp's readers as a
 * known key (its value may still be refused: only "unknown field" is a failure here).
 */
class ConfigurationMetadataTest {
  @Test
  void everyCompletedKeyIsAKeyMeshUpReads() throws Exception {
    JsonNode doc;
    try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      doc = new ObjectMapper().readTree(in);
    }
    List<String> unknown = new ArrayList<>();
    List<String> unchecked = new ArrayList<>();
    int checked = 0;
    for (JsonNode p : doc.get("properties")) {
      String name = p.get("name").asText();
      String type = p.get("type").asText();
      // maps and lists take structures, not one value; the etcd plug-in (not a dependency here) reads its own keys
      if (!name.startsWith("mesh.") || type.startsWith("java.util.") || name.equals("mesh.service")
          || name.equals("mesh.registry.type") || name.startsWith("mesh.registry.etcd.")) {
        continue;
      }
      checked++;
      String value = p.hasNonNull("defaultValue") ? p.get("defaultValue").asText()
          : type.equals("java.lang.Boolean") ? "true" : "1";
      if (refusal(name, value).contains("unknown field")) {
        unknown.add(name + ": " + refusal(name, value));
      }
      // the control: a key beside it that no reader knows is refused as unknown, so the section
      // this key lives in was read and checked (a refusal before it would hide an unknown key)
      String sibling = name.substring(0, name.lastIndexOf('.') + 1) + "no-such-key";
      if (!refusal(sibling, "1").contains("unknown field 'no-such-key'")) {
        unchecked.add(sibling + ": " + refusal(sibling, "1"));
      }
    }
    assertThat(checked).isGreaterThan(45);
    assertThat(unknown).isEmpty();
    assertThat(unchecked).isEmpty();
  }

  /** The message MeshUp refuses {@code name=value} with beside the required keys, or "" when it takes it. */
  private static String refusal(String name, String value) {
    String registry = name.startsWith("mesh.registry.consul.") ? "consul" : "static";
    Map<String, Object> props = new HashMap<>(Map.of("mesh.service", "checkout", "mesh.registry.type", registry));
    // what a section needs before its other keys are read
    if (name.startsWith("mesh.registry.consul.registration.")) {
      props.put("mesh.registry.consul.registration.port", "8080");
    }
    if (name.startsWith("mesh.tls.files.")) {
      props.put("mesh.tls.certificates", "files");
    }
    props.put(name, value);
    StandardEnvironment env = new StandardEnvironment();
    env.getPropertySources().addFirst(new MapPropertySource("test", props));
    try {
      ConfigNode tree = BoundTree.read(env);
      // the readers of the core's own keys; a plug-in's section is read by the plug-in (below)
      MeshSettings.parse("test", tree, n -> null, null);
      if (!registry.equals("static")) {
        checkPlugin(registry, tree.get("mesh").get("registry").get(registry));
      }
      return "";
    } catch (RuntimeException e) {
      return String.valueOf(e.getMessage());
    }
  }

  /** Reads a registry plug-in's section with the plug-in's own reader. */
  private static void checkPlugin(String type, ConfigNode section) {
    io.meshup.core.spi.Settings s = new io.meshup.core.internal.config.NodeSettings(section);
    if (type.equals("consul")) {
      io.meshup.consul.internal.ConsulSettings.read(s, "checkout", n -> null);
    }
  }
}
