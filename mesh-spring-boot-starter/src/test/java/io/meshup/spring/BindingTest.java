package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * The mesh: section as Spring binds it: YAML, a profile's file, environment variables and
 * SPRING_APPLICATION_JSON, with relaxed key spellings, checked by MeshUp's readers. Each test starts
 * a real application context (no web server: binding needs none).
 */
@ExtendWith(OutputCaptureExtension.class)
class BindingTest {
  @Configuration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class App {}

  /** Starts the application with {@code spring.config.name=<config>}, these variables as its environment. */
  static ConfigurableApplicationContext run(String config, Map<String, Object> env, String... profiles) {
    StandardEnvironment environment = new StandardEnvironment();
    environment.getPropertySources().replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
        new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, env));
    return new SpringApplicationBuilder(App.class)
        .web(WebApplicationType.NONE)
        .environment(environment)
        .profiles(profiles)
        .properties("spring.config.name=" + config)
        .run();
  }

  @Test
  void bindsTheYamlAProfileAndAnEnvironmentOverride() {
    Map<String, Object> env = new HashMap<>();
    env.put("MESH_DEFAULTS_IDLETIMEOUT", "7m");                      // the YAML writes idle-timeout
    env.put("MESH_LABELS_TIER", "gold");                             // merged into the profile's labels
    env.put("PAYMENTS_HOST", "127.0.0.1");                           // ${PAYMENTS_HOST} in the profile's file
    try (ConfigurableApplicationContext ctx = run("binding", env, "eu")) {
      Mesh mesh = ctx.getBean(Mesh.class);
      assertThat(mesh.serviceName()).isEqualTo("checkout");
      assertThat(mesh.idleTimeout()).isEqualTo(Duration.ofMinutes(7));
      assertThat(mesh.endpoints("payments")).extracting(Endpoint::port).containsExactly(9101, 9102);
      assertThat(mesh.endpoints("payments").get(1).labels()).containsEntry("zone", "eu").containsEntry("version", "v2");
      assertThat(mesh.policyOrigins()).containsExactlyInAnyOrder("class path resource [binding.yaml] mesh.policies[0]: DestinationRule payments",
          "class path resource [binding.yaml] mesh.policies[1]: VirtualService payments");
      assertThat(mesh.snapshot().destination("payments").orElseThrow().routes().get(0).timeoutMillis()).isEqualTo(1500);
    }
  }

  @Test
  void withoutTheProfileTheDefaultListServes() {
    try (ConfigurableApplicationContext ctx = run("binding", Map.of())) {
      Mesh mesh = ctx.getBean(Mesh.class);
      assertThat(mesh.endpoints("payments")).extracting(Endpoint::port).containsExactly(9001);
      assertThat(mesh.idleTimeout()).isEqualTo(Duration.ofMinutes(5));
    }
  }

  @Test
  void springApplicationJsonIsASourceLikeAnyOther() {
    Map<String, Object> env = Map.of("SPRING_APPLICATION_JSON",
        "{\"mesh\":{\"defaults\":{\"idleTimeout\":\"9m\"},\"registry\":{\"static\":{\"services\":{\"payments\":"
            + "[{\"address\":\"127.0.0.1\",\"port\":9301}]}}}}}");
    try (ConfigurableApplicationContext ctx = run("binding", env)) {
      Mesh mesh = ctx.getBean(Mesh.class);
      assertThat(mesh.idleTimeout()).isEqualTo(Duration.ofMinutes(9));
      assertThat(mesh.endpoints("payments")).extracting(Endpoint::port).containsExactly(9301);
    }
  }

  @Test
  void aMisspeltKeyFailsTheStartNamingItsFileLineAndPath(CapturedOutput output) {
    assertThatThrownBy(() -> run("misspelt", Map.of()))
        .rootCause()
        .isInstanceOf(MeshConfigException.class)
        .hasMessage("class path resource [misspelt.yaml], mesh.registry.static.servises: unknown field"
            + " 'servises'; expected one of [services]");
    assertThat(output).contains("APPLICATION FAILED TO START")
        .contains("MeshUp refused its configuration: class path resource [misspelt.yaml],"
            + " mesh.registry.static.servises: unknown field 'servises'")
        .contains("Correct the value named above");
  }

  @Test
  void aMisspeltEnvironmentVariableIsNamed() {
    assertThatThrownBy(() -> run("binding", Map.of("MESH_DEFAULTS_IDELTIMEOUT", "1m")))
        .rootCause()
        .isInstanceOf(MeshConfigException.class)
        .hasMessageStartingWith("System Environment Property \"MESH_DEFAULTS_IDELTIMEOUT\", mesh.defaults.ideltimeout:"
            + " unknown field 'ideltimeout'; expected one of [");
  }

  @Test
  void aBadValueIsRefusedAsMeshFromYamlRefusesIt() {
    assertThatThrownBy(() -> run("binding", Map.of("MESH_REGISTRY_STATIC_SERVICES_PAYMENTS_0_PORT", "99999",
        "MESH_REGISTRY_STATIC_SERVICES_PAYMENTS_0_ADDRESS", "127.0.0.1")))
        .rootCause()
        .hasMessage("System Environment Property \"MESH_REGISTRY_STATIC_SERVICES_PAYMENTS_0_PORT\","
            + " mesh.registry.static.services.payments[0].port: 99999 is out of range; must be 1..65535");
  }

  @Test
  void aListWithAGapIsRefused() {
    assertThatThrownBy(() -> run("binding", Map.of("MESH_REGISTRY_STATIC_SERVICES_PAYMENTS_1_PORT", "9002")))
        .rootCause()
        .hasMessageContaining("mesh.registry.static.services.payments: item [0] is missing but a later item is set");
  }

  @Test
  void anUnresolvedPlaceholderIsNamed() {
    assertThatThrownBy(() -> run("binding", Map.of(), "eu"))
        .rootCause()
        .hasMessage("class path resource [binding-eu.yaml] (line 6), mesh.registry.static.services.payments[0].address:"
            + " property or environment variable PAYMENTS_HOST is not set and '${PAYMENTS_HOST}' gives no default;"
            + " write ${PAYMENTS_HOST:default}");
  }

  @Test
  void noMeshSectionNoMesh() {
    try (ConfigurableApplicationContext ctx = run("no-mesh", Map.of())) {
      assertThat(ctx.getBeanProvider(Mesh.class).getIfAvailable()).isNull();
    }
  }
}
