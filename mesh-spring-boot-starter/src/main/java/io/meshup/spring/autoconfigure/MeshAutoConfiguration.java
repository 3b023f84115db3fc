package io.meshup.spring.autoconfigure;

import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.meshup.core.Mesh;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import io.meshup.spring.MeshBuilderCustomizer;
import io.meshup.spring.internal.BoundTree;
import io.meshup.spring.internal.MeshClientFields;
import io.meshup.spring.internal.MeshClientResolver;
import io.meshup.spring.internal.MeshShutdown;
import io.meshup.spring.internal.SpringClients;
import io.meshup.spring.internal.SpringHttpClients;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.function.Supplier;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanFactoryPostProcessor;
import org.springframework.beans.factory.support.DefaultListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Import;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.util.ClassUtils;

/**
 * One {@link Mesh} bean from the {@code mesh} section of the Environment (every property source
 * Spring binds: YAML and profiles, {@code SPRING_APPLICATION_JSON}, environment variables, system
 * properties, a config server), checked by MeshUp's own readers with {@code Mesh.fromYaml}'s
 * messages ({@link BoundTree}); it reports to the application's {@code MeterRegistry}, traces
 * through its {@code OpenTelemetry} and keeps its breakers in its Resilience4j
 * {@code CircuitBreakerRegistry} when the context has such beans. Also: {@code @MeshClient}
 * injection into fields and constructor, {@code @Bean} and {@code @Autowired} method parameters
 * (gRPC channels and stubs, {@code MeshHttpClient}, {@code RestClient}, {@code WebClient}), a
 * {@code MeshHttpClient} bean, and the shutdown order (deregister and drain before the servers
 * stop; channels, then the mesh, closed after them). The web, gRPC and Actuator parts are in
 * {@link MeshServerConfigurations} and {@link MeshActuatorAutoConfiguration}.
 */
@AutoConfiguration(afterName = {
    "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.metrics.export.prometheus.PrometheusMetricsExportAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.opentelemetry.OpenTelemetryAutoConfiguration",
    "org.springframework.boot.autoconfigure.web.client.RestClientAutoConfiguration",
    "org.springframework.boot.autoconfigure.web.reactive.function.client.WebClientAutoConfiguration"})
@Conditional(MeshSectionCondition.class)
@ConditionalOnProperty(prefix = "meshup", name = "enabled", matchIfMissing = true)
@EnableConfigurationProperties(MeshStarterProperties.class)
@Import({MeshServerConfigurations.Servlet.class, MeshServerConfigurations.Grpc.class})
public class MeshAutoConfiguration {
  private static final String REST_CLIENT_BUILDER = "org.springframework.web.client.RestClient$Builder";
  private static final String WEB_CLIENT_BUILDER = "org.springframework.web.reactive.function.client.WebClient$Builder";

  /** The mesh; closed when the context is destroyed (after the servers stopped and the channels shut down). */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public Mesh mesh(ConfigurableEnvironment environment, ObjectProvider<MeterRegistry> meterRegistry,
      ObjectProvider<io.opentelemetry.api.OpenTelemetry> openTelemetry,
      ObjectProvider<CircuitBreakerRegistry> circuitBreakers, ObjectProvider<MeshBuilderCustomizer> customizers) {
    Mesh.Builder b = Mesh.builder().boundSettings(BoundTree.read(environment)).env(environment::getProperty);
    meterRegistry.ifAvailable(b::meterRegistry);
    openTelemetry.ifAvailable(b::openTelemetry);
    circuitBreakers.ifAvailable(b::circuitBreakerRegistry);
    customizers.orderedStream().forEach(c -> c.customize(b));
    return b.build();
  }

  /** Deregisters and drains first when the context closes. */
  @Bean
  public MeshShutdown meshupShutdown(Mesh mesh) {
    return new MeshShutdown(mesh);
  }

  /** The context's one {@code MeshHttpClient}: {@code MeshHttp.client(mesh)}. */
  @Bean
  @ConditionalOnMissingBean
  public MeshHttpClient meshHttpClient(Mesh mesh) {
    return MeshHttp.client(mesh);
  }

  /** The clients {@code @MeshClient} asks for; shuts its channels down when the context is destroyed. */
  @Bean(name = MeshClientFields.CLIENTS_BEAN, destroyMethod = "close")
  public SpringClients meshupClients(Mesh mesh, MeshHttpClient http, ListableBeanFactory beans) {
    return new SpringClients(mesh, List.of(new SpringHttpClients(http, builder(beans, REST_CLIENT_BUILDER),
        builder(beans, WEB_CLIENT_BUILDER))));
  }

  /** A fresh builder bean of the named type (Boot's are prototypes), or null when there is none. */
  private static Supplier<Object> builder(ListableBeanFactory beans, String type) {
    if (!ClassUtils.isPresent(type, MeshAutoConfiguration.class.getClassLoader())) {
      return null;
    }
    Class<?> c = ClassUtils.resolveClassName(type, MeshAutoConfiguration.class.getClassLoader());
    return () -> beans.getBeanProvider(c).getIfAvailable();
  }

  /** Fills {@code @MeshClient} fields. */
  @Bean
  public static MeshClientFields meshupClientFields(ObjectProvider<SpringClients> clients) {
    return new MeshClientFields(clients);
  }

  /** Resolves {@code @MeshClient} constructor and method parameters. */
  @Bean
  public static BeanFactoryPostProcessor meshupClientResolver() {
    return beanFactory -> {
      if (beanFactory instanceof DefaultListableBeanFactory f) {
        f.setAutowireCandidateResolver(new MeshClientResolver(f.getAutowireCandidateResolver(),
            () -> f.getBean(MeshClientFields.CLIENTS_BEAN, SpringClients.class)));
      }
    };
  }
}
