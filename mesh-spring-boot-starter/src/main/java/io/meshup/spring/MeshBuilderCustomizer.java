package io.meshup.spring;

import io.meshup.core.Mesh;

/**
 * Adjusts the {@link Mesh.Builder} the starter fills from the {@code mesh:} section before it
 * builds the context's {@code Mesh} bean: certificates of your own, a registry, labels, a clock. Every
 * bean of this type is applied, in {@code @Order}, after the starter's own settings (the section,
 * the application's {@code MeterRegistry}, {@code OpenTelemetry} and Resilience4j
 * {@code CircuitBreakerRegistry} when there are such beans).
 *
 * <pre>{@code
 * @Bean MeshBuilderCustomizer labels() { return builder -> builder.labels(Map.of("zone", "eu-1")); }
 * }</pre>
 */
@FunctionalInterface
public interface MeshBuilderCustomizer {
  /** Adjusts {@code builder}; called once, on the thread creating the bean. */
  void customize(Mesh.Builder builder);
}
