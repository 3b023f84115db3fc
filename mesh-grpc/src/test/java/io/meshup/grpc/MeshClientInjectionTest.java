package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.grpc.testing.protobuf.SimpleServiceGrpc.SimpleServiceBlockingStub;
import io.grpc.testing.protobuf.SimpleServiceGrpc.SimpleServiceBlockingV2Stub;
import io.grpc.testing.protobuf.SimpleServiceGrpc.SimpleServiceFutureStub;
import io.grpc.testing.protobuf.SimpleServiceGrpc.SimpleServiceStub;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.core.MeshClients;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code @MeshClient} channels and stubs made by mesh-grpc's provider, called against a real server. */
class MeshClientInjectionTest {
  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();
  static final String SUPPORTED = "supported: io.grpc.Channel, io.grpc.ManagedChannel, grpc-java stubs "
      + "(io.grpc.stub.AbstractStub subclasses nested in a generated class with a static factory taking an "
      + "io.grpc.Channel, such as PaymentsGrpc.newBlockingStub) (providers on the classpath: "
      + "io.meshup.grpc.internal.GrpcClientProvider)";

  static class Checkout {
    @MeshClient("payments") private Channel channel;
    @MeshClient("payments") private ManagedChannel managed;
    @MeshClient("payments") private SimpleServiceBlockingStub blocking;
    @MeshClient("payments") private SimpleServiceStub async;
    @MeshClient("payments") private SimpleServiceFutureStub future;
    @MeshClient("payments") private SimpleServiceBlockingV2Stub blockingV2;
  }

  public record Refunds(@MeshClient("payments") SimpleServiceBlockingStub payments,
      @MeshClient("payments") ManagedChannel channel) {}

  static class Misspelt {
    @MeshClient("paymnts") SimpleServiceBlockingStub payments;
  }

  static class WrongType {
    @MeshClient("payments") String payments;
  }

  static class FinalField {
    @MeshClient("payments") final SimpleServiceBlockingStub payments = null;
  }

  static class Unnamed {
    @MeshClient("") SimpleServiceBlockingStub payments;
  }

  static class NotGenerated {
    @MeshClient("payments") AbstractStub<?> payments;
  }

  public static final class NotAnnotated {
    public NotAnnotated(@MeshClient("payments") SimpleServiceBlockingStub payments, String region) {}
  }

  TestServers servers;
  TestServers.Instance server;
  Mesh mesh;

  @BeforeEach
  void start() throws Exception {
    servers = new TestServers();
    server = servers.start("p1", Map.of("version", "v1"));
    mesh = Mesh.builder().service("checkout").endpoints("payments", servers.endpoints()).build();
  }

  @AfterEach
  void stop() throws Exception {
    mesh.close();
    servers.close();
  }

  @Test
  void injectsChannelsAndEveryKindOfStubSharingOneChannel() throws Exception {
    Checkout c = MeshClients.inject(mesh, new Checkout());
    try {
      assertThat(c.managed).isSameAs(c.channel);
      assertThat(c.blocking.getChannel()).isSameAs(c.channel);
      assertThat(c.async.getChannel()).isSameAs(c.channel);
      assertThat(c.future.getChannel()).isSameAs(c.channel);
      assertThat(c.blockingV2.getChannel()).isSameAs(c.channel);

      assertThat(SimpleServiceGrpc.newBlockingStub(c.channel).unaryRpc(REQ).getResponseMessage()).isEqualTo("p1");
      assertThat(SimpleServiceGrpc.newBlockingStub(c.managed).unaryRpc(REQ).getResponseMessage()).isEqualTo("p1");
      assertThat(c.blocking.unaryRpc(REQ).getResponseMessage()).isEqualTo("p1");
      assertThat(c.future.unaryRpc(REQ).get(10, TimeUnit.SECONDS).getResponseMessage()).isEqualTo("p1");
      assertThat(c.blockingV2.unaryRpc(REQ).getResponseMessage()).isEqualTo("p1");
      CompletableFuture<SimpleResponse> async = new CompletableFuture<>();
      c.async.unaryRpc(REQ, new StreamObserver<>() {
        @Override
        public void onNext(SimpleResponse value) {
          async.complete(value);
        }

        @Override
        public void onError(Throwable t) {
          async.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {}
      });
      assertThat(async.get(10, TimeUnit.SECONDS).getResponseMessage()).isEqualTo("p1");
      assertThat(server.calls.get()).isEqualTo(6);
    } finally {
      c.managed.shutdownNow();
    }
  }

  @Test
  void separateCallsMakeSeparateChannels() {
    Checkout a = MeshClients.inject(mesh, new Checkout());
    Checkout b = MeshClients.inject(mesh, new Checkout());
    try {
      assertThat(a.channel).isNotSameAs(b.channel);
    } finally {
      a.managed.shutdownNow();
      b.managed.shutdownNow();
    }
  }

  @Test
  void createPassesStubsToTheConstructor() {
    Refunds r = MeshClients.create(mesh, Refunds.class);
    try {
      assertThat(r.payments().getChannel()).isSameAs(r.channel());
      assertThat(r.payments().unaryRpc(REQ).getResponseMessage()).isEqualTo("p1");
    } finally {
      r.channel().shutdownNow();
    }
  }

  @Test
  void unknownServiceIsNamedWithTheField() {
    assertThatThrownBy(() -> MeshClients.inject(mesh, new Misspelt()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("io.meshup.grpc.MeshClientInjectionTest$Misspelt.payments: @MeshClient(\"paymnts\"): service "
            + "'paymnts' is not in the registry and no VirtualService names it; the static registry lists only the services under "
            + "mesh.registry.static.services");
  }

  @Test
  void unsupportedTypeListsWhatCanBeInjected() {
    assertThatThrownBy(() -> MeshClients.inject(mesh, new WrongType()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("io.meshup.grpc.MeshClientInjectionTest$WrongType.payments: @MeshClient(\"payments\"): type "
            + "java.lang.String cannot be injected; " + SUPPORTED);
    assertThatThrownBy(() -> MeshClients.inject(mesh, new NotGenerated()))
        .hasMessage("io.meshup.grpc.MeshClientInjectionTest$NotGenerated.payments: @MeshClient(\"payments\"): type "
            + "io.grpc.stub.AbstractStub cannot be injected; " + SUPPORTED);
  }

  @Test
  void finalFieldIsAMisuse() {
    assertThatThrownBy(() -> MeshClients.inject(mesh, new FinalField()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("io.meshup.grpc.MeshClientInjectionTest$FinalField.payments: @MeshClient(\"payments\"): the field "
            + "is final; make it non-final, or take the client as a constructor parameter and build the object with "
            + "MeshClients.create");
  }

  @Test
  void constructorParameterWithoutAnnotationIsAMisuse() {
    assertThatThrownBy(() -> MeshClients.create(mesh, NotAnnotated.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("io.meshup.grpc.MeshClientInjectionTest$NotAnnotated constructor parameter 1 of type "
            + "java.lang.String: is not annotated @MeshClient; MeshClients.create fills every parameter of the public "
            + "constructor, so each needs @MeshClient(\"<service>\")");
  }

  @Test
  void emptyServiceNameIsAMisuse() {
    assertThatThrownBy(() -> MeshClients.inject(mesh, new Unnamed()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("io.meshup.grpc.MeshClientInjectionTest$Unnamed.payments: @MeshClient(\"\"): the service name is "
            + "empty; name the destination service, as in @MeshClient(\"payments\")");
  }
}
