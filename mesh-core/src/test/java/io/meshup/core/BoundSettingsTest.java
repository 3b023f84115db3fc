package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.config.ConfigNode.Kind;
import io.meshup.core.testing.DrainingRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A tree a framework built ({@link ConfigNode#bound}) is read by the same readers as YAML text:
 * relaxed key spellings are the same key, an unknown key fails naming its own origin and path.
 */
class BoundSettingsTest {
  private static ConfigNode scalar(String origin, String path, String value) {
    return ConfigNode.bound(origin, path, 3, Kind.SCALAR, value, null, null);
  }

  private static ConfigNode map(String path, Map<String, ConfigNode> entries) {
    return ConfigNode.bound("application.yaml", path, 1, Kind.MAP, null, entries, null);
  }

  private static ConfigNode list(String path, List<ConfigNode> items) {
    return ConfigNode.bound("application.yaml", path, 1, Kind.LIST, null, null, items);
  }

  /** mesh: { service, registry: { static: { services: { payments: [one endpoint] } } }, defaults: {...} } */
  private static ConfigNode tree(Map<String, ConfigNode> defaults) {
    Map<String, ConfigNode> ep = new LinkedHashMap<>();
    ep.put("address", scalar("application.yaml", "mesh.registry.static.services.payments[0].address", "127.0.0.1"));
    ep.put("port", scalar("application.yaml", "mesh.registry.static.services.payments[0].port", "9001"));
    ConfigNode services = map("mesh.registry.static.services", Map.of("payments",
        list("mesh.registry.static.services.payments", List.of(map("mesh.registry.static.services.payments[0]", ep)))));
    Map<String, ConfigNode> mesh = new LinkedHashMap<>();
    mesh.put("service", scalar("application.yaml", "mesh.service", "checkout"));
    mesh.put("registry", map("mesh.registry", Map.of("static", map("mesh.registry.static", Map.of("services", services)))));
    mesh.put("defaults", map("mesh.defaults", defaults));
    return map("", Map.of("mesh", map("mesh", mesh)));
  }

  @Test
  void relaxedSpellingsOfAKeyAreTheKey() {
    Map<String, ConfigNode> defaults = new LinkedHashMap<>();
    defaults.put("idle-timeout", scalar("application.yaml", "mesh.defaults.idle-timeout", "7m"));
    defaults.put("HEADERSTIMEOUT", scalar("System Environment Property \"MESH_DEFAULTS_HEADERSTIMEOUT\"",
        "mesh.defaults.HEADERSTIMEOUT", "3s"));
    try (Mesh mesh = Mesh.builder().boundSettings(tree(defaults)).build()) {
      assertThat(mesh.serviceName()).isEqualTo("checkout");
      assertThat(mesh.idleTimeout()).isEqualTo(Duration.ofMinutes(7));
      assertThat(mesh.endpoints("payments")).extracting(Endpoint::port).containsExactly(9001);
    }
  }

  @Test
  void anUnknownKeyFailsNamingItsOriginAndPath() {
    Map<String, ConfigNode> defaults = new LinkedHashMap<>();
    defaults.put("idel-timeout", scalar("System Environment Property \"MESH_DEFAULTS_IDELTIMEOUT\"",
        "mesh.defaults.idel-timeout", "7m"));
    assertThatThrownBy(() -> Mesh.builder().boundSettings(tree(defaults)).build())
        .isInstanceOf(MeshConfigException.class)
        .hasMessageStartingWith("System Environment Property \"MESH_DEFAULTS_IDELTIMEOUT\" (line 3), mesh.defaults.idel-timeout:"
            + " unknown field 'idel-timeout'; expected one of [");
  }

  @Test
  void parsedYamlStaysExact() {
    assertThatThrownBy(() -> Mesh.fromYamlString("mesh:\n  service: checkout\n  defaults: { idle-timeout: 7m }\n"))
        .hasMessageContaining("mesh.defaults.idle-timeout: unknown field 'idle-timeout'");
  }

  @Test
  void deregisterRunsOnceAndCloseSkipsIt() {
    DrainingRegistry drains = new DrainingRegistry(Map.of(), Duration.ZERO);
    Mesh mesh = Mesh.builder().service("checkout").registry(drains).build();
    mesh.deregister();
    long first = drains.deregisteredAt;
    assertThat(first).isNotZero();
    mesh.deregister();
    mesh.close();
    assertThat(drains.deregisteredAt).isEqualTo(first);
  }
}
