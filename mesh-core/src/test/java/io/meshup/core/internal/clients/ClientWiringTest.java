package io.meshup.core.internal.clients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.core.MeshClients;
import io.meshup.core.spi.ClientProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Field and constructor injection with a test provider, and every misuse message, without a transport. */
class ClientWiringTest {
  /** The client type the test provider makes. */
  record FakeClient(Mesh mesh, String service, int serial) {}

  /** Makes {@link FakeClient}s; counts them; one per service per call. */
  static final class FakeProvider implements ClientProvider {
    final List<String> made = new ArrayList<>();
    private final Map<String, FakeClient> byService = new java.util.HashMap<>();
    RuntimeException failWith;

    @Override
    public boolean supports(Class<?> type) {
      return type == FakeClient.class;
    }

    @Override
    public Object create(Mesh mesh, String service, Class<?> type) {
      if (failWith != null) {
        throw failWith;
      }
      return byService.computeIfAbsent(service, s -> {
        made.add(s);
        return new FakeClient(mesh, s, made.size());
      });
    }

    @Override
    public String supportedTypes() {
      return "FakeClient";
    }
  }

  /** A second provider, describing itself by the default (its class name). */
  static final class RunnableProvider implements ClientProvider {
    @Override
    public boolean supports(Class<?> type) {
      return type == Runnable.class;
    }

    @Override
    public Object create(Mesh m, String service, Class<?> type) {
      return (Runnable) () -> {};
    }
  }

  static class Base {
    @MeshClient("inventory") private FakeClient inventory;

    FakeClient inventory() {
      return inventory;
    }
  }

  static class Checkout extends Base {
    @MeshClient("payments") private FakeClient payments;
    @MeshClient("payments") FakeClient paymentsAgain;
    String untouched = "left alone";
  }

  static class FinalField {
    @MeshClient("payments") private final FakeClient payments = null;
  }

  static class StaticField {
    @MeshClient("payments") static FakeClient payments;
  }

  static class Misspelt {
    @MeshClient("paymnts") FakeClient payments;
  }

  static class Unnamed {
    @MeshClient("") FakeClient payments;
  }

  static class WrongType {
    @MeshClient("payments") String payments;
  }

  static class HalfBad {
    @MeshClient("payments") FakeClient payments;
    @MeshClient("paymnts") FakeClient broken;
  }

  public static final class ByConstructor {
    final FakeClient payments;
    final FakeClient inventory;

    public ByConstructor(@MeshClient("payments") FakeClient payments, @MeshClient("inventory") FakeClient inventory) {
      this.payments = payments;
      this.inventory = inventory;
    }
  }

  public record Refunds(@MeshClient("payments") FakeClient payments) {}

  public static final class NotAnnotated {
    public NotAnnotated(@MeshClient("payments") FakeClient payments, String other) {}
  }

  public static final class TwoConstructors {
    public TwoConstructors() {}

    public TwoConstructors(@MeshClient("payments") FakeClient payments) {}
  }

  public static final class NoPublicConstructor {
    NoPublicConstructor(@MeshClient("payments") FakeClient payments) {}
  }

  public abstract static class Abstract {
    public Abstract(@MeshClient("payments") FakeClient payments) {}
  }

  public class Inner {
    public Inner(@MeshClient("payments") FakeClient payments) {}
  }

  public static final class Throws {
    public Throws(@MeshClient("payments") FakeClient payments) {
      throw new IllegalStateException("boom");
    }
  }

  final Mesh mesh = Mesh.builder().service("checkout")
      .endpoints("payments", List.of(new Endpoint("p1", "127.0.0.1", 9001, Map.of(), 1)))
      .endpoints("inventory", List.of(new Endpoint("i1", "127.0.0.1", 9002, Map.of(), 1)))
      .build();
  final FakeProvider provider = new FakeProvider();

  @AfterEach
  void close() {
    mesh.close();
  }

  ClientWiring wiring() {
    return new ClientWiring(mesh, () -> List.of(new RunnableProvider(), provider));
  }

  @Test
  void injectFillsPrivateAndInheritedFieldsSharingOneClientPerService() {
    Checkout c = wiring().inject(new Checkout());
    assertThat(c.inventory()).isEqualTo(new FakeClient(mesh, "inventory", 1));
    assertThat(c.payments).isEqualTo(new FakeClient(mesh, "payments", 2));
    assertThat(c.paymentsAgain).isSameAs(c.payments);
    assertThat(c.untouched).isEqualTo("left alone");
    assertThat(provider.made).containsExactly("inventory", "payments");
  }

  @Test
  void injectLeavesObjectsWithoutAnnotationsAloneAndLoadsNoProvider() {
    Object plain = new Object();
    ClientWiring w = new ClientWiring(mesh, () -> {
      throw new AssertionError("providers loaded");
    });
    assertThat(w.inject(plain)).isSameAs(plain);
    assertThat(w.inject("text")).isEqualTo("text");
  }

  @Test
  void createPassesAClientForEveryConstructorParameter() {
    ByConstructor b = wiring().create(ByConstructor.class);
    assertThat(b.payments.service()).isEqualTo("payments");
    assertThat(b.inventory.service()).isEqualTo("inventory");
  }

  @Test
  void createBuildsARecordThroughItsCanonicalConstructor() {
    assertThat(wiring().create(Refunds.class).payments().service()).isEqualTo("payments");
  }

  @Test
  void finalFieldIsAMisuse() {
    assertThatThrownBy(() -> wiring().inject(new FinalField()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(FinalField.class.getName() + ".payments: @MeshClient(\"payments\"): the field is final; make it "
            + "non-final, or take the client as a constructor parameter and build the object with MeshClients.create");
  }

  @Test
  void staticFieldIsAMisuse() {
    assertThatThrownBy(() -> wiring().inject(new StaticField()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(StaticField.class.getName() + ".payments: @MeshClient(\"payments\"): the field is static; "
            + "MeshClients fills instance fields only");
  }

  @Test
  void unknownServiceIsNamedWithTheField() {
    assertThatThrownBy(() -> wiring().inject(new Misspelt()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(Misspelt.class.getName() + ".payments: @MeshClient(\"paymnts\"): service 'paymnts' is not in the "
            + "registry and no VirtualService names it; the static registry lists only the services under mesh.registry.static.services");
  }

  @Test
  void emptyServiceNameIsAMisuse() {
    assertThatThrownBy(() -> wiring().inject(new Unnamed()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(Unnamed.class.getName() + ".payments: @MeshClient(\"\"): the service name is empty; name the "
            + "destination service, as in @MeshClient(\"payments\")");
  }

  @Test
  void typeNoProviderMakesListsWhatIsSupported() {
    assertThatThrownBy(() -> wiring().inject(new WrongType()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(WrongType.class.getName() + ".payments: @MeshClient(\"payments\"): type java.lang.String "
            + "cannot be injected; supported: " + RunnableProvider.class.getName() + ", FakeClient (providers on the "
            + "classpath: " + RunnableProvider.class.getName() + ", " + FakeProvider.class.getName() + ")");
  }

  @Test
  void withoutProvidersTheMessageSaysWhichModuleToAdd() {
    assertThatThrownBy(() -> MeshClients.inject(mesh, new Checkout()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(Base.class.getName() + ".inventory: @MeshClient(\"inventory\"): type " + FakeClient.class.getName()
            + " cannot be injected; no client provider is on the classpath; add io.meshup:mesh-grpc (gRPC channels and "
            + "stubs) or io.meshup:mesh-http (MeshHttpClient)");
  }

  @Test
  void everyFieldIsCheckedBeforeAnyClientIsMade() {
    assertThatThrownBy(() -> wiring().inject(new HalfBad()))
        .hasMessageStartingWith(HalfBad.class.getName() + ".broken: @MeshClient(\"paymnts\"): service 'paymnts'");
    assertThat(provider.made).isEmpty();
  }

  @Test
  void providerFailureNamesTheFieldAndTheProvider() {
    provider.failWith = new IllegalStateException("no sockets left");
    assertThatThrownBy(() -> wiring().inject(new Checkout()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(Base.class.getName() + ".inventory: @MeshClient(\"inventory\"): " + FakeProvider.class.getName()
            + " could not make a " + FakeClient.class.getName() + ": no sockets left");
    assertThatThrownBy(() -> wiring().create(Refunds.class))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(Refunds.class.getName() + " constructor parameter 0 (payments) of type " + FakeClient.class.getName()
            + ": @MeshClient(\"payments\"): " + FakeProvider.class.getName() + " could not make a "
            + FakeClient.class.getName() + ": no sockets left")
        .hasCause(provider.failWith);
  }

  @Test
  void constructorParameterWithoutAnnotationIsAMisuse() {
    assertThatThrownBy(() -> wiring().create(NotAnnotated.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(NotAnnotated.class.getName() + " constructor parameter 1 of type java.lang.String: is not annotated "
            + "@MeshClient; MeshClients.create fills every parameter of the public constructor, so each needs "
            + "@MeshClient(\"<service>\")");
  }

  @Test
  void createNeedsExactlyOnePublicConstructorOfAConcreteStaticClass() {
    assertThatThrownBy(() -> wiring().create(TwoConstructors.class))
        .hasMessage(TwoConstructors.class.getName() + ": has 2 public constructors; MeshClients.create needs exactly "
            + "one, with every parameter annotated @MeshClient");
    assertThatThrownBy(() -> wiring().create(NoPublicConstructor.class))
        .hasMessage(NoPublicConstructor.class.getName() + ": has 0 public constructors; MeshClients.create needs "
            + "exactly one, with every parameter annotated @MeshClient");
    assertThatThrownBy(() -> wiring().create(Abstract.class))
        .hasMessage(Abstract.class.getName() + ": is abstract or an interface; MeshClients.create needs a concrete class");
    assertThatThrownBy(() -> wiring().create(Inner.class))
        .hasMessage(Inner.class.getName() + ": is an inner class; make it static for MeshClients.create");
  }

  @Test
  void exceptionFromTheConstructorPropagates() {
    assertThatThrownBy(() -> wiring().create(Throws.class))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("boom");
  }
}
