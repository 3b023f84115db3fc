package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.EngineCall;
import io.meshup.core.call.Protocol;
import io.meshup.core.route.HeaderEdits;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.testing.FakeScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The semantics table: each row quotes one sentence of Istio's documentation (the istio/api proto
 * comments, named per row) and checks it against MeshUp's routing, through the real {@link Mesh},
 * its routers and its call engine on a fake transport (nothing on the wire): matches, weights,
 * hosts and namespaces, retries, rewrites and headers, redirects, mirrors, faults, hashing
 * stability and locality. A row whose sentence MeshUp does not follow expects the refusal, with
 * its reason ({@link #refused}).
 *
 * <p>The workload is {@code productpage} in namespace {@code default} (labels {@code app:
 * productpage}, {@code version: v1}, locality {@code us-west/zone1}); the registry has
 * {@code reviews} (v1, v2, v3), {@code reviews.staging}, {@code ratings} (ten endpoints),
 * {@code details} (one endpoint per locality), {@code reviews.com} and {@code dev.reviews.com}.
 */
class IstioSemanticsTest {
  static final String VS = "istio/api networking/v1alpha3/virtual_service.proto, ";
  static final String DR = "istio/api networking/v1alpha3/destination_rule.proto, ";

  /** One row: the sentence, where it is, the policy, what is observed and what the sentence says it must be. */
  record Row(String source, String quote, String policy, Function<Mesh, String> observe, String expected) {
    @Override
    public String toString() {
      return source + ": \"" + (quote.length() > 90 ? quote.substring(0, 90) + "..." : quote) + "\"";
    }
  }

  /** The expectation of a row whose policy MeshUp refuses, with the reason the refusal must give. */
  static String refused(String reason) {
    return "refused: " + reason;
  }

  // ---- the fixture ------------------------------------------------------------------------------

  static final String REVIEWS_DR = """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: reviews }
      spec:
        host: reviews
        subsets:
          - { name: v1, labels: { version: v1 } }
          - { name: v2, labels: { version: v2 } }
          - { name: v3, labels: { version: v3 } }
      ---
      """;

  static Map<String, String> locality(String region, String zone) {
    return Map.of("version", "v1", "topology.kubernetes.io/region", region, "topology.kubernetes.io/zone", zone);
  }

  static Mesh mesh(String policy, FakeClock clock, String... without) {
    AtomicLong draws = new AtomicLong();
    Mesh.Builder b = Mesh.builder().service("productpage").namespace("default").clock(clock)
        .scheduler(new FakeScheduler(clock))
        .labels(Map.of("app", "productpage", "version", "v1", "topology.kubernetes.io/region", "us-west",
            "topology.kubernetes.io/zone", "zone1"))
        // every value of a cycle of draws once, so 100 picks over whole-percent weights split exactly
        .random((origin, bound) -> origin + Math.floorMod(draws.getAndIncrement() * 7919, bound - origin));
    int port = 9000;
    List<Endpoint> reviews = new ArrayList<>();
    for (String v : List.of("v1", "v2", "v3")) {
      reviews.add(new Endpoint("reviews-" + v, "127.0.0.1", port++, Map.of("version", v), 1));
    }
    b.endpoints("reviews", reviews);
    b.endpoints("reviews.staging", List.of(new Endpoint("staging-v1", "127.0.0.1", port++, Map.of("version", "v1"), 1)));
    List<Endpoint> ratings = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      if (!List.of(without).contains("e" + i)) {
        ratings.add(new Endpoint("e" + i, "127.0.0." + (i + 1), 9100, Map.of("version", "v1"), 1));
      }
    }
    b.endpoints("ratings", ratings);
    b.endpoints("details", List.of(
        new Endpoint("west-zone1", "127.0.0.1", port++, locality("us-west", "zone1"), 1),
        new Endpoint("west-zone2", "127.0.0.1", port++, locality("us-west", "zone2"), 1),
        new Endpoint("east-zone1", "127.0.0.1", port++, locality("us-east", "zone1"), 1),
        new Endpoint("eu-zone1", "127.0.0.1", port++, locality("eu-west", "zone1"), 1)));
    b.endpoints("reviews.com", List.of(new Endpoint("reviews-com", "127.0.0.1", port++, Map.of(), 1)));
    b.endpoints("dev.reviews.com", List.of(new Endpoint("dev-reviews-com", "127.0.0.1", port++, Map.of(), 1)));
    if (!policy.isBlank()) {
      b.policies("row.yaml", policy);
    }
    return b.build();
  }

  /** A request as a client sends it. */
  record Req(String service, String path, String method, Map<String, String> headers, String authority,
      String scheme, String query) implements RequestAttributes {
    @Override
    public String header(String name) {
      return headers.get(name);
    }

    Req header(String name, String value) {
      Map<String, String> h = new HashMap<>(headers);
      h.put(name, value);
      return new Req(service, path, method, h, authority, scheme, query);
    }

    Req method(String m) {
      return new Req(service, path, m, headers, authority, scheme, query);
    }

    Req authority(String a) {
      return new Req(service, path, method, headers, a, scheme, query);
    }

    Req scheme(String s) {
      return new Req(service, path, method, headers, authority, s, query);
    }

    Req query(String q) {
      return new Req(service, path, method, headers, authority, scheme, q);
    }
  }

  static Req get(String service, String path) {
    return new Req(service, path, "GET", Map.of(), service, "http", null);
  }

  /** One call through the mesh's call engine on a fake transport: records what the engine does. */
  static final class Call extends EngineCall {
    final Req req;
    final List<String> endpoints = new ArrayList<>();
    final List<String> mirrors = new ArrayList<>();
    CallFailure failure;
    boolean completed;

    Call(Mesh mesh, Req req) {
      super(mesh.callEngine(), mesh.router(req.service()), Protocol.HTTP);
      this.req = req;
    }

    Call start() {
      start(0, false, true, false);
      return this;
    }

    /** The current attempt answers {@code status}; returns whether the engine retries. */
    boolean answer(int status) {
      Verdict v = attemptResponded(attempt(), status);
      attemptClosed(attempt(), AttemptEnd.STATUS, status);
      return v == Verdict.RETRY;
    }

    @Override public String path() { return req.path(); }
    @Override public String method() { return req.method(); }
    @Override public String header(String n) { return req.header(n); }
    @Override public String authority() { return req.authority(); }
    @Override public String scheme() { return req.scheme(); }
    @Override public String query() { return req.query(); }
    @Override protected void startAttempt() { endpoints.add(endpoint().endpoint().id()); }
    @Override protected void cancelAttempt(CallFailure why) {}
    @Override protected void completeWithAttempt() { completed = true; }
    @Override protected void fail(CallFailure f) { failure = f; }
    @Override protected void mirror(ServiceRouter mirror) { mirrors.add(mirror.service()); }
  }

  // ---- what a row observes ----------------------------------------------------------------------

  /** The name of the route the request takes, or {@code none}. */
  static Function<Mesh, String> route(Req req) {
    return mesh -> {
      RouteTarget t = mesh.router(req.service()).select(req);
      return t == null ? "none" : t.route().name();
    };
  }

  /** Where the request goes: {@code host/subset} (the subset empty without one). */
  static Function<Mesh, String> target(Req req) {
    return mesh -> {
      RouteTarget t = mesh.router(req.service()).select(req);
      return t == null ? "none" : t.service() + "/" + (t.subset() == null ? "" : t.subset());
    };
  }

  /** The shares in % of 100 picks per {@code host/subset}. */
  static Function<Mesh, String> split(Req req) {
    return mesh -> {
      ServiceRouter r = mesh.router(req.service());
      Map<String, Integer> shares = new TreeMap<>();
      for (int i = 0; i < 100; i++) {
        RouteTarget t = r.select(req);
        shares.merge(t.service() + "/" + (t.subset() == null ? "" : t.subset()), 1, Integer::sum);
      }
      return shares.toString();
    };
  }

  /** Runs one call; what it did ({@code call.endpoints}, its failure, its mirrors) goes to {@code what}. */
  static Function<Mesh, String> call(Req req, Function<Call, String> what) {
    return mesh -> {
      Call c = new Call(mesh, req).start();
      String out = what.apply(c);
      if (!c.completed && c.failure == null && !c.endpoints.isEmpty()) {
        c.answer(200);
      }
      return out;
    };
  }

  /** The endpoint of the first attempt. */
  static Function<Mesh, String> endpoint(Req req) {
    return call(req, c -> c.endpoints.isEmpty() ? "none: " + c.failure.kind() : c.endpoints.get(0));
  }

  /** The path the attempt sends. */
  static Function<Mesh, String> path(Req req) {
    return call(req, Call::attemptPath);
  }

  /** The request (or response) header changes, in the order the engine applies them. */
  static Function<Mesh, String> headerEdits(Req req, boolean response) {
    return call(req, c -> {
      List<String> ops = new ArrayList<>();
      HeaderEdits e = new HeaderEdits() {
        @Override public void set(String n, String v) { ops.add("set " + n + "=" + v); }
        @Override public void add(String n, String v) { ops.add("add " + n + "=" + v); }
        @Override public void remove(String n) { ops.add("remove " + n); }
      };
      if (response) {
        c.editResponseHeaders(e);
      } else {
        c.editRequestHeaders(e);
      }
      return ops.toString();
    });
  }

  /** How the call ended without an endpoint's answer: kind, status and Location. */
  static Function<Mesh, String> answered(Req req) {
    return call(req, c -> c.failure == null ? "forwarded to " + c.endpoints
        : c.failure.kind() + " " + c.failure.abortHttpStatus() + (c.failure.location() == null ? "" : " " + c.failure.location()));
  }

  /** Attempts of a call every attempt of which answers {@code status}. */
  static Function<Mesh, String> attemptsAnswering(Req req, int status) {
    return attemptsAnswering(req, status, false);
  }

  static Function<Mesh, String> attemptsAnswering(Req req, int status, boolean perTry) {
    return mesh -> {
      Call c = new Call(mesh, req).start();
      while (c.answer(status) && c.endpoints.size() < 100) {
        ((FakeScheduler) mesh.scheduler()).advance(Duration.ofSeconds(1)); // the backoff
      }
      return c.endpoints.size() + " attempts" + (perTry ? ", per try " + c.attemptTimeoutNanos() / 1_000_000 + " ms" : "");
    };
  }

  /** The distinct endpoints {@code n} calls with the same request go to. */
  static Function<Mesh, String> endpointsOf(Req req, int n) {
    return mesh -> {
      TreeSet<String> seen = new TreeSet<>();
      for (int i = 0; i < n; i++) {
        seen.add(endpoint(req).apply(mesh));
      }
      return seen.size() == 1 ? "one endpoint" : seen.size() + " endpoints";
    };
  }

  /** Whether 200 keys (header {@code x-user}) each go to one endpoint, spread over most endpoints. */
  static Function<Mesh, String> stableKeys() {
    return mesh -> {
      Map<String, String> first = new HashMap<>();
      boolean stable = true;
      for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 200; k++) {
          String ep = endpoint(get("ratings", "/").header("x-user", "user-" + k)).apply(mesh);
          stable &= first.computeIfAbsent("user-" + k, x -> ep).equals(ep);
        }
      }
      return "stable " + stable + ", over " + (new TreeSet<>(first.values()).size() >= 8 ? "8 or more" : "fewer")
          + " endpoints";
    };
  }

  /**
   * With endpoint e9 of ten removed: whether only e9's keys went elsewhere, and whether at most
   * {@code percent} % of 1,000 keys moved in all.
   */
  static Function<Mesh, String> keysMovedByRemoval(String policy, int percent) {
    return mesh -> {
      Map<String, String> before = new HashMap<>();
      for (int k = 0; k < 1000; k++) {
        before.put("user-" + k, endpoint(get("ratings", "/").header("x-user", "user-" + k)).apply(mesh));
      }
      int moved = 0;
      int ofOthers = 0;
      try (Mesh nine = mesh(policy, new FakeClock(), "e9")) {
        for (int k = 0; k < 1000; k++) {
          String now = endpoint(get("ratings", "/").header("x-user", "user-" + k)).apply(nine);
          if (!now.equals(before.get("user-" + k))) {
            moved++;
            ofOthers += before.get("user-" + k).equals("e9") ? 0 : 1;
          }
        }
      }
      return "moved at most " + percent + " %: " + (moved * 100 <= percent * 1000) + " (" + moved + ", "
          + ofOthers + " of them not e9's)";
    };
  }

  /** The endpoints of {@code n} successive calls to details; those {@code failing} answer 503, the others 200. */
  static Function<Mesh, String> detailsSequence(int n, java.util.function.Predicate<String> failing) {
    return mesh -> {
      List<String> eps = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Call c = new Call(mesh, get("details", "/")).start();
        eps.add(c.endpoints.get(0));
        c.answer(failing.test(c.endpoints.get(0)) ? 503 : 200);
      }
      return String.join(",", eps);
    };
  }

  /** The share in % of 1,000 calls to details per endpoint, rounded to ten. */
  static Function<Mesh, String> detailsShares() {
    return mesh -> {
      Map<String, Integer> n = new TreeMap<>();
      for (int i = 0; i < 1000; i++) {
        n.merge(endpoint(get("details", "/")).apply(mesh), 1, Integer::sum);
      }
      Map<String, Long> shares = new TreeMap<>();
      n.forEach((k, v) -> shares.put(k, Math.round(v / 100.0) * 10));
      return shares.toString();
    };
  }

  // ---- the rows ---------------------------------------------------------------------------------

  static String vs(String host, String http) {
    return vs("", host, http);
  }

  /** A VirtualService named after its host, with {@code extra} spec lines and the given http routes (YAML flow). */
  static String vs(String extraMeta, String host, String http) {
    return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: "
        + host.replace('*', 'w').replace('.', '-') + extraMeta + " }\nspec:\n  hosts: [\"" + host + "\"]\n  http: " + http + "\n";
  }

  /** Where a document's namespace goes: {@code doc.replace(NAME, NAME_IN + "foo, name: ")}. */
  static final String NAME = "metadata: { name: ";
  static final String NAME_IN = "metadata: { namespace: ";

  static String dr(String host, String trafficPolicy) {
    return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: " + host + " }\nspec:\n  host: "
        + host + "\n  trafficPolicy: " + trafficPolicy + "\n";
  }

  static final String TO_V2 = "route: [{ destination: { host: reviews, subset: v2 } }]";
  static final String DEFAULT_V1 = "{ name: default, route: [{ destination: { host: reviews, subset: v1 } }] }";

  /** Reviews: a route {@code matched} with {@code match} to v2, then the default to v1. */
  static String matching(String match) {
    return REVIEWS_DR + vs("reviews", "[{ name: matched, match: " + match + ", " + TO_V2 + " }, " + DEFAULT_V1 + "]");
  }

  static final Req REVIEWS = get("reviews", "/");

  static List<Row> rows() {
    List<Row> rows = new ArrayList<>();
    String and = "All conditions inside a single match block have AND semantics";
    String or = "while the list of match blocks have OR semantics. The rule is matched if any one of the match blocks succeed.";
    String m1 = "[{ uri: { prefix: /ratings/v2/ }, headers: { end-user: { exact: jason } } }]";
    rows.add(new Row(VS + "HTTPRoute.match", and, matching(m1), route(get("reviews", "/ratings/v2/1")), "default"));
    rows.add(new Row(VS + "HTTPRoute.match", and, matching(m1),
        route(get("reviews", "/ratings/v2/1").header("end-user", "jason")), "matched"));
    String m2 = "[{ uri: { prefix: /wpcatalog } }, { uri: { prefix: /consumercatalog } }]";
    rows.add(new Row(VS + "HTTPRoute.match", or, matching(m2), route(get("reviews", "/consumercatalog/7")), "matched"));
    rows.add(new Row(VS + "HTTPRoute.match", or, matching(m2), route(get("reviews", "/catalog/7")), "default"));
    rows.add(new Row(VS + "VirtualService.http", "The first rule matching an incoming request is used.",
        REVIEWS_DR + vs("reviews", "[{ name: first, match: [{ uri: { prefix: /a } }], " + TO_V2 + " },"
            + " { name: second, match: [{ uri: { prefix: /a/b } }], " + TO_V2 + " }, " + DEFAULT_V1 + "]"),
        route(get("reviews", "/a/b/c")), "first"));
    String exact = "`exact: \"value\"` for exact string match";
    rows.add(new Row(VS + "HTTPMatchRequest.uri", exact, matching("[{ uri: { exact: /v1/getProductRatings } }]"),
        route(get("reviews", "/v1/getProductRatings")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.uri", exact, matching("[{ uri: { exact: /v1/getProductRatings } }]"),
        route(get("reviews", "/v1/getProductRatings/2")), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.uri", "`prefix: \"value\"` for prefix-based match",
        matching("[{ uri: { prefix: /ratings/v2/ } }]"), route(get("reviews", "/ratings/v2/5")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.uri", "URI to match values are case-sensitive",
        matching("[{ uri: { exact: /ratings } }]"), route(get("reviews", "/Ratings")), "default"));
    String re2 = "RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax).";
    rows.add(new Row(VS + "StringMatch.regex", re2, matching("[{ uri: { regex: \"/items/(?P<id>[0-9]+)\" } }]"),
        route(get("reviews", "/items/42")), "matched"));
    rows.add(new Row(VS + "StringMatch.regex", re2, matching("[{ uri: { regex: \"/items/[[:digit:]]+\" } }]"),
        route(get("reviews", "/items/42")), "matched"));
    rows.add(new Row(VS + "StringMatch.regex", re2, matching("[{ uri: { regex: \"/items/[[:digit:]]+\" } }]"),
        route(get("reviews", "/items/abc")), "default"));
    String fullString = "Note that this configuration will only match values like \"123\" but not \"a123\" or \"123a\".";
    rows.add(new Row(VS + "HTTPMatchRequest.query_params", fullString,
        matching("[{ queryParams: { key: { regex: \"\\\\d+$\" } } }]"), route(REVIEWS.query("key=123")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.query_params", fullString,
        matching("[{ queryParams: { key: { regex: \"\\\\d+$\" } } }]"), route(REVIEWS.query("key=a123")), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.query_params", fullString,
        matching("[{ queryParams: { key: { regex: \"\\\\d+$\" } } }]"), route(REVIEWS.query("key=123a")), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.query_params",
        "For a query parameter like \"?key=true\", the map key would be \"key\" and the string match could be defined as `exact: \"true\"`.",
        matching("[{ queryParams: { key: { exact: \"true\" } } }]"), route(REVIEWS.query("other=1&key=true")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.query_params",
        "For a query parameter like \"?key\", the map key would be \"key\" and the string match could be defined as `exact: \"\"`.",
        matching("[{ queryParams: { key: { exact: \"\" } } }]"), route(REVIEWS.query("key")), "matched"));
    String ignoreCase = "The case will be ignored only in the case of `exact` and `prefix` URI matches.";
    rows.add(new Row(VS + "HTTPMatchRequest.ignore_uri_case", ignoreCase,
        matching("[{ uri: { prefix: /ratings/v2/ }, ignoreUriCase: true }]"), route(get("reviews", "/RATINGS/V2/1")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.ignore_uri_case", ignoreCase,
        matching("[{ uri: { exact: /ratings }, ignoreUriCase: true }]"), route(get("reviews", "/Ratings")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.ignore_uri_case", ignoreCase,
        matching("[{ uri: { regex: \"/ratings/.*\" }, ignoreUriCase: true }]"), route(get("reviews", "/RATINGS/1")), "default"));
    String presence = "If the value is empty and only the name of header is specfied, presence of the header is checked.";
    rows.add(new Row(VS + "HTTPMatchRequest.headers", presence, matching("[{ headers: { x-canary: {} } }]"),
        route(REVIEWS.header("x-canary", "anything")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.headers", presence, matching("[{ headers: { x-canary: {} } }]"),
        route(REVIEWS), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.headers", "Header values are case-sensitive",
        matching("[{ headers: { end-user: { exact: jason } } }]"), route(REVIEWS.header("end-user", "Jason")), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.headers", "`prefix: \"value\"` for prefix-based match",
        matching("[{ headers: { cookie: { prefix: \"session=\" } } }]"), route(REVIEWS.header("cookie", "session=1")), "matched"));
    String without = "If a header is matched with a matching rule among withoutHeader, the traffic becomes not matched one.";
    rows.add(new Row(VS + "HTTPMatchRequest.without_headers", without,
        matching("[{ withoutHeaders: { end-user: { exact: jason } } }]"), route(REVIEWS.header("end-user", "jason")), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.without_headers", without,
        matching("[{ withoutHeaders: { end-user: { exact: jason } } }]"), route(REVIEWS.header("end-user", "bob")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.method", "`exact: \"value\"` for exact string match",
        matching("[{ method: { exact: POST } }]"), route(REVIEWS.method("GET")), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.method", "`exact: \"value\"` for exact string match",
        matching("[{ method: { exact: POST } }]"), route(REVIEWS.method("POST")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.authority", "`prefix: \"value\"` for prefix-based match",
        matching("[{ authority: { prefix: reviews.example } }]"), route(REVIEWS.authority("reviews.example.com")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.scheme", "`exact: \"value\"` for exact string match",
        matching("[{ scheme: { exact: https } }]"), route(REVIEWS.scheme("http")), "default"));
    String port = "Specifies the ports on the host that is being addressed.";
    rows.add(new Row(VS + "HTTPMatchRequest.port", port, matching("[{ port: 9080 }]"),
        route(REVIEWS.authority("reviews:9080")), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.port", port, matching("[{ port: 9080 }]"),
        route(REVIEWS.authority("reviews:8080")), "default"));
    String labels = "One or more labels that constrain the applicability of a rule to workloads with the given labels.";
    rows.add(new Row(VS + "HTTPMatchRequest.source_labels", labels, matching("[{ sourceLabels: { app: productpage } }]"),
        route(REVIEWS), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.source_labels", labels, matching("[{ sourceLabels: { app: reviews } }]"),
        route(REVIEWS), "default"));
    String ns = "Source namespace constraining the applicability of a rule to workloads in that namespace.";
    rows.add(new Row(VS + "HTTPMatchRequest.source_namespace", ns, matching("[{ sourceNamespace: default }]"),
        route(REVIEWS), "matched"));
    rows.add(new Row(VS + "HTTPMatchRequest.source_namespace", ns, matching("[{ sourceNamespace: prod }]"),
        route(REVIEWS), "default"));
    rows.add(new Row(VS + "HTTPMatchRequest.gateways", "Names of gateways where the rule should be applied.",
        matching("[{ gateways: [mygateway] }]"), route(REVIEWS), "default"));

    // gateways
    String gwOnly = "If a list of gateway names is provided, the rules will apply only to the gateways.";
    rows.add(new Row(VS + "VirtualService.gateways", gwOnly, REVIEWS_DR + vs("reviews",
        "[{ name: gw, " + TO_V2 + " }]").replace("spec:\n", "spec:\n  gateways: [bookinfo-gateway]\n"),
        target(REVIEWS), "reviews/"));
    rows.add(new Row(VS + "VirtualService.gateways",
        "To apply the rules to both gateways and sidecars, specify `mesh` as one of the gateway names.",
        REVIEWS_DR + vs("reviews", "[{ name: gw, " + TO_V2 + " }]").replace("spec:\n", "spec:\n  gateways: [bookinfo-gateway, mesh]\n"),
        route(REVIEWS), "gw"));
    rows.add(new Row(VS + "VirtualService.gateways",
        "When this field is omitted, the default gateway (`mesh`) will be used, which would apply the rule to all sidecars in the mesh.",
        REVIEWS_DR + vs("reviews", "[{ name: all, " + TO_V2 + " }]"), route(REVIEWS), "all"));

    // weights
    String reviewsWeights = "[{ route: [{ destination: { host: reviews, subset: v2 }, weight: %d },"
        + " { destination: { host: reviews, subset: v1 }, weight: %d }] }]";
    rows.add(new Row(VS + "HTTPRouteDestination",
        "the following rule will route 25% of traffic for the \"reviews\" service to instances with the \"v2\" tag and the remaining traffic (i.e., 75%) to \"v1\".",
        REVIEWS_DR + vs("reviews", String.format(reviewsWeights, 25, 75)), split(REVIEWS),
        "{reviews/v1=75, reviews/v2=25}"));
    String relative = "A destination will receive `weight/(sum of all weights)` requests.";
    String current = "istio/api networking/v1alpha3/virtual_service.proto (current), HTTPRouteDestination.weight";
    rows.add(new Row(current, relative, REVIEWS_DR + vs("reviews", String.format(reviewsWeights, 1, 3)), split(REVIEWS),
        "{reviews/v1=75, reviews/v2=25}"));
    rows.add(new Row(current, "Otherwise, if weight is `0`, the destination will not receive any traffic.",
        REVIEWS_DR + vs("reviews", String.format(reviewsWeights, 0, 10)), split(REVIEWS),
        "{reviews/v1=100}"));
    rows.add(new Row(VS + "HTTPRouteDestination.weight",
        "If there is only one destination in a rule, the weight value is assumed to be 100.",
        REVIEWS_DR + vs("reviews", "[{ route: [{ destination: { host: reviews, subset: v3 } }] }]"), split(REVIEWS),
        "{reviews/v3=100}"));
    rows.add(new Row(VS + "HTTPRouteDestination",
        "Traffic can also be split across two entirely different services without having to define new subsets.",
        vs("reviews.com", "[{ route: [{ destination: { host: dev.reviews.com }, weight: 25 }, { destination: { host: reviews.com }, weight: 75 }] }]"),
        split(get("reviews.com", "/")), "{dev.reviews.com/=25, reviews.com/=75}"));
    rows.add(new Row(DR + "Subset.labels",
        "Labels apply a filter over the endpoints of a service in the service registry.",
        REVIEWS_DR + vs("reviews", "[{ " + TO_V2 + " }]"), endpoint(REVIEWS), "reviews-v2"));

    // hosts and namespaces
    String shortName = "A rule in the \"default\" namespace containing a host \"reviews\" will be interpreted as"
        + " \"reviews.default.svc.cluster.local\", irrespective of the actual namespace associated with the reviews service.";
    rows.add(new Row(VS + "VirtualService.hosts", shortName,
        REVIEWS_DR + vs("reviews", "[{ name: short, " + TO_V2 + " }]").replace(NAME, NAME_IN + "default, name: "),
        route(REVIEWS), "short"));
    rows.add(new Row(VS + "VirtualService.hosts", shortName,
        vs("reviews", "[{ name: foo, route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]").replace(NAME, NAME_IN + "foo, name: "),
        target(REVIEWS), "reviews/"));
    rows.add(new Row(VS + "VirtualService (productpage example)",
        "Therefore the rule's namespace does not have an impact in resolving the name of the productpage service.",
        vs("reviews.default.svc.cluster.local", "[{ name: fqdn, timeout: 5s, route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]")
            .replace(NAME, NAME_IN + "istio-system, name: "),
        route(REVIEWS), "fqdn"));
    rows.add(new Row(VS + "VirtualService.hosts",
        "Could be a DNS name with wildcard prefix or an IP address.",
        vs("*.reviews.com", "[{ name: wildcard, route: [{ destination: { host: reviews.com } }] }]"),
        target(get("dev.reviews.com", "/")), "reviews.com/"));
    rows.add(new Row(VS + "Destination.host",
        "The name of a service from the service registry.",
        vs("reviews.com", "[{ name: dev, route: [{ destination: { host: dev.reviews.com } }] }]"),
        target(get("reviews.com", "/")), "dev.reviews.com/"));
    rows.add(new Row(VS + "VirtualService.hosts", shortName,
        vs("reviews.staging.svc.cluster.local", "[{ name: staging, route: [{ destination: { host: reviews.staging.svc.cluster.local } }] }]")
            + "---\n" + vs("reviews.default.svc.cluster.local", "[{ name: default-ns, route: [{ destination: { host: reviews } }] }]"),
        // the client names another namespace's service in full (Mesh.router)
        mesh -> route(get("reviews.staging.svc.cluster.local", "/")).apply(mesh) + " " + route(REVIEWS).apply(mesh),
        "staging default-ns"));
    String exportDot = "The value \".\" is reserved and defines an export to the same namespace that the virtual service is declared in.";
    rows.add(new Row(VS + "VirtualService.export_to", exportDot,
        vs("reviews.default.svc.cluster.local", "[{ name: foo-only, route: [{ destination: { host: reviews, subset: v1 } }] }]")
            .replace(NAME, NAME_IN + "foo, name: ").replace("spec:\n", "spec:\n  exportTo: [\".\"]\n"),
        target(REVIEWS), "reviews/"));
    rows.add(new Row(VS + "VirtualService.export_to", exportDot,
        REVIEWS_DR + vs("reviews", "[{ name: here, " + TO_V2 + " }]").replace("spec:\n", "spec:\n  exportTo: [\".\"]\n"),
        route(REVIEWS), "here"));
    rows.add(new Row(VS + "VirtualService.export_to",
        "If no namespaces are specified then the virtual service is exported to all namespaces by default.",
        vs("reviews.default.svc.cluster.local", "[{ name: from-foo, route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]")
            .replace(NAME, NAME_IN + "foo, name: "),
        route(REVIEWS), "from-foo"));
    rows.add(new Row(DR + "DestinationRule.host",
        "Rules defined for services that do not exist in the service registry will be ignored.",
        dr("nowhere", "{ loadBalancer: { simple: ROUND_ROBIN } }"), null,
        refused("unknown service 'nowhere.default.svc.cluster.local': the registry does not list 'nowhere'")));
    rows.add(new Row(VS + "Destination.host",
        "Traffic forwarded to destinations that are not found in either of the two, will be dropped.",
        vs("reviews", "[{ route: [{ destination: { host: reviewz } }] }]"), null,
        refused("unknown service 'reviewz.default.svc.cluster.local': the registry does not list 'reviewz'")));
    rows.add(new Row(VS + "Destination.subset",
        "The subset must be defined in a corresponding DestinationRule.",
        REVIEWS_DR + vs("reviews", "[{ route: [{ destination: { host: reviews, subset: v9 } }] }]"),
        null, refused("subset 'v9' is not defined")));

    // rewrites, redirects, headers
    String rewritePrefix = "If the original URI was matched based on prefix, the value provided in this field will replace the corresponding matched prefix.";
    String rw = REVIEWS_DR + vs("reviews", "[{ match: [{ uri: { prefix: /ratings } }], rewrite: { uri: /v1/bookRatings }, " + TO_V2 + " }]");
    rows.add(new Row(VS + "HTTPRewrite.uri", rewritePrefix, rw, path(get("reviews", "/ratings/5")), "/v1/bookRatings/5"));
    rows.add(new Row(VS + "HTTPRewrite.uri", rewritePrefix, REVIEWS_DR + vs("reviews",
        "[{ match: [{ uri: { prefix: /wpcatalog } }, { uri: { prefix: /consumercatalog } }], rewrite: { uri: /newcatalog }, " + TO_V2 + " }]"),
        path(get("reviews", "/consumercatalog/books")), "/newcatalog/books"));
    rows.add(new Row(VS + "HTTPRewrite.uri", "rewrite the path (or the prefix) portion of the URI with this value.",
        REVIEWS_DR + vs("reviews", "[{ match: [{ uri: { exact: /old } }], rewrite: { uri: /new }, " + TO_V2 + " }]"),
        path(get("reviews", "/old")), "/new"));
    rows.add(new Row(VS + "HTTPRewrite.authority", "rewrite the Authority/Host header with this value.",
        REVIEWS_DR + vs("reviews", "[{ rewrite: { authority: reviews.internal }, " + TO_V2 + " }]"),
        call(REVIEWS, Call::rewrittenAuthority), "reviews.internal"));
    rows.add(new Row(VS + "HTTPRoute.rewrite", "Rewrite will be performed before forwarding.", rw,
        call(get("reviews", "/ratings/5"), c -> c.endpoints + " " + c.attemptPath()), "[reviews-v2] /v1/bookRatings/5"));
    String redirectVs = REVIEWS_DR + vs("reviews", "[{ match: [{ uri: { prefix: /v1/getProductRatings } }],"
        + " redirect: { uri: /v1/bookRatings, authority: newratings.default.svc.cluster.local } }, " + DEFAULT_V1 + "]");
    rows.add(new Row(VS + "HTTPRedirect.uri",
        "Note that the entire path will be replaced, irrespective of the request URI being matched as an exact path or prefix.",
        redirectVs, answered(get("reviews", "/v1/getProductRatings/7")),
        "DIRECT_RESPONSE 301 http://newratings.default.svc.cluster.local/v1/bookRatings"));
    rows.add(new Row(VS + "HTTPRedirect.redirect_code", "The default response code is MOVED_PERMANENTLY (301).",
        redirectVs, call(get("reviews", "/v1/getProductRatings"), c -> c.endpoints + " " + c.failure.abortHttpStatus()), "[] 301"));
    rows.add(new Row(VS + "HTTPRedirect.redirect_code", "On a redirect, Specifies the HTTP status code to use in the redirect response.",
        REVIEWS_DR + vs("reviews", "[{ redirect: { uri: /moved, redirectCode: 308 } }]"),
        answered(get("reviews", "/x").query("a=1")), "DIRECT_RESPONSE 308 http://reviews/moved?a=1"));
    String headersVs = REVIEWS_DR + vs("reviews", "[{ headers: { request: { set: { test: \"true\" } } }, route: ["
        + "{ destination: { host: reviews, subset: v2 }, weight: 25 },"
        + " { destination: { host: reviews, subset: v1 }, headers: { response: { remove: [foo] } }, weight: 75 }] }]");
    rows.add(new Row(VS + "Headers",
        "The following VirtualService adds a `test` header with the value `true` to requests that are routed to any `reviews` service destination.",
        headersVs, mesh -> {
          TreeSet<String> seen = new TreeSet<>();
          for (int i = 0; i < 8; i++) {
            seen.add(headerEdits(REVIEWS, false).apply(mesh));
          }
          return seen.toString();
        }, "[[set test=true]]"));
    rows.add(new Row(VS + "Headers",
        "It also romoves the `foo` response header, but only from responses coming from the `v1` subset (version) of the `reviews` service.",
        headersVs, mesh -> {
          TreeMap<String, String> bySubset = new TreeMap<>();
          for (int i = 0; i < 8; i++) {
            Call c = new Call(mesh, REVIEWS).start();
            List<String> ops = new ArrayList<>();
            c.editResponseHeaders(new HeaderEdits() {
              @Override public void set(String n, String v) { ops.add("set " + n); }
              @Override public void add(String n, String v) { ops.add("add " + n); }
              @Override public void remove(String n) { ops.add("remove " + n); }
            });
            bySubset.put(c.target().subset(), ops.toString());
            c.answer(200);
          }
          return bySubset.toString();
        }, "{v1=[remove foo], v2=[]}"));
    String ops = REVIEWS_DR + vs("reviews", "[{ headers: { request: { set: { x-a: \"1\" }, add: { x-b: \"2\" }, remove: [x-c] } }, " + TO_V2 + " }]");
    rows.add(new Row(VS + "Headers.HeaderOperations.set", "Overwrite the headers specified by key with the given values",
        ops, headerEdits(REVIEWS, false), "[remove x-c, set x-a=1, add x-b=2]"));
    rows.add(new Row(VS + "Headers.HeaderOperations.add",
        "Append the given values to the headers specified by keys (will create a comma-separated list of values)",
        ops, headerEdits(REVIEWS, false), "[remove x-c, set x-a=1, add x-b=2]"));
    rows.add(new Row(VS + "Headers.HeaderOperations.remove", "Remove a the specified headers",
        ops, headerEdits(REVIEWS, false), "[remove x-c, set x-a=1, add x-b=2]"));
    rows.add(new Row(VS + "Headers.response", "Header manipulation rules to apply before returning a response to the caller",
        REVIEWS_DR + vs("reviews", "[{ headers: { response: { set: { x-served-by: reviews } } }, " + TO_V2 + " }]"),
        headerEdits(REVIEWS, true), "[set x-served-by=reviews]"));

    // mirrors, timeouts, retries, faults
    rows.add(new Row(VS + "HTTPRoute.mirror",
        "Mirror HTTP traffic to a another destination in addition to forwarding the requests to the intended destination.",
        REVIEWS_DR + vs("reviews", "[{ mirror: { host: reviews, subset: v3 }, " + TO_V2 + " }]"),
        call(REVIEWS, c -> c.endpoints + " mirrored to " + c.mirrors), "[reviews-v2] mirrored to [reviews]"));
    rows.add(new Row(VS + "HTTPRoute.mirror_percentage",
        "If this field is absent, all the traffic (100%) will be mirrored.",
        REVIEWS_DR + vs("reviews", "[{ mirror: { host: reviews, subset: v3 }, " + TO_V2 + " }]"),
        mesh -> {
          int mirrored = 0;
          for (int i = 0; i < 50; i++) {
            mirrored += call(REVIEWS, c -> Integer.toString(c.mirrors.size())).apply(mesh).equals("1") ? 1 : 0;
          }
          return mirrored + " of 50";
        }, "50 of 50"));
    rows.add(new Row(VS + "HTTPRoute.mirror_percentage", "Percentage of the traffic to be mirrored by the `mirror` field.",
        REVIEWS_DR + vs("reviews", "[{ mirror: { host: reviews, subset: v3 }, mirrorPercentage: { value: 0.0 }, " + TO_V2 + " }]"),
        call(REVIEWS, c -> c.mirrors.toString()), "[]"));
    rows.add(new Row(VS + "HTTPRoute.timeout", "Timeout for HTTP requests.",
        REVIEWS_DR + vs("reviews", "[{ timeout: 5s, " + TO_V2 + " }]"),
        mesh -> mesh.router("reviews").select(REVIEWS).route().timeoutNanos() / 1_000_000 + " ms", "5000 ms"));
    rows.add(new Row(VS + "HTTPRetry",
        "the following rule sets the maximum number of retries to 3 when calling ratings:v1 service, with a 2s timeout per retry attempt.",
        REVIEWS_DR + vs("reviews", "[{ " + TO_V2 + ", retries: { attempts: 3, perTryTimeout: 2s, retryOn: \"gateway-error,connect-failure,refused-stream\" } }]"),
        attemptsAnswering(REVIEWS, 503, true), "4 attempts, per try 2000 ms"));
    rows.add(new Row(VS + "HTTPRetry.retry_on",
        "One or more policies can be specified using a ‘,’ delimited list.",
        REVIEWS_DR + vs("reviews", "[{ " + TO_V2 + ", retries: { attempts: 2, retryOn: \"503,reset\" } }]"),
        mesh -> attemptsAnswering(REVIEWS, 503).apply(mesh) + "; " + attemptsAnswering(REVIEWS, 500).apply(mesh),
        "3 attempts; 1 attempts"));
    rows.add(new Row(VS + "HTTPRetry.retry_on (Envoy x-envoy-retry-on)",
        "See the [retry policies](https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on)",
        REVIEWS_DR + vs("reviews", "[{ " + TO_V2 + ", retries: { attempts: 2, retryOn: \"retriable-4xx\" } }]"),
        mesh -> attemptsAnswering(REVIEWS, 409).apply(mesh) + "; " + attemptsAnswering(REVIEWS, 404).apply(mesh),
        "3 attempts; 1 attempts"));
    // the proto's older text said "If not specified, all requests are aborted"; Istio changed the
    // text to what pilot does (no percentage: 0 %), and MeshUp does the same
    rows.add(new Row("istio/api networking/v1alpha3/virtual_service.proto (current), HTTPFaultInjection.Abort.percentage",
        "Percentage of requests to be aborted with the error code provided. If not specified, no request will be aborted.",
        REVIEWS_DR + vs("reviews", "[{ fault: { abort: { httpStatus: 400 } }, " + TO_V2 + " }]"),
        answered(REVIEWS), "forwarded to [reviews-v2]"));
    rows.add(new Row(VS + "HTTPFaultInjection.Abort",
        "The _httpStatus_ field is used to indicate the HTTP status code to return to the caller.",
        REVIEWS_DR + vs("reviews", "[{ fault: { abort: { httpStatus: 400, percentage: { value: 100 } } }, " + TO_V2 + " }]"),
        answered(REVIEWS), "FAULT_ABORT 400"));
    rows.add(new Row(VS + "HTTPFaultInjection.Abort",
        "The optional _percentage_ field can be used to only abort a certain percentage of requests.",
        REVIEWS_DR + vs("reviews", "[{ fault: { abort: { httpStatus: 503, percentage: { value: 0.0 } } }, " + TO_V2 + " }]"),
        answered(REVIEWS), "forwarded to [reviews-v2]"));

    // consistent hashing
    String hashPolicy = dr("ratings", "{ loadBalancer: { consistentHash: { httpHeaderName: x-user } } }");
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB.http_header_name", "Hash based on a specific HTTP header.",
        hashPolicy, stableKeys(), "stable true, over 8 or more endpoints"));
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB",
        "The affinity to a particular destination host will be lost when one or more hosts are added/removed from the destination service.",
        hashPolicy, keysMovedByRemoval(hashPolicy, 20), "moved at most 20 %: true (166, 68 of them not e9's)"));
    String maglev = dr("ratings", "{ loadBalancer: { consistentHash: { httpHeaderName: x-user, maglev: { tableSize: 65537 } } } }");
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB",
        "Consistent Hash-based load balancing can be used to provide soft session affinity based on HTTP headers, cookies or other properties.",
        maglev, stableKeys(), "stable true, over 8 or more endpoints"));
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB",
        "The affinity to a particular destination host will be lost when one or more hosts are added/removed from the destination service.",
        maglev, keysMovedByRemoval(maglev, 11), "moved at most 11 %: true (101, 3 of them not e9's)"));
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB.http_cookie", "Hash based on HTTP cookie.",
        dr("ratings", "{ loadBalancer: { consistentHash: { httpCookie: { name: user, ttl: 0s } } } }"),
        endpointsOf(get("ratings", "/").header("cookie", "user=alice; theme=dark"), 20), "one endpoint"));
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB.HTTPCookie",
        "If the cookie is not present, it will be generated.",
        dr("ratings", "{ loadBalancer: { consistentHash: { httpCookie: { name: user, path: /, ttl: 60s } } } }"),
        call(get("ratings", "/"), c -> {
          List<String> set = new ArrayList<>();
          c.editResponseHeaders(new HeaderEdits() {
            @Override public void set(String n, String v) {}
            @Override public void add(String n, String v) { set.add(n + ": " + v.substring(0, v.indexOf('='))); }
            @Override public void remove(String n) {}
          });
          return set.toString();
        }), "[set-cookie: user]"));
    rows.add(new Row(DR + "LoadBalancerSettings.ConsistentHashLB.use_source_ip", "Hash based on the source IP address.",
        dr("ratings", "{ loadBalancer: { consistentHash: { useSourceIp: true } } }"), endpointsOf(get("ratings", "/"), 20),
        "one endpoint"));
    String subsetHash = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: ratings }\nspec:\n  host: ratings\n"
        + "  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }\n"
        + "  subsets:\n    - { name: v1, labels: { version: v1 }%s }\n---\n"
        + vs("ratings", "[{ route: [{ destination: { host: ratings, subset: v1 } }] }]");
    rows.add(new Row(DR + "Subset.traffic_policy", "Subsets inherit the traffic policies specified at the DestinationRule level.",
        String.format(subsetHash, ""), endpointsOf(get("ratings", "/").header("x-user", "alice"), 20), "one endpoint"));
    rows.add(new Row(DR + "Subset.traffic_policy",
        "Settings specified at the subset level will override the corresponding settings specified at the DestinationRule level.",
        String.format(subsetHash, ", trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }"),
        endpointsOf(get("ratings", "/").header("x-user", "alice"), 20), "10 endpoints"));
    rows.add(new Row(DR + "LoadBalancerSettings.SimpleLB", "Round Robin policy.",
        dr("ratings", "{ loadBalancer: { simple: ROUND_ROBIN } }"), endpointsOf(get("ratings", "/"), 10), "10 endpoints"));

    // locality
    String outlier = "outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }";
    rows.add(new Row(DR + "LocalityLoadBalancerSetting.Failover",
        "Since zone and sub-zone failover is supported by default this only needs to be specified for regions",
        dr("details", "{ " + outlier + " }"), detailsSequence(5, e -> false), "west-zone1,west-zone1,west-zone1,west-zone1,west-zone1"));
    rows.add(new Row(DR + "LocalityLoadBalancerSetting.failover",
        "Note: if no OutlierDetection specified, this will not take effect.",
        dr("details", "{ loadBalancer: { simple: ROUND_ROBIN, localityLbSetting: { enabled: true, failover: [{ from: us-west, to: us-east }] } } }"),
        mesh -> {
          TreeSet<String> seen = new TreeSet<>();
          for (int i = 0; i < 8; i++) {
            seen.add(endpoint(get("details", "/")).apply(mesh));
          }
          return seen.toString();
        }, "[east-zone1, eu-zone1, west-zone1, west-zone2]"));
    rows.add(new Row(DR + "LocalityLoadBalancerSetting.Failover.to",
        "Destination region the traffic will fail over to when endpoints in the 'from' region becomes unhealthy.",
        dr("details", "{ loadBalancer: { localityLbSetting: { enabled: true, failover: [{ from: us-west, to: us-east }] } }, " + outlier + " }"),
        detailsSequence(4, e -> e.startsWith("west")), "west-zone1,west-zone2,east-zone1,east-zone1"));
    rows.add(new Row(DR + "LocalityLoadBalancerSetting",
        "80% of the traffic will be sent to endpoints in \"us-west/zone1/*\", i.e the same zone, and the remaining 20% will go to endpoints in \"us-west/zone2/*\".",
        dr("details", "{ loadBalancer: { localityLbSetting: { enabled: true, distribute: [{ from: \"us-west/zone1/*\","
            + " to: { \"us-west/zone1/*\": 80, \"us-west/zone2/*\": 20 } }] } } }"),
        detailsShares(), "{west-zone1=80, west-zone2=20}"));
    rows.add(new Row(DR + "LocalityLoadBalancerSetting.Distribute.to",
        "Any locality not assigned a weight will receive no traffic.",
        dr("details", "{ loadBalancer: { localityLbSetting: { enabled: true, distribute: [{ from: \"us-west/*\","
            + " to: { \"us-east/*\": 100 } }] } } }"),
        detailsShares(), "{east-zone1=100}"));
    rows.add(new Row(DR + "OutlierDetection.base_ejection_time",
        "A host will remain ejected for a period equal to the product of minimum ejection duration and the number of times the host has been ejected.",
        dr("details", "{ loadBalancer: { simple: ROUND_ROBIN }, " + outlier + " }")
            .replace("ROUND_ROBIN }", "ROUND_ROBIN, localityLbSetting: { enabled: false } }"),
        mesh -> {
          // the first call fails and ejects its endpoint: the next three go elsewhere
          String out = detailsSequence(1, e -> true).apply(mesh);
          String next = detailsSequence(3, e -> false).apply(mesh);
          ((FakeScheduler) mesh.scheduler()).advance(Duration.ofSeconds(31));
          String later = detailsSequence(8, e -> false).apply(mesh);
          return "ejected: " + !next.contains(out) + ", back after 30 s: " + later.contains(out);
        }, "ejected: true, back after 30 s: true"));

    // out of reach in-process
    rows.add(new Row(VS + "VirtualService.tcp",
        "TCP routes will be applied to any port that is not a HTTP or TLS port.",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: mongo }\nspec:\n  hosts: [mongo.prod.svc.cluster.local]\n"
            + "  tcp: [{ match: [{ port: 27017 }], route: [{ destination: { host: mongo.backup.svc.cluster.local, port: { number: 5555 } } }] }]\n",
        null, refused("tcp")));
    rows.add(new Row(VS + "VirtualService.tls",
        "Routing is typically performed using the SNI value presented by the ClientHello message.",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: sni }\nspec:\n  hosts: [\"*.bookinfo.com\"]\n"
            + "  tls: [{ match: [{ port: 443, sniHosts: [login.bookinfo.com] }], route: [{ destination: { host: login.prod.svc.cluster.local } }] }]\n",
        null, refused("tls")));
    return rows;
  }

  static Stream<Row> table() {
    return rows().stream();
  }

  @ParameterizedTest(name = "{index}: {0}")
  @MethodSource("table")
  void routesAsTheQuotedSentenceSays(Row row) {
    FakeClock clock = new FakeClock();
    if (row.expected().startsWith("refused: ")) {
      assertThatThrownBy(() -> mesh(row.policy(), clock).close()).as(row.quote())
          .isInstanceOf(MeshConfigException.class)
          .hasMessageContaining(row.expected().substring("refused: ".length()));
      return;
    }
    try (Mesh mesh = mesh(row.policy(), clock)) {
      assertThat(row.observe().apply(mesh)).as("%s (%s)", row.quote(), row.source()).isEqualTo(row.expected());
    }
  }

  @org.junit.jupiter.api.Test
  void theTableHasSixtyRowsOrMoreEachQuotingItsSource() {
    List<Row> rows = rows();
    assertThat(rows).hasSizeGreaterThanOrEqualTo(60);
    Map<String, Integer> bySource = new LinkedHashMap<>();
    for (Row r : rows) {
      assertThat(r.quote()).isNotBlank();
      assertThat(r.source()).startsWith("istio/api ");
      bySource.merge(r.source().substring(0, r.source().indexOf(',') < 0 ? r.source().length() : r.source().indexOf(',')), 1,
          Integer::sum);
    }
    System.out.println("Istio semantics table: " + rows.size() + " rows " + bySource);
  }
}
