package io.meshup.spring.autoconfigure;

import io.meshup.core.Mesh;
import io.meshup.spring.MeshEndpoint;
import io.meshup.spring.MeshHealthIndicator;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.context.annotation.Bean;

/** The Actuator endpoint {@code /actuator/mesh} and the {@code mesh} health contributor. */
@AutoConfiguration(after = MeshAutoConfiguration.class)
@ConditionalOnClass(name = "org.springframework.boot.actuate.endpoint.annotation.Endpoint")
@ConditionalOnBean(Mesh.class)
public class MeshActuatorAutoConfiguration {
  /** {@code GET /actuator/mesh}: the mesh's snapshot. */
  @Bean
  @ConditionalOnAvailableEndpoint
  public MeshEndpoint meshEndpoint(Mesh mesh) {
    return new MeshEndpoint(mesh);
  }

  /** The {@code mesh} health contributor. */
  @Bean
  @ConditionalOnEnabledHealthIndicator("mesh")
  public MeshHealthIndicator meshHealthIndicator(Mesh mesh) {
    return new MeshHealthIndicator(mesh);
  }
}
