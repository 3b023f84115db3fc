package io.meshup.http.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Generated malformed policies fed, ten thousand of them, to a running mesh while a thread sends
 * it traffic to a real loopback server: nothing but a {@link MeshConfigException} may come back,
 * every message must name a key path, no call may fail, and the policy in force at the end must
 * be the last valid one (every hundredth update is one of two valid variants).
 *
 * <p>Each document starts from a valid VirtualService, DestinationRule or AuthorizationPolicy and
 * takes one mutation that makes it invalid: an unknown field anywhere, a scalar turned into a
 * mapping or a list, a required field removed, a duration that is malformed, negative or too long,
 * a weight out of range, a number too large for its field, an enum value that is not one, an
 * invalid or oversized regex, an unknown API version or kind, a subset or host that does not
 * exist, a principal in the wrong form.
 */
class MalformedPolicyFuzzTest {
  static final int TRIES = 10_000;
  static HttpServer server;
  static ExecutorService serverThreads;
  static Mesh mesh;
  static MeshHttpClient client;
  static Thread traffic;
  static final AtomicBoolean stop = new AtomicBoolean();
  static final AtomicLong calls = new AtomicLong();
  static final AtomicLong failedCalls = new AtomicLong();
  static final AtomicReference<Throwable> firstCallFailure = new AtomicReference<>();
  static final AtomicInteger tries = new AtomicInteger();
  static final AtomicReference<String> lastValid = new AtomicReference<>("payments-a");

  @BeforeContainer
  static void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    serverThreads = Executors.newFixedThreadPool(2);
    server.setExecutor(serverThreads);
    server.createContext("/", e -> {
      try (e) {
        e.getRequestBody().readAllBytes();
        byte[] b = "ok".getBytes();
        e.sendResponseHeaders(200, b.length);
        try (OutputStream o = e.getResponseBody()) {
          o.write(b);
        }
      }
    });
    server.start();
    mesh = Mesh.builder().service("checkout")
        .endpoints("payments", List.of(new Endpoint("p1", "127.0.0.1", server.getAddress().getPort(), Map.of("version", "v1"), 1)))
        .policies("fuzz", valid("payments-a"))
        .build();
    client = MeshHttp.client(mesh);
    traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://payments/charges"))
              .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() != 200) {
            throw new IllegalStateException("status " + r.statusCode());
          }
        } catch (Throwable t) {
          failedCalls.incrementAndGet();
          firstCallFailure.compareAndSet(null, t);
        }
        calls.incrementAndGet();
      }
    }, "fuzz-traffic");
    traffic.start();
  }

  @AfterContainer
  static void stop() throws Exception {
    stop.set(true);
    traffic.join();
    System.out.printf("malformed-policy fuzz: %d updates (%d valid), %d calls during them, %d failed%n", tries.get(),
        tries.get() / 100, calls.get(), failedCalls.get());
    try {
      assertThat(tries.get()).isGreaterThanOrEqualTo(TRIES);
      assertThat(failedCalls.get()).as("failed calls (first: %s)", firstCallFailure.get()).isZero();
      assertThat(calls.get()).isPositive();
      assertThat(mesh.policyOrigins()).as("the last valid policy is in force")
          .containsExactly("fuzz: VirtualService " + lastValid.get(), "fuzz: DestinationRule payments");
    } finally {
      mesh.close();
      server.stop(0);
      serverThreads.shutdownNow();
    }
  }

  /** The valid set: a DestinationRule with subset v1 and a VirtualService {@code name} routing to it. */
  static String valid(String name) {
    return json(virtualService(name)) + "\n---\n" + json(destinationRule());
  }

  static Map<String, Object> virtualService(String name) {
    return map("apiVersion", "networking.istio.io/v1", "kind", "VirtualService", "metadata", map("name", name),
        "spec", map("hosts", list("payments"), "http", list(map(
            "name", "main",
            "match", list(map("uri", map("prefix", "/"), "method", map("exact", "GET"))),
            "route", list(map("destination", map("host", "payments", "subset", "v1"), "weight", 100)),
            "timeout", "5s",
            "retries", map("attempts", 2, "perTryTimeout", "2s", "retryOn", "connect-failure,refused-stream")))));
  }

  static Map<String, Object> destinationRule() {
    return map("apiVersion", "networking.istio.io/v1", "kind", "DestinationRule", "metadata", map("name", "payments"),
        "spec", map("host", "payments",
            "trafficPolicy", map("loadBalancer", map("simple", "ROUND_ROBIN"),
                "outlierDetection", map("consecutive5xxErrors", 5, "baseEjectionTime", "30s"),
                "connectionPool", map("tcp", map("connectTimeout", "1s"))),
            "subsets", list(map("name", "v1", "labels", map("version", "v1")))));
  }

  static Map<String, Object> authorizationPolicy() {
    return map("apiVersion", "security.istio.io/v1", "kind", "AuthorizationPolicy", "metadata", map("name", "fuzz-authz"),
        "spec", map("action", "DENY", "rules", list(map(
            "from", list(map("source", map("principals", list("dev.test/ns/default/dc/dc1/svc/legacy")))),
            "to", list(map("operation", map("paths", list("/admin/*"), "methods", list("DELETE"))))))));
  }

  /** One malformed document set and the mutation that made it so. */
  record Malformed(String what, String yaml) {}

  @Provide
  Arbitrary<Malformed> malformed() {
    Arbitrary<Integer> which = Arbitraries.integers().between(0, 2);
    Arbitrary<Integer> mutation = Arbitraries.integers().between(0, 13);
    Arbitrary<Long> seed = Arbitraries.longs();
    Arbitrary<String> junk = Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(12);
    return Combinators.combine(which, mutation, seed, junk).as(MalformedPolicyFuzzTest::mutate);
  }

  static Malformed mutate(int which, int mutation, long seed, String junk) {
    java.util.Random r = new java.util.Random(seed);
    Map<String, Object> vs = virtualService("payments-x");
    Map<String, Object> dr = destinationRule();
    Map<String, Object> ap = authorizationPolicy();
    Map<String, Object> target = which == 0 ? vs : which == 1 ? dr : ap;
    String what;
    switch (mutation) {
      case 0 -> {
        Map<String, Object> m = randomMap(target, r);
        m.put("zz" + junk, "x");
        what = "unknown field zz" + junk;
      }
      case 1 -> {
        what = "scalar made a mapping";
        replaceRandomScalar(target, r, map("x", 1));
      }
      case 2 -> {
        what = "scalar made a list";
        replaceRandomScalar(target, r, list(1, 2));
      }
      case 3 -> {
        what = "required field removed";
        List<String[]> required = which == 0
            // (a VirtualService without hosts is a delegate, valid as Istio has it)
            ? List.of(new String[] {"kind"}, new String[] {"metadata"}, new String[] {"spec", "http"})
            : which == 1 ? List.of(new String[] {"apiVersion"}, new String[] {"spec", "host"}, new String[] {"spec"})
            : List.of(new String[] {"metadata"}, new String[] {"kind"});
        String[] path = required.get(r.nextInt(required.size()));
        Map<String, Object> m = target;
        for (int i = 0; i < path.length - 1; i++) {
          m = child(m, path[i]);
        }
        m.remove(path[path.length - 1]);
      }
      case 4 -> {
        List<String> bad = List.of("-5s", "5", "5 s", "5sec", "5d", "5S", "1.s", ".5s", "1e3s", "99999999h", "s",
            "9223372036854775807ns9223372036854775807ns2000000ns", "0x10s", "5s" + junk, "" + junk);
        String d = bad.get(r.nextInt(bad.size()));
        what = "duration " + d;
        if (which == 1) {
          child(child(child(dr, "spec"), "trafficPolicy"), "outlierDetection").put("baseEjectionTime", d);
        } else {
          route(vs).put(r.nextBoolean() ? "timeout" : "timeout", d);
          target = vs;
        }
      }
      case 5 -> {
        // Istio's weights are relative: any int32 of 0 and more is one
        long w = r.nextBoolean() ? 2_147_483_648L + r.nextInt(1_000_000) : -1 - r.nextInt(1000);
        what = "weight " + w;
        target = vs;
        routeDestination(vs).put("weight", w);
      }
      case 6 -> {
        what = "number too large";
        target = vs;
        child(route(vs), "retries").put("attempts", "9" + "9".repeat(10 + r.nextInt(20))); // past int32
      }
      case 7 -> {
        what = "enum value " + junk.toUpperCase();
        target = dr;
        child(child(child(dr, "spec"), "trafficPolicy"), "loadBalancer").put("simple", junk.toUpperCase() + "_X");
      }
      case 8 -> {
        List<String> bad = List.of("(", "[a-", "a{1001}", "((a{1000}){1000}){1000}", "(?P<n", "\\", "a**", "x{2,1}",
            "a".repeat(5000));
        String re = bad.get(r.nextInt(bad.size()));
        what = "regex " + (re.length() > 20 ? re.substring(0, 20) + "..." : re);
        target = vs;
        child(((List<Map<String, Object>>) (Object) route(vs).get("match")).get(0), "uri").clear();
        child(((List<Map<String, Object>>) (Object) route(vs).get("match")).get(0), "uri").put("regex", re);
      }
      case 9 -> {
        what = "apiVersion";
        target.put("apiVersion", junk + ".istio.io/v9");
      }
      case 10 -> {
        what = "kind";
        target.put("kind", "Virtual" + junk);
      }
      case 11 -> {
        what = "unknown subset";
        target = vs;
        child(routeDestination(vs), "destination").put("subset", "zz" + junk);
      }
      case 12 -> {
        // a VirtualService host may be a name of its own (myapp.com); what it routes to must exist
        what = "unknown destination host";
        target = vs;
        child(routeDestination(vs), "destination").put("host", "zz" + junk);
      }
      default -> {
        what = "principal with the scheme";
        target = ap;
        Map<String, Object> source = child(((List<Map<String, Object>>) (Object) ((Map<String, Object>)
            ((List<Object>) child(ap, "spec").get("rules")).get(0)).get("from")).get(0), "source");
        source.put("principals", list("spiffe://dev.test/ns/default/dc/dc1/svc/" + junk));
      }
    }
    // the malformed document goes in with the valid DestinationRule (or the valid VirtualService)
    List<Map<String, Object>> docs = new ArrayList<>();
    docs.add(target);
    if (target != vs) {
      docs.add(virtualService("payments-x"));
    }
    if (target != dr) {
      docs.add(destinationRule());
    }
    StringBuilder yaml = new StringBuilder();
    for (Map<String, Object> d : docs) {
      yaml.append(yaml.length() == 0 ? "" : "\n---\n").append(json(d));
    }
    return new Malformed(what, yaml.toString());
  }

  @Property(tries = TRIES, shrinking = ShrinkingMode.OFF, seed = "11")
  void aMalformedPolicyIsRefusedWithItsKeyPathAndNothingFails(@ForAll("malformed") Malformed m) {
    int n = tries.incrementAndGet();
    if (n % 100 == 0) {
      String name = n % 200 == 0 ? "payments-a" : "payments-b";
      mesh.updatePolicies("fuzz", valid(name));
      lastValid.set(name);
      return;
    }
    try {
      mesh.updatePolicies("fuzz", m.yaml());
      throw new AssertionError("accepted: " + m.what() + "\n" + m.yaml());
    } catch (MeshConfigException e) {
      assertThat(e.path()).as("the key path in: %s (%s)", e.getMessage(), m.what()).isNotEmpty();
      assertThat(e.source()).contains("fuzz");
    }
  }

  // ---- a tiny tree and JSON (which is YAML) writer --------------------------------------

  static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  static List<Object> list(Object... items) {
    return new ArrayList<>(List.of(items));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> child(Map<String, Object> m, String key) {
    return (Map<String, Object>) m.get(key);
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> route(Map<String, Object> vs) {
    return (Map<String, Object>) ((List<Object>) child(vs, "spec").get("http")).get(0);
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> routeDestination(Map<String, Object> vs) {
    return (Map<String, Object>) ((List<Object>) route(vs).get("route")).get(0);
  }

  /** A mapping somewhere in the tree (never the document itself, whose unknown keys are all reported too). */
  @SuppressWarnings("unchecked")
  static Map<String, Object> randomMap(Map<String, Object> doc, java.util.Random r) {
    List<Map<String, Object>> maps = new ArrayList<>();
    collect(doc, maps);
    return maps.get(r.nextInt(maps.size()));
  }

  /** The mappings whose keys a reader checks (label mappings take any key, so they are left out). */
  @SuppressWarnings("unchecked")
  static void collect(Object node, List<Map<String, Object>> maps) {
    if (node instanceof Map<?, ?> m) {
      maps.add((Map<String, Object>) m);
      m.forEach((k, v) -> {
        if (!k.equals("labels")) {
          collect(v, maps);
        }
      });
    } else if (node instanceof List<?> l) {
      l.forEach(v -> collect(v, maps));
    }
  }

  /** Replaces a scalar that a reader expects as a scalar (not a free-form label value). */
  @SuppressWarnings("unchecked")
  static void replaceRandomScalar(Map<String, Object> doc, java.util.Random r, Object with) {
    List<Object[]> slots = new ArrayList<>();
    slots(doc, slots, false);
    Object[] s = slots.get(r.nextInt(slots.size()));
    if (s[0] instanceof Map<?, ?> m) {
      ((Map<String, Object>) m).put((String) s[1], with);
    } else {
      ((List<Object>) s[0]).set((Integer) s[1], with);
    }
  }

  @SuppressWarnings("unchecked")
  static void slots(Object node, List<Object[]> slots, boolean labels) {
    if (node instanceof Map<?, ?> m) {
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (e.getValue() instanceof Map || e.getValue() instanceof List) {
          slots(e.getValue(), slots, e.getKey().equals("labels"));
        } else if (!labels) {
          slots.add(new Object[] {m, e.getKey()});
        }
      }
    } else if (node instanceof List<?> l) {
      for (int i = 0; i < l.size(); i++) {
        if (l.get(i) instanceof Map || l.get(i) instanceof List) {
          slots(l.get(i), slots, false);
        } else {
          slots.add(new Object[] {l, i});
        }
      }
    }
  }

  static String json(Object node) {
    StringBuilder sb = new StringBuilder();
    write(node, sb);
    return sb.toString();
  }

  static void write(Object node, StringBuilder sb) {
    if (node instanceof Map<?, ?> m) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        sb.append(first ? "" : ", ");
        first = false;
        string(String.valueOf(e.getKey()), sb);
        sb.append(": ");
        write(e.getValue(), sb);
      }
      sb.append('}');
    } else if (node instanceof List<?> l) {
      sb.append('[');
      for (int i = 0; i < l.size(); i++) {
        sb.append(i == 0 ? "" : ", ");
        write(l.get(i), sb);
      }
      sb.append(']');
    } else if (node instanceof Number) {
      sb.append(node);
    } else {
      string(String.valueOf(node), sb);
    }
  }

  static void string(String s, StringBuilder sb) {
    sb.append('"');
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        sb.append('\\');
      }
      sb.append(c);
    }
    sb.append('"');
  }
}
