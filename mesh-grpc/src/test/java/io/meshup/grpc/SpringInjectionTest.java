package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.testing.protobuf.SimpleServiceGrpc.SimpleServiceBlockingStub;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.core.MeshClients;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.BeanCreationException;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** {@code @MeshClient} on a Spring bean's fields, filled by the post-processor MeshClients documents. */
class SpringInjectionTest {
  TestServers servers;

  /** The post-processor from MeshClients' Javadoc, as an application would write it. */
  static class MeshClientPostProcessor implements BeanPostProcessor {
    private final ObjectProvider<Mesh> mesh;

    MeshClientPostProcessor(ObjectProvider<Mesh> mesh) {
      this.mesh = mesh;
    }

    @Override
    public Object postProcessBeforeInitialization(Object bean, String beanName) {
      return MeshClients.declaresMeshClients(bean.getClass()) ? MeshClients.inject(mesh.getObject(), bean) : bean;
    }
  }

  static class Checkout {
    @MeshClient("payments") SimpleServiceBlockingStub payments;

    String charge() {
      return payments.withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(MeshClientInjectionTest.REQ).getResponseMessage();
    }
  }

  static class Misspelt {
    @MeshClient("paymnts") SimpleServiceBlockingStub payments;
  }

  /** The payments endpoints, registered as a bean before the configuration is read. */
  record PaymentsEndpoints(java.util.List<io.meshup.core.Endpoint> list) {}

  AnnotationConfigApplicationContext context(Class<?> configuration) {
    AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
    context.registerBean(PaymentsEndpoints.class, () -> new PaymentsEndpoints(servers.endpoints()));
    context.register(configuration);
    context.refresh();
    return context;
  }

  @Configuration
  static class App {
    @Bean(destroyMethod = "close")
    Mesh mesh(PaymentsEndpoints payments) {
      return Mesh.builder().service("checkout").endpoints("payments", payments.list()).build();
    }

    @Bean
    static MeshClientPostProcessor meshClients(ObjectProvider<Mesh> mesh) {
      return new MeshClientPostProcessor(mesh);
    }

    @Bean
    Checkout checkout() {
      return new Checkout();
    }
  }

  @Configuration
  static class BrokenApp {
    @Bean(destroyMethod = "close")
    Mesh mesh(PaymentsEndpoints payments) {
      return Mesh.builder().service("checkout").endpoints("payments", payments.list()).build();
    }

    @Bean
    static MeshClientPostProcessor meshClients(ObjectProvider<Mesh> mesh) {
      return new MeshClientPostProcessor(mesh);
    }

    @Bean
    Misspelt misspelt() {
      return new Misspelt();
    }
  }

  @BeforeEach
  void start() throws Exception {
    servers = new TestServers();
    servers.start("p1", Map.of("version", "v1"));
  }

  @AfterEach
  void stop() throws InterruptedException {
    servers.close();
  }

  @Test
  void springBeanFieldsAreFilledAndRoutedThroughTheMesh() {
    try (AnnotationConfigApplicationContext context = context(App.class)) {
      Checkout checkout = context.getBean(Checkout.class);

      assertThat(checkout.payments).isNotNull();
      assertThat(checkout.charge()).isEqualTo("p1");
      ((ManagedChannel) checkout.payments.getChannel()).shutdownNow();
    }
  }

  @Test
  void misuseFailsTheContextAtStartNamingTheField() {
    assertThatThrownBy(() -> context(BrokenApp.class).close())
        .isInstanceOf(BeanCreationException.class)
        .hasStackTraceContaining("SpringInjectionTest$Misspelt.payments: @MeshClient(\"paymnts\"): service 'paymnts'");
  }
}
