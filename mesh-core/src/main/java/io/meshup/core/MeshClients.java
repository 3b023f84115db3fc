package io.meshup.core;

import io.meshup.core.internal.clients.ClientWiring;
import io.meshup.core.spi.ClientProvider;
import java.util.ServiceLoader;

/**
 * Fills {@link MeshClient} fields and constructor parameters with clients routed through a
 * {@link Mesh}, without a dependency-injection framework.
 *
 * <pre>{@code
 * class Checkout {
 *   @MeshClient("payments") private PaymentsGrpc.PaymentsBlockingStub payments;
 *   @MeshClient("inventory") private MeshHttpClient inventory;
 * }
 * Checkout checkout = MeshClients.inject(mesh, new Checkout());
 *
 * record Refunds(@MeshClient("payments") PaymentsGrpc.PaymentsStub payments) {}
 * Refunds refunds = MeshClients.create(mesh, Refunds.class);
 * }</pre>
 *
 * <p>The clients come from the {@link ClientProvider}s on the classpath: mesh-grpc makes
 * {@code io.grpc.Channel}, {@code io.grpc.ManagedChannel} and generated grpc-java stubs, mesh-http
 * makes {@code MeshHttpClient}. Within one call, all fields of one service share one client
 * connection pool (one gRPC channel per service, one {@code MeshHttpClient}); separate calls make
 * separate clients.
 *
 * <p>Every annotated field or parameter is checked before any client is made, and a misuse throws
 * {@link IllegalArgumentException} naming the class, the field or constructor parameter and the
 * problem, for example {@code com.acme.Checkout.payments: @MeshClient("paymnts"): service 'paymnts'
 * is not in the registry; ...}. A provider that fails to make a client throws
 * {@link IllegalStateException} with the same prefix.
 *
 * <p>Lifecycle: the clients belong to the application. {@link Mesh#close()} does not know them;
 * shut down an injected {@code ManagedChannel} when done with it (for a stub,
 * {@code ((ManagedChannel) stub.getChannel()).shutdown()}). A {@code MeshHttpClient} holds nothing
 * that needs closing.
 *
 * <p>With a framework: the same annotation on a bean's fields is honoured by calling
 * {@link #inject} from the framework's post-processing hook. In Spring ({@code Mesh} is final, so
 * take it through an {@code ObjectProvider} rather than a {@code @Lazy} proxy, and ask for it only
 * for beans that declare {@code @MeshClient} fields, so the mesh's own dependencies do not wait
 * for it; {@code SpringInjectionTest} in mesh-grpc runs this class):
 *
 * <pre>{@code
 * @Component
 * class MeshClientPostProcessor implements BeanPostProcessor {
 *   private final ObjectProvider<Mesh> mesh;
 *
 *   MeshClientPostProcessor(ObjectProvider<Mesh> mesh) { this.mesh = mesh; }
 *
 *   @Override
 *   public Object postProcessBeforeInitialization(Object bean, String beanName) {
 *     return MeshClients.declaresMeshClients(bean.getClass()) ? MeshClients.inject(mesh.getObject(), bean) : bean;
 *   }
 * }
 * }</pre>
 *
 * <p>In CDI, call {@code MeshClients.inject(mesh, this)} from a {@code @PostConstruct} method, or
 * from an {@code InjectionTarget} wrapper in a portable extension.
 *
 * <p>Thread-safe: every call loads the providers afresh and shares nothing with other calls.
 * Reflection makes these calls slow compared with the request path; call them at wiring time.
 */
public final class MeshClients {
  private MeshClients() {}

  /**
   * Fills every {@link MeshClient} field of {@code target}, declared in its class or any superclass,
   * private ones included; returns {@code target}. Fields without the annotation are left alone.
   *
   * @throws IllegalArgumentException when an annotated field is final or static, names no service
   *     or a service the registry cannot have, or has a type no provider makes
   * @throws IllegalStateException when a provider fails to make a client
   */
  public static <T> T inject(Mesh mesh, T target) {
    return new ClientWiring(mesh, MeshClients::providers).inject(target);
  }

  /**
   * Constructs {@code type} through its one public constructor, whose parameters must all be
   * annotated {@link MeshClient}, passing a client for each. Fields are not filled; call
   * {@link #inject} on the result for those.
   *
   * @throws IllegalArgumentException when {@code type} is abstract, a non-static inner class, or has
   *     no or several public constructors; when a parameter is not annotated, names no service or a
   *     service the registry cannot have, or has a type no provider makes
   * @throws IllegalStateException when a provider fails to make a client
   */
  public static <T> T create(Mesh mesh, Class<T> type) {
    return new ClientWiring(mesh, MeshClients::providers).create(type);
  }

  /**
   * Whether {@code type} or one of its superclasses declares a {@link MeshClient} field: what a
   * framework's post-processor checks before it asks for the {@link Mesh}, so that beans without
   * such fields (the mesh's own dependencies among them) never wait for the mesh.
   */
  public static boolean declaresMeshClients(Class<?> type) {
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (java.lang.reflect.Field f : c.getDeclaredFields()) {
        if (f.isAnnotationPresent(MeshClient.class)) {
          return true;
        }
      }
    }
    return false;
  }

  private static Iterable<ClientProvider> providers() {
    return ServiceLoader.load(ClientProvider.class, MeshClients.class.getClassLoader());
  }
}
