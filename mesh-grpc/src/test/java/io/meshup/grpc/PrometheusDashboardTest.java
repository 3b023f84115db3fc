package io.meshup.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.testing.ControlledRegistry;
import io.meshup.core.testing.PrometheusServer;
import io.meshup.core.testing.PrometheusServer.Sample;
import io.meshup.core.testing.security.FixedCredentials;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The Grafana dashboard and the Prometheus alerting rules in {@code monitoring/}, against a real
 * Prometheus scraping the admin endpoints of a mesh under traffic over real gRPC servers with
 * mutual TLS: every expression of both files is run through Prometheus's HTTP API and its result
 * compared with what the test sent (rates within 10 %, quantiles within a bucket of the test's own
 * measurements, the breaker the test opened open, the policy it got rejected rejected, the registry
 * failure it caused counted, the certificate's time left). The dashboard's JSON is checked against
 * Grafana's dashboard model, and its queries must be exactly the ones run here.
 */
class PrometheusDashboardTest {
  static final Path ROOT = PrometheusServer.repositoryRoot();
  static final Path DASHBOARD = ROOT.resolve("monitoring/grafana/meshup-dashboard.json");
  static final Path RULES = ROOT.resolve("monitoring/prometheus/meshup-alerts.yml");
  static final MethodDescriptor<SimpleRequest, SimpleResponse> METHOD =
      SimpleServiceGrpc.getUnaryRpcMethod().toBuilder().setIdempotent(true).build();
  /** What the test puts for Grafana's variables (the window it checks rates over, the range, every service). */
  static final int WINDOW_SECONDS = 10;
  static final Map<String, String> GRAFANA_VARIABLES = Map.of("$__rate_interval", WINDOW_SECONDS + "s",
      "$__range", "5m", "$service", ".*");
  static final int MAIN_PER_SECOND = 40;
  static final int CANARY_PER_SECOND = 10;
  static final long SERVER_DELAY_MILLIS = 20;

  static final String POLICY = """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: payments }
      spec:
        host: payments
        trafficPolicy:
          circuitBreaker: { slidingWindowSize: 10, minimumNumberOfCalls: 10, failureRateThreshold: 50, waitDurationInOpenState: 1h }
          outlierDetection: { consecutive5xxErrors: 3, baseEjectionTime: 5m, maxEjectionPercent: 50 }
        subsets:
          - { name: v1, labels: { version: v1 } }
          - { name: v2, labels: { version: v2 } }
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: payments }
      spec:
        hosts: [payments]
        http:
          - name: canary
            match: [{ headers: { x-canary: { exact: "true" } } }]
            route: [{ destination: { host: payments, subset: v2 } }]
          - name: main
            route: [{ destination: { host: payments, subset: v1 } }]
      """;

  /** A document of another source that adds no destination (the dashboard shows payments alone). */
  static final String OPS = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: no-admin }
      spec: { action: DENY, rules: [{ to: [{ operation: { paths: ["/admin"] } }] }] }
      """;

  final DevCertificateAuthority ca = DevCertificateAuthority.create("prometheus.test");
  final List<AutoCloseable> closers = new ArrayList<>();
  final ScheduledExecutorService load = Executors.newScheduledThreadPool(2);
  /** Every call the test made: when it ended (wall clock), its route, whether it succeeded, how long it took. */
  final ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();

  record Sent(long endMillis, String route, Status.Code code, long nanos) {}

  @AfterEach
  void close() throws Exception {
    load.shutdownNow();
    load.awaitTermination(10, TimeUnit.SECONDS);
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  <T extends AutoCloseable> T closing(T t) {
    closers.add(t);
    return t;
  }

  @Test
  void everyDashboardAndAlertQueryReturnsWhatTheTestSent() throws Exception {
    Dashboard dashboard = Dashboard.read(DASHBOARD);
    List<Rule> rules = Rule.read(RULES);

    // payments: v1 on two servers, answering after 20 ms; v2 on one, failing every call
    Mesh payments = closing(Mesh.builder().service("payments").certificates(ca.source("payments"))
        .adminAddress(new InetSocketAddress("127.0.0.1", 0)).build());
    List<Endpoint> endpoints = new ArrayList<>();
    for (String version : new String[] {"v1", "v1", "v2"}) {
      Server s = MeshServers.forAddress(payments, new InetSocketAddress("127.0.0.1", 0), MtlsMode.STRICT)
          .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
            @Override
            public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
              if (version.equals("v2")) {
                out.onError(Status.UNAVAILABLE.withDescription("v2 is broken").asRuntimeException());
                return;
              }
              load.schedule(() -> {
                out.onNext(SimpleResponse.getDefaultInstance());
                out.onCompleted();
              }, SERVER_DELAY_MILLIS, TimeUnit.MILLISECONDS);
            }
          }).build().start();
      closers.add(() -> s.shutdownNow().awaitTermination());
      endpoints.add(Endpoint.of("127.0.0.1", s.getPort(), Map.of("version", version)));
    }

    // checkout: a certificate with 5 minutes left, a registry whose payments watch the test breaks
    Credentials expiring = ca.issue(ca.identity("checkout"), Instant.now().minusSeconds(60), Instant.now().plusSeconds(300));
    ControlledRegistry registry = new ControlledRegistry();
    registry.answerOnWatch("payments", endpoints);
    Mesh checkout = closing(Mesh.builder().service("checkout").certificates(new FixedCredentials(expiring))
        .registry(registry).adminAddress(new InetSocketAddress("127.0.0.1", 0)).policies("inline", POLICY).build());
    checkout.updatePolicies("ops", OPS); // ops is a source with both its series before Prometheus looks
    ManagedChannel channel = MeshChannels.forService(checkout, "payments");
    closers.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    Metadata canaryHeader = new Metadata();
    canaryHeader.put(Metadata.Key.of("x-canary", Metadata.ASCII_STRING_MARSHALLER), "true");
    io.grpc.Channel canary = io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(canaryHeader));
    ClientCalls.blockingUnaryCall(channel, METHOD, CallOptions.DEFAULT, SimpleRequest.getDefaultInstance()); // warm

    Map<String, InetSocketAddress> jobs = new LinkedHashMap<>();
    jobs.put("checkout", checkout.adminAddress().orElseThrow());
    jobs.put("payments", payments.adminAddress().orElseThrow());
    PrometheusServer prometheus = closing(PrometheusServer.start(jobs, Duration.ofSeconds(1), List.of(RULES)));
    promtool(prometheus, "check", "rules", RULES.toString());
    prometheus.awaitScrapes(2, Duration.ofSeconds(60));

    // what the dashboard must show: v2 fails until its breaker opens; a policy is rejected; the registry fails
    for (int i = 0; i < 10; i++) {
      assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(canary, METHOD, CallOptions.DEFAULT, SimpleRequest.getDefaultInstance()))
          .hasMessageContaining("UNAVAILABLE");
    }
    assertThat(checkout.snapshot().destination("payments").orElseThrow().subsets().get(2).breaker()).isEqualTo("open");
    assertThatThrownBy(() -> checkout.updatePolicies("ops", OPS.replace("action: DENY,", "action: DENY, bogus: 1,")))
        .isInstanceOf(MeshConfigException.class).hasMessageContaining("bogus");
    registry.fail("payments", new IOException("connection refused")); // the last endpoints keep serving

    // steady traffic: 40 calls/s on route main, 10/s on route canary (all refused: the breaker is open)
    long startMillis = System.currentTimeMillis();
    every(MAIN_PER_SECOND, () -> send(channel, "main"));
    every(CANARY_PER_SECOND, () -> send(canary, "canary"));
    // the window full of steady traffic, and two scrapes more
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
        .until(() -> System.currentTimeMillis() - startMillis >= (WINDOW_SECONDS + 2) * 1000L);
    prometheus.awaitScrapes(WINDOW_SECONDS + 4, Duration.ofSeconds(90));

    Checks checks = new Checks(prometheus, expiring);
    Set<String> ran = new HashSet<>();
    for (Dashboard.Query q : dashboard.queries()) {
      checks.run(q.panel() + " " + q.refId(), q.expr());
      ran.add(q.panel() + " " + q.refId());
    }
    assertThat(ran).as("every panel's query is one of those checked").isEqualTo(checks.dashboardChecks());
    for (Rule r : rules) {
      checks.run(r.alert(), r.expr());
    }
    assertThat(rules).extracting(Rule::alert).containsExactlyInAnyOrderElementsOf(checks.ruleChecks());

    // the rules load, and those without a waiting time fire
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> groups = (List<Map<String, Object>>) ((Map<String, Object>) prometheus.api("/api/v1/rules")).get("groups");
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> loaded = (List<Map<String, Object>>) groups.get(0).get("rules");
    assertThat(loaded).extracting(r -> r.get("name")).containsExactlyElementsOf(rules.stream().map(Rule::alert).toList());
    assertThat(loaded).allSatisfy(r -> assertThat(r.get("health")).as("%s", r).isEqualTo("ok"));
    assertThat(loaded).filteredOn(r -> r.get("name").equals("MeshCertificateExpiring") || r.get("name").equals("MeshPolicyRejected"))
        .allSatisfy(r -> assertThat(r.get("state")).as("%s", r.get("name")).isEqualTo("firing"));
    assertThat(loaded).filteredOn(r -> r.get("name").equals("MeshCircuitBreakerOpen") || r.get("name").equals("MeshRegistryUnreachable")
        || r.get("name").equals("MeshSuccessRateBelowSLO"))
        .allSatisfy(r -> assertThat(r.get("state")).as("%s: pending through its 'for'", r.get("name")).isIn("pending", "firing"));
  }

  // ---- traffic ---------------------------------------------------------------------------------

  void every(int perSecond, Runnable r) {
    long period = TimeUnit.SECONDS.toNanos(1) / perSecond;
    load.scheduleAtFixedRate(r, 0, period, TimeUnit.NANOSECONDS);
  }

  void send(io.grpc.Channel ch, String route) {
    long start = System.nanoTime();
    ClientCalls.asyncUnaryCall(ch.newCall(METHOD, CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS)),
        SimpleRequest.getDefaultInstance(), new StreamObserver<>() {
          @Override
          public void onNext(SimpleResponse value) {}

          @Override
          public void onError(Throwable t) {
            sent.add(new Sent(System.currentTimeMillis(), route, Status.fromThrowable(t).getCode(), System.nanoTime() - start));
          }

          @Override
          public void onCompleted() {
            sent.add(new Sent(System.currentTimeMillis(), route, Status.Code.OK, System.nanoTime() - start));
          }
        });
  }

  /** The calls the test sent that ended in the {@link #WINDOW_SECONDS} before {@code nowMillis}. */
  List<Sent> window(long nowMillis) {
    return sent.stream().filter(s -> s.endMillis() > nowMillis - WINDOW_SECONDS * 1000L && s.endMillis() <= nowMillis).toList();
  }

  // ---- what each expression must return ----------------------------------------------------------

  /** The expected result of every expression, by panel title and refId, or by alert name. */
  final class Checks {
    final PrometheusServer prometheus;
    final Credentials certificate;
    final Map<String, BiConsumer<List<Sample>, List<Sent>>> dashboard = new LinkedHashMap<>();
    final Map<String, BiConsumer<List<Sample>, List<Sent>>> rules = new LinkedHashMap<>();

    Checks(PrometheusServer prometheus, Credentials certificate) {
      this.prometheus = prometheus;
      this.certificate = certificate;
      dashboard.put("Request rate by route and subset A", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("route") + "/" + s.labels().get("subset"))
            .containsExactlyInAnyOrder("main/v1", "canary/v2");
        assertThat(value(r, "route", "main")).as("route main, calls/s").isCloseTo(rate(w, "main", null), within(0.1 * MAIN_PER_SECOND));
        assertThat(value(r, "route", "canary")).as("route canary: every call refused, none timed").isZero();
      });
      dashboard.put("Success rate A", (r, w) -> {
        double expected = (double) w.stream().filter(s -> s.code() == Status.Code.OK).count() / w.size();
        assertThat(only(r, "service", "payments")).isCloseTo(expected, within(0.1 * expected));
      });
      for (String[] q : new String[][] {{"A", "0.5"}, {"B", "0.9"}, {"C", "0.99"}}) {
        dashboard.put("Latency p50 / p90 / p99 by route and subset " + q[0], (r, w) -> {
          assertThat(value(r, "route", "main")).as("p%s of route main", q[1])
              .satisfies(v -> inBucketOf(v, quantile(w, "main", Double.parseDouble(q[1]))));
          assertThat(value(r, "route", "canary")).as("no call of route canary was timed").isNaN();
        });
      }
      dashboard.put("Attempt latency p99 by subset A", (r, w) -> {
        assertThat(value(r, "subset", "v1")).satisfies(v -> inBucketOf(v, quantile(w, "main", 0.99)));
        assertThat(value(r, "subset", "v2")).as("no attempt on v2 in the window").isNaN();
      });
      dashboard.put("Attempts per call A", (r, w) ->
          assertThat(only(r, "service", "payments")).as("no retry, no replay").isCloseTo(1.0, within(0.01)));
      dashboard.put("Retries and retry budget A", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("result")).containsExactlyInAnyOrder("granted", "over_budget");
        assertThat(r).allSatisfy(s -> assertThat(s.value()).isZero());
      });
      dashboard.put("Rejected calls A", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("subset") + "/" + s.labels().get("reason")).containsExactlyInAnyOrder(
            "v1/circuit_open", "v1/overflow", "v1/no_endpoints", "v2/circuit_open", "v2/overflow", "v2/no_endpoints");
        for (Sample s : r) {
          double expected = s.labels().get("subset").equals("v2") && s.labels().get("reason").equals("circuit_open")
              ? rate(w, "canary", Status.Code.UNAVAILABLE) : 0;
          assertThat(s.value()).as("%s", s.labels()).isCloseTo(expected, within(0.1 * CANARY_PER_SECOND));
        }
      });
      dashboard.put("Circuit breakers A", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("subset") + ": " + s.labels().get("state"))
            .containsExactlyInAnyOrder("all: closed", "v1: closed", "v2: open");
        assertThat(r).allSatisfy(s -> assertThat(s.value()).isEqualTo(1));
      });
      dashboard.put("Ejected endpoints A", (r, w) -> {
        assertThat(value(r, "subset", "v2")).as("v2's one endpoint").isEqualTo(1);
        assertThat(value(r, "subset", "v1")).isZero();
        assertThat(value(r, "subset", "all")).isEqualTo(1);
      });
      dashboard.put("Ejected endpoints B", (r, w) -> {
        assertThat(value(r, "subset", "v2")).as("one ejection").isCloseTo(1, within(0.1));
        assertThat(value(r, "subset", "v1")).isZero();
      });
      dashboard.put("Policy updates A", (r, w) -> {
        assertThat(value(r, "source", "ops", "result", "rejected")).as("the rejected update").isCloseTo(1, within(0.1));
        assertThat(value(r, "source", "ops", "result", "accepted")).isZero();
        assertThat(value(r, "source", "inline", "result", "rejected")).isZero();
      });
      dashboard.put("Certificate expiry A", (r, w) -> {
        assertThat(value(r, "service", "checkout")).isCloseTo(secondsLeft(certificate), within(5.0));
        assertThat(value(r, "service", "payments")).as("a fresh development leaf").isGreaterThan(3000);
      });
      dashboard.put("Registry errors A", (r, w) ->
          assertThat(only(r, "service", "payments")).as("the one failure").isCloseTo(1, within(0.1)));
      dashboard.put("Inbound request rate by caller and status A", (r, w) -> {
        assertThat(value(r, "job", "payments", "caller", "checkout", "status", "OK"))
            .isCloseTo(rate(w, "main", Status.Code.OK), within(0.1 * MAIN_PER_SECOND));
        assertThat(r).filteredOn(s -> !s.labels().get("status").equals("OK"))
            .allSatisfy(s -> assertThat(s.value()).as("%s", s.labels()).isZero());
      });
      dashboard.put("Inbound latency p99 A", (r, w) -> assertThat(only(r, "job", "payments"))
          .as("the servers' own time: the 20 ms delay, within what the caller saw")
          .isBetween(SERVER_DELAY_MILLIS / 1e3 / 2, bucketAbove(quantile(w, "main", 0.99))));

      rules.put("MeshSuccessRateBelowSLO", (r, w) -> {
        // the 5 m window holds everything since Prometheus's first scrape: the 10 failed calls too
        double expected = (double) sent.stream().filter(s -> s.code() == Status.Code.OK).count() / (sent.size() + 10);
        assertThat(only(r, "service", "payments")).isCloseTo(expected, within(0.05));
      });
      rules.put("MeshCircuitBreakerOpen", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("subset")).containsExactly("v2");
        assertThat(r.get(0).value()).isEqualTo(1);
      });
      rules.put("MeshCertificateExpiring", (r, w) -> assertThat(only(r, "service", "checkout"))
          .isCloseTo(secondsLeft(certificate), within(5.0)));
      rules.put("MeshPolicyRejected", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("source")).containsExactly("ops");
        assertThat(r.get(0).value()).isCloseTo(1, within(0.1));
      });
      rules.put("MeshRegistryUnreachable", (r, w) -> {
        assertThat(r).extracting(s -> s.labels().get("service")).containsExactly("payments");
        assertThat(r.get(0).value()).isCloseTo(1, within(0.1));
      });
    }

    Set<String> dashboardChecks() {
      return dashboard.keySet();
    }

    Set<String> ruleChecks() {
      return rules.keySet();
    }

    void run(String name, String expr) {
      BiConsumer<List<Sample>, List<Sent>> check = dashboard.containsKey(name) ? dashboard.get(name) : rules.get(name);
      assertThat(check).as("a check for '%s'", name).isNotNull();
      String promql = expr;
      for (Map.Entry<String, String> v : GRAFANA_VARIABLES.entrySet()) {
        promql = promql.replace(v.getKey(), v.getValue());
      }
      long now = System.currentTimeMillis();
      List<Sample> result = prometheus.query(promql);
      List<Sent> window = window(now);
      assertThat(result).as("%s returns data: %s", name, promql).isNotEmpty();
      try {
        check.accept(result, window);
      } catch (AssertionError e) {
        throw new AssertionError(name + ": " + promql + " = " + result + ": " + e.getMessage(), e);
      }
    }
  }

  static double rate(List<Sent> window, String route, Status.Code code) {
    return window.stream().filter(s -> s.route().equals(route) && (code == null || s.code() == code)).count()
        / (double) WINDOW_SECONDS;
  }

  static double quantile(List<Sent> window, String route, double q) {
    long[] nanos = window.stream().filter(s -> s.route().equals(route)).mapToLong(Sent::nanos).sorted().toArray();
    assertThat(nanos).isNotEmpty();
    return nanos[(int) Math.min(nanos.length - 1, Math.ceil(q * nanos.length) - 1)] / 1e9;
  }

  /** Passes when {@code v} lies in the histogram bucket of {@code measured}, or the one next to it. */
  static void inBucketOf(double v, double measured) {
    double[] b = bounds();
    int i = 0;
    while (i < b.length && measured > b[i]) {
      i++;
    }
    double low = i >= 2 ? b[i - 2] : 0;
    double high = i + 1 < b.length ? b[i + 1] : Double.MAX_VALUE;
    assertThat(v).as("the histogram's estimate, the test measured %.4f s", measured).isBetween(low, high);
  }

  /** The upper bound of the bucket after {@code measured}'s. */
  static double bucketAbove(double measured) {
    double[] b = bounds();
    for (int i = 0; i < b.length; i++) {
      if (measured <= b[i]) {
        return i + 1 < b.length ? b[i + 1] : Double.MAX_VALUE;
      }
    }
    return Double.MAX_VALUE;
  }

  static double[] bounds() {
    return java.util.Arrays.stream(Metrics.LATENCY_BUCKETS).mapToDouble(d -> d.toNanos() / 1e9).toArray();
  }

  static double secondsLeft(Credentials c) {
    return (c.leaf().getNotAfter().getTime() - System.currentTimeMillis()) / 1000.0;
  }

  static double only(List<Sample> r, String label, String value) {
    assertThat(r).extracting(s -> s.labels().get(label)).containsExactly(value);
    return r.get(0).value();
  }

  static double value(List<Sample> r, String... labels) {
    List<Sample> match = r.stream().filter(s -> {
      for (int i = 0; i < labels.length; i += 2) {
        if (!labels[i + 1].equals(s.labels().get(labels[i]))) {
          return false;
        }
      }
      return true;
    }).toList();
    assertThat(match).as("one series with %s in %s", List.of(labels), r).hasSize(1);
    return match.get(0).value();
  }

  static void promtool(PrometheusServer p, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(p.promtool().toString()));
    cmd.addAll(List.of(args));
    Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(proc.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(proc.exitValue()).as("promtool %s: %s", List.of(args), out).isZero();
  }

  // ---- the files ---------------------------------------------------------------------------------

  /** The dashboard JSON, checked against Grafana's dashboard model as it is read. */
  record Dashboard(List<Query> queries) {
    record Query(String panel, String refId, String expr) {}

    @SuppressWarnings("unchecked")
    static Dashboard read(Path file) throws IOException {
      Map<String, Object> d = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file));
      assertThat(d).containsKeys("uid", "title", "schemaVersion", "panels", "templating", "time", "tags");
      assertThat((String) d.get("uid")).matches("[a-zA-Z0-9_-]{1,40}");
      assertThat((Integer) d.get("schemaVersion")).as("a schema current Grafana reads without migration").isBetween(36, 41);
      Map<String, Object> time = (Map<String, Object>) d.get("time");
      assertThat(time).containsKeys("from", "to");
      List<Map<String, Object>> variables = (List<Map<String, Object>>) ((Map<String, Object>) d.get("templating")).get("list");
      Map<String, Map<String, Object>> byName = new LinkedHashMap<>();
      for (Map<String, Object> v : variables) {
        assertThat(v).containsKeys("name", "type");
        assertThat((String) v.get("type")).isIn("datasource", "query", "custom", "constant", "interval", "textbox");
        byName.put((String) v.get("name"), v);
      }
      assertThat(byName.get("datasource")).containsEntry("type", "datasource").containsEntry("query", "prometheus");
      assertThat(byName.get("service")).containsEntry("type", "query").containsEntry("includeAll", true)
          .containsEntry("allValue", ".*");
      List<Query> queries = new ArrayList<>();
      Set<Object> ids = new HashSet<>();
      Set<String> titles = new HashSet<>();
      for (Map<String, Object> p : (List<Map<String, Object>>) d.get("panels")) {
        assertThat(p).containsKeys("id", "type", "title", "gridPos", "datasource", "targets");
        assertThat(ids.add(p.get("id"))).as("panel ids are unique").isTrue();
        assertThat(titles.add((String) p.get("title"))).as("panel titles are unique").isTrue();
        assertThat((String) p.get("type")).isIn("timeseries", "stat", "gauge", "table", "state-timeline", "bargauge");
        Map<String, Object> grid = (Map<String, Object>) p.get("gridPos");
        assertThat(grid).containsKeys("h", "w", "x", "y");
        assertThat((Integer) grid.get("x") + (Integer) grid.get("w")).as("within Grafana's 24 columns").isLessThanOrEqualTo(24);
        assertThat((Map<String, Object>) p.get("datasource")).containsEntry("type", "prometheus").containsEntry("uid", "${datasource}");
        Set<String> refs = new HashSet<>();
        List<Map<String, Object>> targets = (List<Map<String, Object>>) p.get("targets");
        assertThat(targets).isNotEmpty();
        for (Map<String, Object> t : targets) {
          assertThat(t).containsKeys("refId", "expr", "datasource");
          assertThat(refs.add((String) t.get("refId"))).as("refIds are unique in a panel").isTrue();
          queries.add(new Query((String) p.get("title"), (String) t.get("refId"), (String) t.get("expr")));
        }
      }
      return new Dashboard(queries);
    }
  }

  /** One alerting rule of the rules file. */
  record Rule(String alert, String expr) {
    @SuppressWarnings("unchecked")
    static List<Rule> read(Path file) throws IOException {
      Map<String, Object> d = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file));
      List<Rule> out = new ArrayList<>();
      for (Map<String, Object> g : (List<Map<String, Object>>) d.get("groups")) {
        for (Map<String, Object> r : (List<Map<String, Object>>) g.get("rules")) {
          out.add(new Rule((String) r.get("alert"), (String) r.get("expr")));
        }
      }
      return out;
    }
  }
}
