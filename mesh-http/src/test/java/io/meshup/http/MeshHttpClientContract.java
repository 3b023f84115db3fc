package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.route.Rejection;
import io.meshup.core.testing.FakeClock;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * HTTP requests through the mesh against real servers on loopback, for both ways of sending:
 * {@link MeshHttpClientTest} (blocking {@code send}) and {@link MeshHttpClientAsyncTest}
 * ({@code sendAsync}) run every test here.
 */
abstract class MeshHttpClientContract {
  TestServers servers;
  TestServers.Instance v1a;
  TestServers.Instance v1b;
  TestServers.Instance v2;
  final FakeClock clock = new FakeClock();
  final List<AutoCloseable> closers = new ArrayList<>();

  @BeforeEach
  void startServers() throws Exception {
    servers = new TestServers();
    v1a = servers.start("v1a", Map.of("version", "v1"));
    v1b = servers.start("v1b", Map.of("version", "v1"));
    v2 = servers.start("v2", Map.of("version", "v2"));
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : closers) {
      c.close();
    }
    servers.close();
  }

  // ---- fixtures ---------------------------------------------------------------------------

  static String dr(String trafficPolicy) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: payments }
        spec:
          host: payments
          trafficPolicy: %s
          subsets:
            - { name: v1, labels: { version: v1 } }
            - { name: v2, labels: { version: v2 } }
            - { name: v3, labels: { version: v3 } }
        ---
        """.formatted(trafficPolicy);
  }

  /** A VirtualService with one route {@code split}; {@code extra} adds keys to the route. */
  static String split(int v1, int v2, String extra) {
    return """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - name: split
              route:
                - { destination: { host: payments, subset: v1 }, weight: %d }
                - { destination: { host: payments, subset: v2 }, weight: %d }
        """.formatted(v1, v2) + extra.indent(6);
  }

  /** Round robin, no outlier ejection: which endpoint serves is predictable. */
  static final String PREDICTABLE = dr("{ loadBalancer: { simple: ROUND_ROBIN }, outlierDetection: { consecutive5xxErrors: 0 } }");

  Mesh mesh(String policy) {
    return mesh(Mesh.builder().service("checkout"), policy, servers.endpoints());
  }

  Mesh mesh(Mesh.Builder b, String policy, List<Endpoint> endpoints) {
    Mesh m = b.endpoints("payments", endpoints).policies("test", policy).build();
    closers.add(m);
    return m;
  }

  static HttpRequest get(String uri) {
    return HttpRequest.newBuilder(URI.create(uri)).build();
  }

  static HttpRequest post(String uri, String body) {
    return HttpRequest.newBuilder(URI.create(uri)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
  }

  /** Sends one request the way this test class does. */
  abstract HttpResponse<String> send(MeshHttpClient client, HttpRequest request) throws IOException, InterruptedException;

  /** Sends {@code n} requests, all answered 200; counts the answers by serving instance. */
  Map<String, Integer> send(MeshHttpClient client, HttpRequest request, int n) throws Exception {
    Map<String, Integer> byInstance = new HashMap<>();
    for (int i = 0; i < n; i++) {
      HttpResponse<String> r = send(client, request);
      assertThat(r.statusCode()).isEqualTo(200);
      byInstance.merge(r.body(), 1, Integer::sum);
    }
    return byInstance;
  }

  /** The count of a timer or counter, summed over every meter with these tags. */
  static double count(Mesh mesh, String meter, String... tags) {
    var search = mesh.meterRegistry().get(meter).tags(tags);
    return meter.equals("mesh.client.retries") || meter.equals("mesh.client.rejections")
        ? search.counters().stream().mapToDouble(io.micrometer.core.instrument.Counter::count).sum()
        : search.timers().stream().mapToDouble(io.micrometer.core.instrument.Timer::count).sum();
  }

  // ---- routing ----------------------------------------------------------------------------

  @Test
  void splits90To10WithinTwoPointsOver10000Requests() throws Exception {
    Mesh mesh = mesh(dr("{ loadBalancer: { simple: ROUND_ROBIN } }") + split(90, 10, ""));
    Map<String, Integer> seen = send(MeshHttp.client(mesh), get("http://payments/charges/42"), 10_000);
    double v1Share = (seen.getOrDefault("v1a", 0) + seen.getOrDefault("v1b", 0)) / 100.0;
    assertThat(v1Share).as("v1 share: %s", seen).isBetween(88.0, 92.0);
    assertThat(seen.get("v1a")).as("round robin within v1: %s", seen).isBetween(4_000, 5_000);
    assertThat(count(mesh, "mesh.client.requests", "service", "payments", "route", "split", "subset", "v2", "outcome", "success"))
        .isEqualTo((double) seen.get("v2"));
  }

  @Test
  void pathHeaderAndMethodMatchesChooseTheRoute() throws Exception {
    String vs = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: payments }
        spec:
          hosts: [payments]
          http:
            - name: jason
              match: [{ headers: { end-user: { exact: jason } } }]
              route: [{ destination: { host: payments, subset: v2 } }]
            - name: refunds
              match: [{ uri: { prefix: /refunds }, method: { exact: DELETE } }]
              route: [{ destination: { host: payments, subset: v2 } }]
            - name: charges
              match: [{ uri: { prefix: /charges } }]
              route: [{ destination: { host: payments, subset: v1 } }]
        """;
    MeshHttpClient client = MeshHttp.client(mesh(dr("{}") + vs));
    assertThat(send(client, get("http://payments/charges/42"), 20)).containsOnlyKeys("v1a", "v1b");
    HttpRequest jason = HttpRequest.newBuilder(URI.create("http://payments/charges/42")).header("End-User", "jason").build();
    assertThat(send(client, jason, 20)).as("header names compare case-insensitively").containsOnlyKeys("v2");
    assertThat(send(client, HttpRequest.newBuilder(URI.create("http://payments/refunds/7")).DELETE().build(), 5))
        .containsOnlyKeys("v2");

    assertThatThrownBy(() -> send(client, get("http://payments/refunds/7")))
        .isInstanceOf(MeshNoRouteException.class)
        .hasMessage("meshup: no route of service payments matches GET /refunds/7");
  }

  @Test
  void requestIsRewrittenToTheEndpointKeepingPathQueryHeadersAndBody() throws Exception {
    MeshHttpClient client = MeshHttp.client(mesh(dr("{}") + split(100, 0, "")));
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://payments/charges/42?currency=EUR&note=a%2Fb"))
        .header("end-user", "jason")
        .PUT(HttpRequest.BodyPublishers.ofString("amount=5"))
        .build();
    HttpResponse<String> r = send(client, req);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-seen-method")).hasValue("PUT");
    assertThat(r.headers().firstValue("x-seen-uri")).hasValue("/charges/42?currency=EUR&note=a%2Fb");
    assertThat(r.headers().firstValue("x-seen-body")).hasValue("amount=5");
    assertThat(r.request()).as("the caller's request is the one sent, rewritten").isNotSameAs(req);
    assertThat(r.uri().getPort()).isIn(v1a.port(), v1b.port());
  }

  @Test
  void uriMustNameAKnownService() throws Exception {
    MeshHttpClient client = MeshHttp.client(mesh(dr("{}") + split(100, 0, "")));
    // a port names the service port (match.port, portLevelSettings); the endpoint's port is the registry's
    assertThat(send(client, get("http://payments:8080/charges")).uri().getPort()).isNotEqualTo(8080);
    assertThatThrownBy(() -> send(client, get("https://payments/charges")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only http://<service>/... URIs are routed");
    assertThatThrownBy(() -> send(client, get("http://refunds/charges")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("service 'refunds' is not in the registry");
  }

  @Test
  void subsetWithoutEndpointsFailsFastNamingIt() {
    Mesh mesh = mesh(dr("{}") + split(100, 0, "").replace("subset: v1", "subset: v3"));
    assertThatThrownBy(() -> send(MeshHttp.client(mesh), get("http://payments/charges")))
        .isInstanceOfSatisfying(MeshUnavailableException.class, e -> {
          assertThat(e.getMessage()).isEqualTo("meshup: payments subset v3: no endpoint is registered (route split)");
          assertThat(e.rejection()).isEqualTo(Rejection.NO_ENDPOINTS);
          assertThat(e.subset()).isEqualTo("v3");
        });
  }

  // ---- circuit breaker --------------------------------------------------------------------

  @Test
  void breakerOpensFailsFastWithTheReasonAndClosesAgain() throws Exception {
    String policy = dr("{ circuitBreaker: { slidingWindowSize: 20, minimumNumberOfCalls: 10, failureRateThreshold: 50,"
        + " waitDurationInOpenState: 10s, permittedNumberOfCallsInHalfOpenState: 3 }, outlierDetection: { consecutive5xxErrors: 0 } }")
        + split(0, 100, "");
    Mesh mesh = mesh(Mesh.builder().service("checkout").clock(clock), policy, servers.endpoints());
    MeshHttpClient client = MeshHttp.client(mesh);
    HttpRequest req = get("http://payments/charges/42");
    v2.failWith.set(500);
    for (int i = 0; i < 10; i++) {
      assertThat(send(client, req).statusCode()).isEqualTo(500);
    }
    int reached = v2.calls.get();
    assertThatThrownBy(() -> send(client, req))
        .isInstanceOfSatisfying(MeshUnavailableException.class, e -> {
          assertThat(e.getMessage()).isEqualTo("meshup: payments subset v2: circuit breaker is open (route split)");
          assertThat(e.service()).isEqualTo("payments");
          assertThat(e.subset()).isEqualTo("v2");
          assertThat(e.route()).isEqualTo("split");
          assertThat(e.rejection()).isEqualTo(Rejection.CIRCUIT_OPEN);
        });
    assertThat(v2.calls.get()).as("failing fast: the server is not called").isEqualTo(reached);
    assertThat(count(mesh, "mesh.client.rejections", "subset", "v2", "reason", "circuit_open")).isEqualTo(1);

    v2.failWith.set(0);
    clock.advance(Duration.ofSeconds(10));
    assertThatThrownBy(() -> send(client, req)).as("still open at the end of the wait")
        .hasMessageContaining("circuit breaker is open");
    clock.advance(Duration.ofMillis(1));
    send(client, req, 3);
    assertThat(mesh.meterRegistry().get("mesh.circuitbreaker.state").tags("subset", "v2", "state", "closed").gauge().value())
        .isEqualTo(1);
    assertThat(send(client, req, 20)).containsOnlyKeys("v2");
  }

  // ---- retries ----------------------------------------------------------------------------

  static final String RETRY_5XX = "retries: { attempts: 2, retryOn: 5xx }";

  @Test
  void getThatGot503IsRetriedOnTheOtherEndpoint() throws Exception {
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, RETRY_5XX));
    MeshHttpClient client = MeshHttp.client(mesh);
    v1a.failWith.set(503);
    for (int i = 0; i < 10 && v1a.calls.get() == 0; i++) {
      HttpResponse<String> r = send(client, get("http://payments/charges/42"));
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("v1b");
    }
    assertThat(v1a.calls.get()).as("round robin reached the failing endpoint").isEqualTo(1);
    assertThat(count(mesh, "mesh.client.retries", "service", "payments", "result", "granted")).isEqualTo(1);
    assertThat(count(mesh, "mesh.client.attempts", "outcome", "failure")).isEqualTo(1);
    assertThat(count(mesh, "mesh.client.requests", "outcome", "failure")).as("the logical calls all succeeded").isZero();
  }

  @Test
  void eachRetryGoesToTheOtherEndpointUpToTheAttempts() throws Exception {
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, RETRY_5XX));
    MeshHttpClient client = MeshHttp.client(mesh);
    v1a.failNext.set(1);
    v1b.failNext.set(1);
    assertThat(send(client, get("http://payments/charges/42")).body()).isIn("v1a", "v1b");
    assertThat(v1a.calls.get() + v1b.calls.get()).as("503, 503 elsewhere, then 200").isEqualTo(3);

    v1a.failWith.set(503);
    v1b.failWith.set(503);
    HttpResponse<String> last = send(client, get("http://payments/charges/42"));
    assertThat(last.statusCode()).as("the last try's response is returned").isEqualTo(503);
    assertThat(last.body()).isIn("v1a", "v1b");
    assertThat(v1a.calls.get() + v1b.calls.get()).as("first try + 2 retries").isEqualTo(6);
  }

  @Test
  void postThatGot503IsNotRetried() throws Exception {
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, RETRY_5XX));
    MeshHttpClient client = MeshHttp.client(mesh);
    v1a.failWith.set(503);
    HttpResponse<String> r = null;
    for (int i = 0; i < 10 && v1a.calls.get() == 0; i++) {
      r = send(client, post("http://payments/charges", "amount=5"));
    }
    assertThat(v1a.calls.get()).isEqualTo(1);
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).as("the caller gets the server's answer").isEqualTo("v1a");
    assertThat(count(mesh, "mesh.client.retries", "service", "payments", "result", "granted")).isZero();
  }

  @Test
  void postToADeadPortIsReplayedOnAnotherEndpoint() throws Exception {
    List<Endpoint> eps = List.of(new Endpoint("dead", "127.0.0.1", TestServers.deadPort(), Map.of("version", "v1"), 1),
        v1a.endpoint());
    Mesh mesh = mesh(Mesh.builder().service("checkout"), PREDICTABLE + split(100, 0, ""), eps);
    MeshHttpClient client = MeshHttp.client(mesh);
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> r = send(client, post("http://payments/charges", "amount=" + i));
      assertThat(r.body()).isEqualTo("v1a");
      assertThat(r.headers().firstValue("x-seen-body")).hasValue("amount=" + i);
    }
    assertThat(v1a.calls.get()).isEqualTo(10);
    assertThat(count(mesh, "mesh.client.attempts", "outcome", "failure")).as("the dead endpoint was tried").isPositive();
    assertThat(count(mesh, "mesh.client.retries", "service", "payments", "result", "granted"))
        .as("replays of requests that never connected take nothing from the budget").isZero();
  }

  @Test
  void requestThatCannotConnectAnywhereFailsAfterItsReplays() throws Exception {
    int dead = TestServers.deadPort();
    Mesh mesh = mesh(Mesh.builder().service("checkout"), PREDICTABLE + split(100, 0, ""),
        List.of(new Endpoint("dead", "127.0.0.1", dead, Map.of("version", "v1"), 1)));
    assertThatThrownBy(() -> send(MeshHttp.client(mesh), post("http://payments/charges", "amount=5")))
        .isInstanceOf(ConnectException.class)
        .hasMessageStartingWith("meshup: payments subset v1: could not connect to 127.0.0.1:" + dead)
        .hasMessageEndingWith("5 tries)");
    assertThat(count(mesh, "mesh.client.attempts", "outcome", "failure")).as("the first try and 4 replays").isEqualTo(5);
    assertThat(count(mesh, "mesh.client.requests", "outcome", "failure")).as("one logical call").isEqualTo(1);
  }

  @Test
  void retriesStopAtTheBudget() throws Exception {
    Mesh.Builder b = Mesh.builder().clock(clock).yaml("""
        mesh:
          service: checkout
          defaults:
            retryBudget: { percentCanRetry: 0, minRetriesPerSecond: 0.1, ttl: 10s }
        """);
    Mesh mesh = mesh(b, PREDICTABLE + split(100, 0, "retries: { attempts: 3, retryOn: gateway-error }"), servers.endpoints());
    MeshHttpClient client = MeshHttp.client(mesh);
    v1a.failWith.set(503);
    v1b.failWith.set(503);
    assertThat(send(client, get("http://payments/charges/42")).statusCode()).isEqualTo(503);
    assertThat(v1a.calls.get() + v1b.calls.get()).as("one retry fits the budget (1 per 10 s), the second does not").isEqualTo(2);
    assertThat(send(client, get("http://payments/charges/42")).statusCode()).isEqualTo(503);
    assertThat(v1a.calls.get() + v1b.calls.get()).isEqualTo(3);
    assertThat(count(mesh, "mesh.client.retries", "service", "payments", "result", "granted")).isEqualTo(1);
    assertThat(count(mesh, "mesh.client.retries", "service", "payments", "result", "over_budget")).isEqualTo(2);
  }

  // ---- timeouts ---------------------------------------------------------------------------

  @Test
  void perTryTimeoutMovesTheRetryElsewhere() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    v1a.hold.set(hold);
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, "retries: { attempts: 2, perTryTimeout: 200ms, retryOn: gateway-error }"));
    MeshHttpClient client = MeshHttp.client(mesh);
    for (int i = 0; i < 10 && v1a.calls.get() == 0; i++) {
      HttpResponse<String> r = send(client, get("http://payments/charges/42"));
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("v1b");
    }
    assertThat(v1a.calls.get()).isEqualTo(1);
    assertThat(count(mesh, "mesh.client.attempts", "outcome", "timeout")).isEqualTo(1);
    assertThat(count(mesh, "mesh.client.retries", "service", "payments", "result", "granted")).isEqualTo(1);
    hold.countDown();
  }

  @Test
  void perTryTimeoutOfAPostIsNotRetried() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    v1a.hold.set(hold);
    v1b.hold.set(hold);
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, "retries: { attempts: 2, perTryTimeout: 200ms, retryOn: gateway-error }"));
    assertThatThrownBy(() -> send(MeshHttp.client(mesh), post("http://payments/charges", "amount=5")))
        .isInstanceOf(HttpTimeoutException.class)
        .hasMessageMatching("meshup: payments subset v1: attempt 1 on 127\\.0\\.0\\.1:\\d+ timed out after 200 ms \\(perTryTimeout of route split\\)");
    assertThat(v1a.calls.get() + v1b.calls.get()).isEqualTo(1);
    hold.countDown();
  }

  @Test
  void routeTimeoutEndsTheRequestUnlessTheRequestsOwnIsEarlier() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    v1a.hold.set(hold);
    v1b.hold.set(hold);
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, "timeout: 300ms"));
    MeshHttpClient client = MeshHttp.client(mesh);
    assertThatThrownBy(() -> send(client, get("http://payments/charges/42")))
        .isInstanceOf(HttpTimeoutException.class)
        .hasMessage("meshup: payments subset v1: deadline exceeded after 300 ms (the timeout of route split; 1 attempt)");

    Mesh patient = mesh(PREDICTABLE + split(100, 0, "timeout: 60s"));
    HttpRequest hurried = HttpRequest.newBuilder(URI.create("http://payments/charges/42")).timeout(Duration.ofMillis(100)).build();
    assertThatThrownBy(() -> send(MeshHttp.client(patient), hurried))
        .isInstanceOf(HttpTimeoutException.class)
        .hasMessage("meshup: payments subset v1: deadline exceeded after 100 ms (the caller's deadline; 1 attempt)");
    await().untilAsserted(() -> {
      assertThat(count(mesh, "mesh.client.requests", "outcome", "timeout")).isEqualTo(1);
      assertThat(count(patient, "mesh.client.requests", "outcome", "timeout")).isEqualTo(1);
    });
    hold.countDown();
  }

  @Test
  void routeTimeoutAlsoEndsAStalledBody() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    v1a.holdBody.set(hold);
    v1b.holdBody.set(hold);
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, "timeout: 300ms"));
    assertThatThrownBy(() -> send(MeshHttp.client(mesh), get("http://payments/charges/42")))
        .isInstanceOf(HttpTimeoutException.class)
        .hasMessage("meshup: payments subset v1: deadline exceeded after 300 ms (the timeout of route split; 1 attempt)");
    await().untilAsserted(() -> assertThat(count(mesh, "mesh.client.requests", "outcome", "timeout")).isEqualTo(1));
    hold.countDown();
  }

  // ---- outcomes and metrics ---------------------------------------------------------------

  @Test
  void everyAttemptIsCountedByOutcome() throws Exception {
    Mesh mesh = mesh(PREDICTABLE + split(0, 100, ""));
    MeshHttpClient client = MeshHttp.client(mesh);
    HttpRequest req = get("http://payments/charges/42");
    for (int status : new int[] {200, 302, 404, 409, 429, 500, 503}) {
      v2.failWith.set(status);
      assertThat(send(client, req).statusCode()).isEqualTo(status);
    }
    String[] base = {"service", "payments", "route", "split", "subset", "v2", "outcome"};
    assertThat(count(mesh, "mesh.client.requests", with(base, "success"))).isEqualTo(2);
    assertThat(count(mesh, "mesh.client.requests", with(base, "client_error"))).isEqualTo(2);
    assertThat(count(mesh, "mesh.client.requests", with(base, "overload"))).isEqualTo(1);
    assertThat(count(mesh, "mesh.client.requests", with(base, "failure"))).isEqualTo(2);
  }

  private static String[] with(String[] tags, String last) {
    String[] out = java.util.Arrays.copyOf(tags, tags.length + 1);
    out[tags.length] = last;
    return out;
  }

  // ---- fault injection --------------------------------------------------------------------

  @Test
  void injectedAbortAnswersWithTheStatusWithoutSending() throws Exception {
    Mesh mesh = mesh(dr("{}") + split(100, 0, "fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }"));
    HttpResponse<String> r = send(MeshHttp.client(mesh), get("http://payments/charges/42"));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("meshup: fault injected by route split");
    assertThat(r.headers().firstValue("x-meshup-fault")).hasValue("abort");
    assertThat(v1a.calls.get() + v1b.calls.get()).isZero();
  }

  @Test
  void injectedGrpcAbortAnswersWithTheMatchingHttpStatus() throws Exception {
    Mesh mesh = mesh(dr("{}") + split(100, 0, "fault: { abort: { grpcStatus: RESOURCE_EXHAUSTED, percentage: { value: 100 } } }"));
    assertThat(send(MeshHttp.client(mesh), get("http://payments/charges/42")).statusCode()).isEqualTo(429);
  }

  @Test
  void injectedDelayStillSends() throws Exception {
    Mesh mesh = mesh(dr("{}") + split(100, 0, "fault: { delay: { fixedDelay: 20ms, percentage: { value: 100 } } }"));
    assertThat(send(MeshHttp.client(mesh), get("http://payments/charges/42")).body()).isIn("v1a", "v1b");
  }

  @Test
  void usesTheHttpClientItIsGiven() throws Exception {
    java.util.concurrent.atomic.AtomicInteger tasks = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();
    closers.add(pool::shutdownNow);
    java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder()
        .executor(r -> {
          tasks.incrementAndGet();
          pool.execute(r);
        })
        .build();
    MeshHttpClient client = MeshHttp.client(mesh(dr("{}") + split(100, 0, "")), http);
    assertThat(send(client, get("http://payments/charges/42")).statusCode()).isEqualTo(200);
    assertThat(tasks.get()).isPositive();
  }
}
