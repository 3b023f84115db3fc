package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The shutdown of a Spring application in the mesh, against a real Consul agent: a payments
 * instance (Spring MVC on Tomcat, registered in Consul by the starter with a drain time) is closed
 * while a caller keeps calling payments through its own mesh, with a second payments instance
 * registered beside it. The instance leaves Consul first and still answers while it drains; its
 * server stops only after that; the caller sees no failed call, before, during or after.
 */
class ShutdownOrderTest {
  @RegisterExtension static final ConsulAgent consul = new ConsulAgent();

  @RestController
  static class Pay {
    @GetMapping("/pay")
    String pay() {
      return "A";
    }
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(Pay.class)
  static class PaymentsApp {}

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static String registered(String id, int port, String drain) {
    return "{ address: 127.0.0.1, port: %d, id: %s, check: { ttl: 10s }, drainTime: %s }".formatted(port, id, drain);
  }

  @Test
  void deregistersAndDrainsBeforeTheServerStopsAndNoCallFails() throws Exception {
    HttpServer b = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    b.createContext("/", e -> {
      try (e) {
        byte[] body = "B".getBytes(StandardCharsets.UTF_8);
        e.sendResponseHeaders(200, body.length);
        try (OutputStream out = e.getResponseBody()) {
          out.write(body);
        }
      }
    });
    b.start();
    Mesh instanceB = Mesh.fromYamlString("""
        mesh:
          service: payments
          registry: { type: consul, consul: { address: %s, registration: %s } }
        """.formatted(consul.httpAddress(), registered("payments-b", b.getAddress().getPort(), "0s")));
    Mesh caller = Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry: { type: consul, consul: { address: %s } }
        """.formatted(consul.httpAddress()));
    int port = 0;
    ConfigurableApplicationContext a = null;
    // the registration names the port before the server listens on it: a free port, taken again
    // when another process on this machine bound it in between
    for (int attempt = 1; a == null; attempt++) {
      port = freePort();
      try {
        a = paymentsA(port);
      } catch (RuntimeException e) {
        if (attempt == 5 || !hasCause(e, org.springframework.boot.web.server.PortInUseException.class)) {
          throw e;
        }
      }
    }
    int portA = port;

    MeshHttpClient http = MeshHttp.client(caller);
    Map<String, AtomicInteger> answers = new ConcurrentHashMap<>();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    AtomicBoolean running = new AtomicBoolean(true);
    Thread load = new Thread(() -> {
      for (int i = 0; i < 100_000 && running.get(); i++) {
        try {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://payments/pay")).build(),
              HttpResponse.BodyHandlers.ofString());
          answers.computeIfAbsent(r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode(), k -> new AtomicInteger())
              .incrementAndGet();
        } catch (Exception e) {
          failures.add(e);
        }
      }
    }, "caller");
    HttpClient direct = HttpClient.newHttpClient();
    HttpRequest toA = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + portA + "/pay")).build();
    try {
      // the caller's first call to payments starts its watch and may fail before Consul's first
      // answer (no endpoint known yet): warm up first, so every call counted below has both instances
      try {
        http.send(HttpRequest.newBuilder(URI.create("http://payments/pay")).build(), HttpResponse.BodyHandlers.discarding());
      } catch (IOException warmingUp) {
        // expected when the registry has not answered yet
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> callerEndpoints(caller).size() == 2);
      load.start();
      await().atMost(Duration.ofSeconds(20)).until(() -> answers.containsKey("A") && answers.containsKey("B"));

      Thread closer = new Thread(a::close, "close-payments-a");
      closer.start();
      // the instance leaves the registry first ...
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
          .until(() -> !consulHealth(direct).contains("payments-a"));
      // ... and still answers while it drains (5 s): its server has not stopped
      assertThat(direct.send(toA, HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("A");
      // the caller's mesh drops it from its balancer; from then on its one load thread has at most
      // the call in flight that picked A before
      await().atMost(Duration.ofSeconds(20)).until(() -> !callerEndpoints(caller).contains("127.0.0.1:" + portA));
      int aDropped = answers.get("A").get();
      closer.join(60_000);
      assertThat(closer.isAlive()).isFalse();
      // only now is the server gone
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> direct.send(toA, HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(ConnectException.class);
      int bNow = answers.get("B").get();
      await().atMost(Duration.ofSeconds(30)).until(() -> answers.get("B").get() > bNow + 20);
      assertThat(answers.get("A").get()).as("calls reaching A once the caller dropped it").isLessThanOrEqualTo(aDropped + 1);
    } finally {
      running.set(false);
      load.join(30_000);
      caller.close();
      instanceB.close();
      b.stop(0);
      if (a.isActive()) {
        a.close();
      }
    }
    assertThat(failures).as("calls that failed while payments-a shut down").isEmpty();
    assertThat(answers.keySet()).containsExactlyInAnyOrder("A", "B");
  }

  /** The addresses of the payments endpoints the caller's balancer holds. */
  private static List<String> callerEndpoints(Mesh caller) {
    return caller.snapshot().destination("payments").stream()
        .flatMap(d -> d.subsets().stream()).flatMap(s -> s.endpoints().stream())
        .map(e -> e.address()).toList();
  }

  private static ConfigurableApplicationContext paymentsA(int port) {
    return new SpringApplicationBuilder(PaymentsApp.class).properties(
        "spring.config.name=none", "server.address=127.0.0.1", "server.port=" + port, "server.shutdown=graceful",
        "mesh.service=payments", "mesh.registry.type=consul", "mesh.registry.consul.address=" + consul.httpAddress(),
        "mesh.registry.consul.registration.address=127.0.0.1", "mesh.registry.consul.registration.port=" + port,
        "mesh.registry.consul.registration.id=payments-a", "mesh.registry.consul.registration.check.ttl=10s",
        "mesh.registry.consul.registration.drain-time=5s").run();
  }

  private static boolean hasCause(Throwable e, Class<? extends Throwable> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return true;
      }
    }
    return false;
  }

  private static String consulHealth(HttpClient client) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create(consul.httpUri() + "/v1/health/service/payments?passing")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }
}
