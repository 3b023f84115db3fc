package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.testing.ControlledRegistry;
import io.meshup.core.testing.DrainingRegistry;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.spi.ServiceRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Where two features meet, over HTTP against real servers on loopback: mutual TLS with a route to
 * other services, retries within the caller's deadline, an injected delay within it, close and
 * drain, and state per destination released when idle. (Frozen and killed endpoint processes:
 * {@link HttpEndpointProcessTest}.)
 */
class HttpCompositionTest {
  static {
    // the JDK server writes headers and body apart; without TCP_NODELAY each small answer waits
    // for the client's delayed ACK (about 40 ms)
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  <T extends AutoCloseable> T closing(T t) {
    closers.add(t);
    return t;
  }

  record Seen(long arrivedNanos, Long remainingNanos, String caller) {}

  /** A JDK server of {@code service} through MeshHttpServers (STRICT with certificates from {@code ca}). */
  final class Backend implements AutoCloseable {
    final String id;
    final Mesh mesh;
    final HttpServer server;
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    volatile int status = 200;
    volatile long delayMillis;

    Backend(String service, String id, DevCertificateAuthority ca) throws Exception {
      this.id = id;
      Mesh.Builder b = Mesh.builder().service(service);
      if (ca != null) {
        b.certificates(ca.source(service));
      }
      mesh = b.build();
      server = MeshHttpServers.jdk(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
          ca == null ? MtlsMode.DISABLE : MtlsMode.STRICT);
      server.setExecutor(Executors.newCachedThreadPool());
      server.createContext("/", ex -> {
        try (ex) {
          String t = ex.getRequestHeaders().getFirst("x-envoy-expected-rq-timeout-ms");
          WorkloadIdentity caller = MeshHttpServers.caller(ex);
          seen.add(new Seen(System.nanoTime(), t == null ? null : TimeUnit.MILLISECONDS.toNanos(Long.parseLong(t)),
              caller == null ? null : caller.service()));
          ex.getRequestBody().readAllBytes();
          if (delayMillis > 0) {
            TimeUnit.MILLISECONDS.sleep(delayMillis);
          }
          byte[] body = id.getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(status, body.length);
          ex.getResponseBody().write(body);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      server.start();
      closers.add(this);
    }

    Endpoint endpoint() {
      return new Endpoint(id, "127.0.0.1", server.getAddress().getPort(), Map.of(), 1);
    }

    @Override
    public void close() {
      server.stop(0);
      mesh.close();
    }
  }

  static HttpRequest get(String uri, Duration timeout) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri));
    if (timeout != null) {
      b.timeout(timeout);
    }
    return b.build();
  }

  @Test
  void mutualTlsWithARouteToOtherServicesExpectsTheRoutedServicesIdentity() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("composition.test");
    Backend v1 = new Backend("myapp-v1", "v1", ca);
    Backend v2 = new Backend("myapp-v2", "v2", ca);
    Mesh client = closing(Mesh.builder().service("frontend").certificates(ca.source("frontend"))
        .endpoints("myapp-v1", List.of(v1.endpoint()))
        .endpoints("myapp-v2", List.of(v2.endpoint()))
        .policies("mission", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: myapp }
            spec:
              hosts: [myapp.com]
              http:
                - match: [{ uri: { prefix: /v1 } }]
                  route:
                    - { destination: { host: myapp-v1 }, weight: 50 }
                    - { destination: { host: myapp-v2 }, weight: 50 }
            """).build());
    MeshHttpClient http = MeshHttp.client(client);
    Map<String, Integer> served = new ConcurrentHashMap<>();
    for (int i = 0; i < 200; i++) {
      HttpResponse<String> r = http.send(get("http://myapp.com/v1/items", Duration.ofSeconds(10)), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      String identity = MeshHttp.serverIdentity(r).orElseThrow().service();
      assertThat(identity).as("the server is the service the request was routed to").isEqualTo("myapp-" + r.body());
      served.merge(r.body(), 1, Integer::sum);
    }
    assertThat(served.get("v1")).isBetween(70, 130);
    assertThat(v1.seen).isNotEmpty().allMatch(s -> "frontend".equals(s.caller()));
  }

  @Test
  void noRetryOutlivesTheCallersDeadlineAndEachSeesWhatRemains() throws Exception {
    Backend a = new Backend("payments", "a", null);
    Backend b = new Backend("payments", "b", null);
    Mesh client = closing(Mesh.builder().service("checkout")
        .endpoints("payments", List.of(a.endpoint(), b.endpoint()))
        .policies("p", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: payments }
            spec: { host: payments, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 0 } } }
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: payments }
            spec:
              hosts: [payments]
              http: [{ route: [{ destination: { host: payments } }], retries: { attempts: 10, retryOn: 5xx } }]
            """).build());
    MeshHttpClient http = MeshHttp.client(client);
    for (int i = 0; i < 10; i++) {
      http.send(get("http://payments/x", null), HttpResponse.BodyHandlers.ofString()); // open the connections
    }
    a.seen.clear();
    b.seen.clear();
    for (Backend x : List.of(a, b)) {
      x.status = 503;
      x.delayMillis = 100;
    }
    long start = System.nanoTime();
    HttpRequest request = get("http://payments/x", Duration.ofMillis(350));
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(350);
    HttpResponse<String> last = null;
    try {
      last = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (HttpTimeoutException e) {
      // the deadline passed while the last attempt ran
    }
    long end = System.nanoTime();
    if (last != null) {
      assertThat(last.statusCode()).as("a backoff that does not fit ends the call with the last answer").isEqualTo(503);
    }
    assertThat(TimeUnit.NANOSECONDS.toMillis(end - start)).as("the caller got its answer by its deadline (with room for a loaded machine)").isLessThan(1_000);
    List<Seen> attempts = new ArrayList<>(a.seen);
    attempts.addAll(b.seen);
    attempts.sort((x, y) -> Long.compare(x.arrivedNanos(), y.arrivedNanos()));
    assertThat(attempts.size()).as("first try and retries").isBetween(2, 4);
    for (Seen s : attempts) {
      assertThat(s.arrivedNanos()).as("no attempt was sent after the deadline").isLessThan(deadline);
      assertThat(s.remainingNanos()).as("every attempt tells the server its time").isNotNull();
      assertThat(s.arrivedNanos() + s.remainingNanos()).as("never beyond the caller's (ms precision)")
          .isLessThanOrEqualTo(deadline + TimeUnit.MILLISECONDS.toNanos(50));
    }
    for (int i = 1; i < attempts.size(); i++) {
      assertThat(attempts.get(i).remainingNanos()).isLessThan(attempts.get(i - 1).remainingNanos());
    }
  }

  @Test
  void anInjectedDelayLongerThanTheDeadlineEndsTheCallAtTheDeadline() throws Exception {
    Backend a = new Backend("payments", "a", null);
    Mesh client = closing(Mesh.builder().service("checkout").endpoints("payments", List.of(a.endpoint()))
        .policies("p", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: payments }
            spec:
              hosts: [payments]
              http: [{ route: [{ destination: { host: payments } }], fault: { delay: { fixedDelay: 2s, percentage: { value: 100 } } } }]
            """).build());
    long start = System.nanoTime();
    assertThatThrownBy(() -> MeshHttp.client(client).send(get("http://payments/x", Duration.ofMillis(200)),
        HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(HttpTimeoutException.class);
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(180L, 1000L);
    assertThat(a.seen).as("the delay held the request until its deadline; nothing was sent").isEmpty();
  }

  @Test
  void firstRequestsWaitForTheRegistrysFirstAnswerAndAnEmptyAnswerIsHeldOff() throws Exception {
    Backend a = new Backend("payments", "a", null);
    ControlledRegistry registry = new ControlledRegistry();
    Mesh client = closing(Mesh.builder().service("checkout").registry(registry).build());
    MeshHttpClient http = MeshHttp.client(client);
    List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> first = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      first.add(http.sendAsync(get("http://payments/x", Duration.ofSeconds(20)), HttpResponse.BodyHandlers.ofString()));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> io.meshup.core.MeshTestAccess.discoveryWaiters(client, "payments") == 20);
    assertThat(first).noneMatch(java.util.concurrent.CompletableFuture::isDone);

    registry.answer("payments", a.endpoint());
    for (var f : first) {
      assertThat(f.get(20, TimeUnit.SECONDS).statusCode()).as("every first request served once endpoints came").isEqualTo(200);
    }

    registry.fail("payments", new java.io.IOException("connection refused")); // the agent restarts
    registry.answer("payments"); // with an empty catalog
    assertThat(http.send(get("http://payments/x", Duration.ofSeconds(10)), HttpResponse.BodyHandlers.ofString()).statusCode())
        .as("the last known endpoint keeps serving through the grace period").isEqualTo(200);
    assertThat(client.meterRegistry().counter("mesh.registry.empty.held").count()).isEqualTo(1.0);
  }

  @Test
  void closingDrainsWithNoFailedRequestThenRefusesClearly() throws Exception {
    Backend a = new Backend("payments", "a", null);
    DrainingRegistry registry = new DrainingRegistry(Map.of("payments", List.of(a.endpoint())), Duration.ofMillis(700));
    Mesh client = Mesh.builder().service("checkout").registry(registry).build();
    MeshHttpClient http = MeshHttp.client(client);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger okDuringDrain = new AtomicInteger();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    AtomicLong firstRefusal = new AtomicLong();
    Thread traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          http.send(get("http://payments/x", Duration.ofSeconds(5)), HttpResponse.BodyHandlers.ofString());
          ok.incrementAndGet();
          if (registry.deregisteredAt != 0) {
            okDuringDrain.incrementAndGet();
          }
        } catch (Exception e) {
          if (String.valueOf(e.getMessage()).contains("shut down")) {
            firstRefusal.compareAndSet(0, System.nanoTime());
            return;
          }
          failures.add(e);
        }
      }
    });
    traffic.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > 20);
    long closeStart = System.nanoTime();
    client.close();
    traffic.join(10_000);
    stop.set(true);
    assertThat(failures).as("no request failed while the mesh drained").isEmpty();
    assertThat(okDuringDrain.get()).isPositive();
    assertThat(firstRefusal.get() - closeStart).as("refused only after the drain")
        .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(690));
  }

  @Test
  void stateForAThousandHostNamesIsReleasedWhenIdle() throws Exception {
    Backend a = new Backend("any", "a", null);
    Endpoint only = a.endpoint();
    ServiceRegistry anyName = new ServiceRegistry() {
      @Override
      public Watch watch(String service, EndpointListener listener) {
        listener.onEndpoints(List.of(only));
        return () -> {};
      }

      @Override
      public void close() {}
    };
    Mesh client = closing(Mesh.builder().service("checkout").registry(anyName)
        .yaml("mesh: { service: checkout, defaults: { idleTimeout: 2s } }").build());
    MeshHttpClient http = MeshHttp.client(client);
    http.send(get("http://warm-up/x", null), HttpResponse.BodyHandlers.ofString());
    await().atMost(Duration.ofSeconds(20)).until(() -> client.destinationCount() == 0);
    int metersBefore = client.meterRegistry().getMeters().size();
    int peak = 0;
    for (int i = 0; i < 1000; i++) {
      assertThat(http.send(get("http://svc-" + i + "/x", null), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      peak = Math.max(peak, client.destinationCount());
    }
    assertThat(peak).as("state grew with the names called").isGreaterThan(200);
    await().atMost(Duration.ofSeconds(30)).until(() -> client.destinationCount() == 0);
    assertThat(client.meterRegistry().getMeters().size()).as("meters of released destinations are gone").isEqualTo(metersBefore);
  }
}
