package io.meshup.core.spi;

import io.meshup.core.Mesh;

/**
 * Makes the clients {@link io.meshup.core.MeshClients} puts into {@link io.meshup.core.MeshClient}
 * fields and constructor parameters, for the types of one transport. Found with
 * {@link java.util.ServiceLoader}: a transport lists its implementation in
 * {@code META-INF/services/io.meshup.core.spi.ClientProvider}. mesh-grpc provides
 * {@code io.grpc.Channel}, {@code io.grpc.ManagedChannel} and generated stubs; mesh-http provides
 * {@code MeshHttpClient}.
 *
 * <p>Threading and lifetime: {@code MeshClients} loads the providers afresh for every
 * {@code inject} or {@code create} call and uses each instance only on the calling thread, for that
 * call. An implementation needs no synchronization, and may keep what it made in instance fields to
 * share it among the fields of one call (mesh-grpc makes one channel per service and builds every
 * stub of that service on it). It must not keep state in statics.
 *
 * <p>Example:
 *
 * <pre>{@code
 * public final class WidgetClientProvider implements ClientProvider {
 *   public boolean supports(Class<?> type) { return type == WidgetClient.class; }
 *   public Object create(Mesh mesh, String service, Class<?> type) { return new WidgetClient(mesh, service); }
 *   public String supportedTypes() { return "com.acme.WidgetClient"; }
 * }
 * }</pre>
 */
public interface ClientProvider {
  /** Whether this provider can make a client of exactly this type (the field's or parameter's declared type). */
  boolean supports(Class<?> type);

  /**
   * Makes a client of {@code type} for {@code service}; called only when {@link #supports} said yes,
   * after {@code mesh.router(service)} has accepted the service.
   *
   * @return an instance of {@code type}, never null
   * @throws RuntimeException when the client cannot be made; {@code MeshClients} reports it with the
   *     field or parameter it was for
   */
  Object create(Mesh mesh, String service, Class<?> type);

  /**
   * The types this provider makes, in words, for the error raised when a field's type has no
   * provider (for example {@code io.grpc.Channel, io.grpc.ManagedChannel}); by default the
   * provider's class name.
   */
  default String supportedTypes() {
    return getClass().getName();
  }
}
