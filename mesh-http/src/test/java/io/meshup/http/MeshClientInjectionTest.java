package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.core.MeshClients;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code @MeshClient} {@link MeshHttpClient}s made by mesh-http's provider, used against a real server. */
class MeshClientInjectionTest {
  static class Checkout {
    @MeshClient("payments") private MeshHttpClient payments;
    @MeshClient("payments") private MeshHttpClient again;
  }

  public record Refunds(@MeshClient("payments") MeshHttpClient payments) {}

  static class WrongType {
    @MeshClient("payments") HttpRequest payments;
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
  void stop() {
    mesh.close();
    servers.close();
  }

  @Test
  void injectsOneClientPerCallAndItSendsThroughTheMesh() throws Exception {
    Checkout c = MeshClients.inject(mesh, new Checkout());
    assertThat(c.again).isSameAs(c.payments);
    HttpResponse<String> r = c.payments.send(HttpRequest.newBuilder(URI.create("http://payments/charges/42")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("p1");
    assertThat(r.headers().firstValue("x-seen-uri")).hasValue("/charges/42");
    assertThat(server.calls.get()).isEqualTo(1);
  }

  @Test
  void createPassesAClientToTheConstructor() throws Exception {
    Refunds r = MeshClients.create(mesh, Refunds.class);
    assertThat(r.payments().send(HttpRequest.newBuilder(URI.create("http://payments/refunds")).build(),
        HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("p1");
  }

  @Test
  void unsupportedTypeListsWhatCanBeInjected() {
    assertThatThrownBy(() -> MeshClients.inject(mesh, new WrongType()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("io.meshup.http.MeshClientInjectionTest$WrongType.payments: @MeshClient(\"payments\"): type "
            + "java.net.http.HttpRequest cannot be injected; supported: io.meshup.http.MeshHttpClient (providers on "
            + "the classpath: io.meshup.http.internal.HttpClientProvider)");
  }
}
