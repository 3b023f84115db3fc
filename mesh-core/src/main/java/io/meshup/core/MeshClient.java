package io.meshup.core;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a field or constructor parameter that {@link MeshClients} fills with a client of the
 * destination service named by {@link #value()}: a gRPC channel or stub from mesh-grpc, a
 * {@code MeshHttpClient} from mesh-http, or whatever type a {@link io.meshup.core.spi.ClientProvider}
 * on the classpath makes.
 *
 * <pre>{@code
 * class Checkout {
 *   @MeshClient("payments") private PaymentsGrpc.PaymentsBlockingStub payments;
 * }
 * Checkout checkout = MeshClients.inject(mesh, new Checkout());
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.PARAMETER})
public @interface MeshClient {
  /** The destination service's name, as the registry and the policies know it; not empty. */
  String value();
}
