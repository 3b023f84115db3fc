package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.FakeScheduler;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The certificate part of the {@code mesh} health contributor, in a context whose mesh has
 * certificates from the development CA and runs on a fake clock (given by a
 * {@link MeshBuilderCustomizer}, with a fake scheduler so nothing rotates on its own): valid
 * while the leaf is, DOWN with "expired" once the clock passes its end.
 */
class CertificateHealthTest {
  static final FakeClock clock = new FakeClock();
  static final FakeScheduler scheduler = new FakeScheduler(clock);

  @Configuration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class App {
    @Bean
    MeshBuilderCustomizer fakeTime() {
      return b -> b.clock(clock).scheduler(scheduler);
    }
  }

  @Test
  void validThenExpiredAndDown() {
    try (ConfigurableApplicationContext ctx = new SpringApplicationBuilder(App.class)
        .web(WebApplicationType.NONE)
        .properties("spring.config.name=none", "mesh.service=checkout", "mesh.registry.type=static",
            "mesh.tls.certificates=dev", "mesh.tls.trust-domain=dev.test", "mesh.tls.ca-directory=none")
        .run()) {
      MeshHealthIndicator indicator = ctx.getBean(MeshHealthIndicator.class);
      Health h = indicator.health();
      assertThat(h.getStatus()).isEqualTo(Status.UP);
      @SuppressWarnings("unchecked")
      Map<String, Object> cert = (Map<String, Object>) h.getDetails().get("certificate");
      assertThat(cert).containsEntry("status", "valid");
      assertThat((String) cert.get("spiffeId")).startsWith("spiffe://dev.test/").endsWith("/checkout");

      clock.advance(Duration.ofDays(2));   // past the leaf's end; the fake scheduler ran no rotation
      h = indicator.health();
      assertThat(h.getStatus()).isEqualTo(Status.DOWN);
      @SuppressWarnings("unchecked")
      Map<String, Object> expired = (Map<String, Object>) h.getDetails().get("certificate");
      assertThat(expired).containsEntry("status", "expired");
    }
  }
}
