package io.meshup.examples.spring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshup.core.MeshClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.HttpClientErrorException;
import org.springframework.web.client.RestClient;

/**
 * A Spring Boot checkout service calling payments through the mesh, with the starter: two payments
 * instances (Spring MVC, versions v1 and v2, each authorizing inbound requests with its mesh's
 * AuthorizationPolicy), and a checkout service whose {@code @MeshClient("payments") RestClient}
 * sends through an 80/20 VirtualService. All on loopback ports the OS chooses; it prints what it
 * sees and ends. Run: {@code ./mvnw -q -DskipTests -pl examples/spring-checkout -am install exec:java}.
 */
public final class SpringCheckoutDemo {
  private SpringCheckoutDemo() {}

  /** A payments instance. */
  @RestController
  static class Payments {
    @Value("${mesh.labels.version}")
    String version;

    @GetMapping("/charges/{id}")
    String charge(@PathVariable("id") String id) {
      return "charged order " + id + " on payments " + version;
    }

    @DeleteMapping("/charges/{id}")
    String refund(@PathVariable("id") String id) {
      return "refunded order " + id;   // never reached: the AuthorizationPolicy denies DELETE
    }
  }

  /** The checkout service, calling payments by its service name through the mesh. */
  @RestController
  static class Checkout {
    @MeshClient("payments")
    RestClient payments;

    @GetMapping("/checkout/{order}")
    String checkout(@PathVariable("order") String order) {
      return payments.get().uri("/charges/{id}", order).retrieve().body(String.class);
    }

    @GetMapping("/refund/{order}")
    String refund(@PathVariable("order") String order) {
      try {
        return payments.delete().uri("/charges/{id}", order).retrieve().body(String.class);
      } catch (HttpClientErrorException e) {
        return "payments answered " + e.getStatusCode().value() + ": " + e.getResponseBodyAsString().strip();
      }
    }
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(Payments.class)
  static class PaymentsApp {}

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(Checkout.class)
  static class CheckoutApp {}

  static ConfigurableApplicationContext payments(String version) {
    return new SpringApplicationBuilder(PaymentsApp.class).properties(quiet("payments"))
        .properties("server.port=0", "mesh.labels.version=" + version).run();
  }

  static Map<String, Object> quiet(String configName) {
    return Map.of("spring.config.name", configName, "spring.main.banner-mode", "off",
        "logging.level.root", "WARN", "logging.level.io.meshup", "WARN");
  }

  static int port(ConfigurableApplicationContext ctx) {
    return Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port"));
  }

  /** Starts the three services, calls checkout, prints what happened, and stops them in order. */
  public static void main(String[] args) throws Exception {
    ConfigurableApplicationContext v1 = payments("v1");
    ConfigurableApplicationContext v2 = payments("v2");
    ConfigurableApplicationContext checkout = new SpringApplicationBuilder(CheckoutApp.class).properties(quiet("checkout"))
        .properties(
            "mesh.registry.static.services.payments[0].address=127.0.0.1",
            "mesh.registry.static.services.payments[0].port=" + port(v1),
            "mesh.registry.static.services.payments[0].labels.version=v1",
            "mesh.registry.static.services.payments[1].address=127.0.0.1",
            "mesh.registry.static.services.payments[1].port=" + port(v2),
            "mesh.registry.static.services.payments[1].labels.version=v2")
        .run();
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + port(checkout);
    ObjectMapper json = new ObjectMapper();
    try {
      System.out.printf("payments v1 on port %d, v2 on %d; checkout on %d%n", port(v1), port(v2), port(checkout));

      Map<String, Integer> answers = new TreeMap<>();
      for (int i = 0; i < 200; i++) {
        String body = get(http, base + "/checkout/" + i);
        answers.merge(body.substring(body.lastIndexOf(' ') + 1), 1, Integer::sum);
      }
      System.out.println("1. 200 checkouts through the 80/20 VirtualService, answered by payments " + answers);

      System.out.println("2. a refund (DELETE) is refused by payments' AuthorizationPolicy before its handler: "
          + get(http, base + "/refund/7"));

      JsonNode health = json.readTree(get(http, base + "/actuator/health")).get("components").get("mesh");
      System.out.println("3. checkout's /actuator/health, mesh: " + health);
      JsonNode route = json.readTree(get(http, base + "/actuator/mesh/payments")).get("routes").get(0);
      System.out.println("4. checkout's /actuator/mesh/payments, first route: timeout " + route.get("timeoutMillis")
          + " ms, retries " + route.get("retryAttempts") + ", targets " + route.get("targets"));
    } finally {
      checkout.close();
      v1.close();
      v2.close();
    }
    System.out.println("5. stopped: checkout first (its channels, then its mesh), then payments");
  }

  private static String get(HttpClient http, String url) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    return r.body();
  }
}
