package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.http.MeshHttpClient;
import io.meshup.spring.internal.SpringClients;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.stereotype.Component;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * Every client type {@code @MeshClient} gives a Spring bean, in fields, constructor parameters and
 * {@code @Bean} method parameters, each making a real call routed through the mesh to real
 * loopback servers: gRPC stubs and channels to {@code payments}, {@code MeshHttpClient},
 * {@code RestClient} and {@code WebClient} to {@code inventory}. The VirtualServices send every
 * call to subset v2, so an answer from v2 shows the call was routed by policy.
 */
@SpringBootTest(classes = ClientInjectionTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.NONE,
    properties = "spring.config.name=clients")
class ClientInjectionTest {
  static final Backends backends = new Backends();
  static final SimpleRequest HI = SimpleRequest.newBuilder().setRequestMessage("hi").build();
  static final int[] PAYMENTS = {backends.grpc("payments-v1"), backends.grpc("payments-v2")};
  static final int[] INVENTORY = {backends.http("inventory-v1"), backends.http("inventory-v2")};

  @AfterAll
  static void stop() throws InterruptedException {
    backends.close();
  }

  /** The endpoints, each list whole in one source (a list comes from one source, as Spring binds lists). */
  @DynamicPropertySource
  static void endpoints(DynamicPropertyRegistry r) {
    endpoints(r, PAYMENTS, INVENTORY);
  }

  /** Payments and inventory v1 and v2 at these ports (each test class has servers of its own). */
  static void endpoints(DynamicPropertyRegistry r, int[] payments, int[] inventory) {
    for (int i = 0; i < 2; i++) {
      String p = "mesh.registry.static.services.payments[" + i + "].";
      String v = "v" + (i + 1);
      int port = payments[i];
      r.add(p + "address", () -> "127.0.0.1");
      r.add(p + "port", () -> port);
      r.add(p + "labels.version", () -> v);
      String q = "mesh.registry.static.services.inventory[" + i + "].";
      int httpPort = inventory[i];
      r.add(q + "address", () -> "127.0.0.1");
      r.add(q + "port", () -> httpPort);
      r.add(q + "labels.version", () -> v);
    }
  }

  /** Clients in fields. */
  @Component
  static class Fields {
    @MeshClient("payments") SimpleServiceGrpc.SimpleServiceBlockingStub blocking;
    @MeshClient("payments") SimpleServiceGrpc.SimpleServiceFutureStub future;
    @MeshClient("payments") Channel channel;
    @MeshClient("payments") ManagedChannel managed;
    @MeshClient("inventory") MeshHttpClient http;
    @MeshClient("inventory") RestClient rest;
    @MeshClient("inventory") WebClient web;
  }

  /** Clients as constructor parameters of a bean with one constructor. */
  @Component
  static class Constructed {
    final SimpleServiceGrpc.SimpleServiceBlockingStub payments;
    final RestClient inventory;

    Constructed(@MeshClient("payments") SimpleServiceGrpc.SimpleServiceBlockingStub payments,
        @MeshClient("inventory") RestClient inventory) {
      this.payments = payments;
      this.inventory = inventory;
    }
  }

  record Refunds(SimpleServiceGrpc.SimpleServiceBlockingStub payments) {}

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import({Fields.class, Constructed.class})
  static class App {
    @Bean
    Refunds refunds(@MeshClient("payments") SimpleServiceGrpc.SimpleServiceBlockingStub payments) {
      return new Refunds(payments);
    }
  }

  @Autowired Fields fields;
  @Autowired Constructed constructed;
  @Autowired Refunds refunds;
  @Autowired SpringClients clients;
  @Autowired MeshHttpClient httpBean;

  @Test
  void grpcStubsAndChannelsCallThroughTheMesh() throws Exception {
    assertThat(fields.blocking.unaryRpc(HI).getResponseMessage()).isEqualTo("payments-v2");
    assertThat(fields.future.unaryRpc(HI).get().getResponseMessage()).isEqualTo("payments-v2");
    assertThat(SimpleServiceGrpc.newBlockingStub(fields.channel).unaryRpc(HI).getResponseMessage()).isEqualTo("payments-v2");
    assertThat(SimpleServiceGrpc.newBlockingStub(fields.managed).unaryRpc(HI).getResponseMessage()).isEqualTo("payments-v2");
    assertThat(constructed.payments.unaryRpc(HI).getResponseMessage()).isEqualTo("payments-v2");
    assertThat(refunds.payments().unaryRpc(HI).getResponseMessage()).isEqualTo("payments-v2");
  }

  @Test
  void everyInjectionPointOfAServiceSharesOneChannel() {
    assertThat(fields.channel).isSameAs(fields.managed).isSameAs(fields.blocking.getChannel())
        .isSameAs(constructed.payments.getChannel()).isSameAs(refunds.payments().getChannel());
    assertThat(clients.channels()).containsExactly(fields.managed);
    assertThat(fields.http).isSameAs(httpBean);
  }

  @Test
  void httpClientsCallThroughTheMesh() throws Exception {
    HttpResponse<String> r = fields.http.send(HttpRequest.newBuilder(URI.create("http://inventory/items/42")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.body()).isEqualTo("inventory-v2 GET /items/42");
    assertThat(fields.rest.get().uri("/items/{id}", 42).retrieve().body(String.class)).isEqualTo("inventory-v2 GET /items/42");
    assertThat(fields.rest.post().uri("/items").body("{\"n\":1}").retrieve().body(String.class))
        .isEqualTo("inventory-v2 POST /items");
    assertThat(constructed.inventory.delete().uri("/items/7").retrieve().body(String.class))
        .isEqualTo("inventory-v2 DELETE /items/7");
    assertThat(fields.web.get().uri("/items/{id}", 43).retrieve().bodyToMono(String.class).block())
        .isEqualTo("inventory-v2 GET /items/43");
    assertThat(fields.web.put().uri("/items/44").bodyValue("x").retrieve().bodyToMono(String.class).block())
        .isEqualTo("inventory-v2 PUT /items/44");
  }

  @Test
  void channelsAreShutDownWithTheContextAndAMisuseNamesTheField() {
    ConfigurableApplicationContext ctx = new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE)
        .properties("spring.config.name=clients").run();
    List<ManagedChannel> channels = ctx.getBean(SpringClients.class).channels();
    Mesh mesh = ctx.getBean(Mesh.class);
    assertThat(channels).hasSize(1);
    ctx.close();
    assertThat(channels.get(0).isTerminated()).isTrue();
    assertThatThrownBy(() -> mesh.component(AutoCloseable.class, () -> () -> {}))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");

    assertThatThrownBy(() -> new SpringApplicationBuilder(Misused.class).web(WebApplicationType.NONE)
        .properties("spring.config.name=clients").run())
        .hasStackTraceContaining("io.meshup.spring.ClientInjectionTest$Misused$Typo.payments: @MeshClient(\"paymnts\"):"
            + " service 'paymnts' is not in the registry and no VirtualService names it");
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(Misused.Typo.class)
  static class Misused {
    @Component
    static class Typo {
      @MeshClient("paymnts") SimpleServiceGrpc.SimpleServiceBlockingStub payments;
    }
  }
}
