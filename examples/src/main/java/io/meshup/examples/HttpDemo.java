package io.meshup.examples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import io.meshup.http.MeshHttpServers;
import io.meshup.http.MeshUnavailableException;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The HTTP demo: in one JVM, an {@code inventory} service with two v1 instances and one v2
 * instance (the JDK's HTTPS server through {@link MeshHttpServers}, mutual TLS with SPIFFE
 * identities from a development CA), and a {@code storefront} caller that reaches it by name with
 * {@link MeshHttpClient} through a 90/10 VirtualService. It shows the split, a GET retried after a
 * 503, v2 failing until its circuit breaker opens, and a DELETE refused by the inventory's
 * AuthorizationPolicy. Needs nothing but a JDK; ends by itself.
 */
public final class HttpDemo {
  private static final String ITEM = "http://inventory/items/42";

  private HttpDemo() {}

  /** One inventory instance and the knobs the demo turns. */
  private static final class Instance {
    final String id;
    final String version;
    final AtomicInteger served = new AtomicInteger();
    /** This many next requests are answered with 503. */
    final AtomicInteger fail503 = new AtomicInteger();
    /** When set, every request is answered with 500. */
    volatile boolean broken;
    final AtomicReference<WorkloadIdentity> callerSeen = new AtomicReference<>();
    HttpServer server;

    Instance(String id, String version) {
      this.id = id;
      this.version = version;
    }

    int port() {
      return server.getAddress().getPort();
    }
  }

  /** Runs the demo. */
  public static void main(String[] args) throws Exception {
    // The JDK's server writes headers and body apart; without TCP_NODELAY each small response
    // waits for the client's delayed ACK (about 40 ms on Linux).
    System.setProperty("sun.net.httpserver.nodelay", "true");
    DevCertificateAuthority ca = DevCertificateAuthority.create("meshup.demo");
    ExecutorService executor = Executors.newFixedThreadPool(8);
    List<Instance> instances = new ArrayList<>();
    try (Mesh inventoryMesh = Mesh.builder().service("inventory").certificates(ca.source("inventory"))
        .policies("http-inventory-authz.yaml", resource("http-inventory-authz.yaml")).build()) {
      Instance v1a = start(new Instance("inventory-v1-a", "v1"), inventoryMesh, executor, instances);
      Instance v1b = start(new Instance("inventory-v1-b", "v1"), inventoryMesh, executor, instances);
      Instance v2 = start(new Instance("inventory-v2", "v2"), inventoryMesh, executor, instances);
      say("Started inventory (JDK HttpsServer, mTLS %s) v1 on 127.0.0.1:%d and 127.0.0.1:%d, v2 on 127.0.0.1:%d",
          inventoryMesh.mtlsMode(), v1a.port(), v1b.port(), v2.port());

      Map<String, String> env = Map.of(
          "INVENTORY_V1A_PORT", String.valueOf(v1a.port()),
          "INVENTORY_V1B_PORT", String.valueOf(v1b.port()),
          "INVENTORY_V2_PORT", String.valueOf(v2.port()));
      try (Mesh mesh = Mesh.builder().yaml(resource("http-demo.yaml")).env(n -> env.getOrDefault(n, System.getenv(n)))
          .policies("http-inventory-policy.yaml", resource("http-inventory-policy.yaml"))
          .certificates(ca.source("storefront")).build()) {
        MeshHttpClient http = MeshHttp.client(mesh);

        say("%n1. 1,000 GETs of %s through the 90/10 VirtualService", ITEM);
        HttpResponse<String> first = get(http);
        say("   the caller sent to %s and saw the server as %s", first.uri(),
            MeshHttp.serverIdentity(first).map(Object::toString).orElse("(plaintext)"));
        say("   the inventory server saw the caller as %s (verified from its client certificate)", v1orV2Caller(instances));
        report(run(http, 999), instances);

        say("%n2. inventory-v1-a answers its next request with 503; GETs until it has (retryOn: 5xx)");
        v1a.fail503.set(1);
        Map<String, Integer> seen = new TreeMap<>();
        int sent = 0;
        while (v1a.fail503.get() > 0 && sent < 2_000) {
          run(http, 1).forEach((k, v) -> seen.merge(k, v, Integer::sum));
          sent++;
        }
        say("   %d GETs; v1-a gave its 503: %s", sent, v1a.fail503.get() == 0);
        report(seen, instances);
        say("   retries granted: %.0f (the 503 was retried on another endpoint; the caller never saw it)",
            counter(mesh, "mesh.client.retries", "result", "granted"));

        say("%n3. inventory-v2 fails every request (500); 300 more GETs");
        v2.broken = true;
        report(run(http, 300), instances);
        say("   v2 circuit breaker: %s; v1 circuit breaker: %s", breakerState(mesh, "v2"), breakerState(mesh, "v1"));

        say("%n4. DELETE %s: the inventory's AuthorizationPolicy refuses it before any handler runs", ITEM);
        HttpResponse<String> denied = http.send(HttpRequest.newBuilder(URI.create(ITEM)).DELETE().build(),
            HttpResponse.BodyHandlers.ofString());
        say("   %d %s   (x-meshup-authz-policy: %s, x-meshup-authz-rule: %s)", denied.statusCode(), denied.body().trim(),
            denied.headers().firstValue("x-meshup-authz-policy").orElse("-"),
            denied.headers().firstValue("x-meshup-authz-rule").orElse("-"));
        say("   inventory's mesh.authz.denials{policy=inventory-read-only, rule=rules[0]} = %.0f",
            counter(inventoryMesh, "mesh.authz.denials", "policy", "inventory-read-only", "rule", "rules[0]"));

        say("%nMetrics (mesh.client.requests by subset and outcome; mesh.client.rejections by reason):");
        mesh.meterRegistry().get("mesh.client.requests").timers().stream()
            .filter(t -> t.count() > 0)
            .forEach(t -> say("   subset=%-3s outcome=%-13s count=%5d mean=%.3f ms", t.getId().getTag("subset"),
                t.getId().getTag("outcome"), t.count(), t.mean(TimeUnit.MILLISECONDS)));
        mesh.meterRegistry().get("mesh.client.rejections").counters().stream()
            .filter(c -> c.count() > 0)
            .forEach(c -> say("   subset=%-3s rejected=%-12s count=%5d", c.getId().getTag("subset"),
                c.getId().getTag("reason"), (long) c.count()));
      }
    } finally {
      for (Instance i : instances) {
        i.server.stop(0);
      }
      executor.shutdownNow();
    }
    say("%nDone.");
  }

  private static Instance start(Instance in, Mesh mesh, ExecutorService executor, List<Instance> all) throws IOException {
    in.server = MeshHttpServers.jdk(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    in.server.setExecutor(executor);
    in.server.createContext("/items/", exchange -> serve(in, exchange));
    in.server.start();
    all.add(in);
    return in;
  }

  private static void serve(Instance in, HttpExchange exchange) throws IOException {
    try (exchange) {
      in.callerSeen.compareAndSet(null, MeshHttpServers.caller(exchange));
      int status = in.broken ? 500 : in.fail503.getAndUpdate(n -> Math.max(n - 1, 0)) > 0 ? 503 : 200;
      if (status == 200) {
        in.served.incrementAndGet();
      }
      byte[] body = (status == 200 ? "{\"sku\":\"42\",\"stock\":7,\"served_by\":\"" + in.id + "\"}"
          : "inventory " + in.id + " failed").getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", status == 200 ? "application/json" : "text/plain");
      exchange.sendResponseHeaders(status, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  private static HttpResponse<String> get(MeshHttpClient http) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create(ITEM)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** What the caller saw, by status or exception. */
  private static Map<String, Integer> run(MeshHttpClient http, int n) throws InterruptedException {
    Map<String, Integer> seen = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      String key;
      try {
        key = "HTTP " + get(http).statusCode();
      } catch (MeshUnavailableException e) {
        key = "MeshUnavailableException (" + e.rejection().reason() + ", subset " + e.subset() + ")";
      } catch (IOException e) {
        key = e.getClass().getSimpleName();
      }
      seen.merge(key, 1, Integer::sum);
    }
    return seen;
  }

  private static void report(Map<String, Integer> seen, List<Instance> instances) {
    say("   the caller saw: %s", seen);
    StringBuilder s = new StringBuilder();
    for (Instance i : instances) {
      s.append(String.format("%s=%d  ", i.id, i.served.getAndSet(0)));
    }
    say("   200s served by: %s", s.toString().trim());
  }

  private static String v1orV2Caller(List<Instance> instances) {
    return instances.stream().map(i -> i.callerSeen.get()).filter(java.util.Objects::nonNull).findFirst()
        .map(Object::toString).orElse("(none yet)");
  }

  private static double counter(Mesh mesh, String name, String... tags) {
    return mesh.meterRegistry().get(name).tags(tags).counters().stream().mapToDouble(Counter::count).sum();
  }

  /** The breaker's state as the {@code mesh.circuitbreaker.state} gauges report it. */
  private static String breakerState(Mesh mesh, String subset) {
    return mesh.meterRegistry().get("mesh.circuitbreaker.state").tags("service", "inventory", "subset", subset)
        .gauges().stream().filter(g -> g.value() == 1).map(g -> g.getId().getTag("state")).findFirst().orElse("unknown");
  }

  private static String resource(String name) throws IOException {
    try (InputStream in = HttpDemo.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("missing resource " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static void say(String format, Object... args) {
    System.out.println(String.format(format, args));
  }
}
