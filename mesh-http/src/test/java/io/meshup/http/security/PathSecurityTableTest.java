package io.meshup.http.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.PathNormalization;
import io.meshup.core.identity.MtlsMode;
import io.meshup.http.security.SecurityServers.Adapter;
import io.meshup.http.security.SecurityServers.Running;
import java.net.URI;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Path and method tricks against both HTTP adapters, written on raw sockets so that no client
 * normalizes them. The policy denies {@code /admin*} to everyone and {@code DELETE} on
 * {@code /public/*}; every other request is allowed. Each row says what must come back: 403 (the
 * policy refused what the handler would have seen), 400 (refused as ambiguous), "refused" (400 or
 * 404, the JDK server refusing some targets itself, or a closed connection), or 200 with the
 * exact request URI the handler saw (and, on the JDK server, the context the normalized path
 * belongs to). A 200 whose handler saw an {@code /admin} path, or ran in the {@code /admin}
 * context, is a bypass and fails whatever the row says.
 *
 * <p>Rows follow Istio's "Authorization Policy Normalization" reference (the decoding table,
 * backslashes, dot segments, merged slashes, queries, methods) and the attacks of issue 11
 * ({@code /%61dmin}, {@code /./admin}, {@code /public/../admin}, absolute-form targets,
 * {@code delete}).
 */
class PathSecurityTableTest {
  static final String POLICIES = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: deny-admin }
      spec:
        action: DENY
        rules:
        - to: [{ operation: { paths: ["/admin*"] } }]
      ---
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: deny-delete }
      spec:
        action: DENY
        rules:
        - to: [{ operation: { paths: ["/public/*"], methods: [DELETE] } }]
      """;

  static final Map<PathNormalization, Map<Adapter, Running>> servers = new EnumMap<>(PathNormalization.class);

  @BeforeAll
  static void start() throws Exception {
    for (PathNormalization n : PathNormalization.values()) {
      Map<Adapter, Running> byAdapter = new EnumMap<>(Adapter.class);
      for (Adapter a : Adapter.values()) {
        byAdapter.put(a, SecurityServers.start(a, SecurityServers.mesh(n, POLICIES, null, MtlsMode.DISABLE), MtlsMode.DISABLE));
      }
      servers.put(n, byAdapter);
    }
  }

  @AfterAll
  static void stop() throws Exception {
    for (Map<Adapter, Running> m : servers.values()) {
      for (Running r : m.values()) {
        r.close();
      }
    }
  }

  /** A row: what both adapters must answer, or {@code jdk=...;netty=...} when the JDK server refuses a target itself. */
  static Arguments row(PathNormalization mode, String method, String target, String expected) {
    return Arguments.of(mode, method, target, expected);
  }

  static List<Arguments> base() {
    PathNormalization m = PathNormalization.BASE;
    return List.of(
        row(m, "GET", "/public/x", "200 /public/x"),
        row(m, "GET", "/admin", "403"),
        row(m, "GET", "/admin/x", "403"),
        row(m, "GET", "/adminx", "403"),
        row(m, "GET", "/%61dmin", "403"),
        row(m, "GET", "/%61dmin/users", "403"),
        row(m, "GET", "/%61%64%6d%69%6e", "403"),
        row(m, "GET", "/ad%6Din", "403"),
        row(m, "GET", "/%41dmin", "200 /Admin"),
        row(m, "GET", "/ADMIN", "200 /ADMIN"),
        row(m, "GET", "/./admin", "403"),
        row(m, "GET", "/././admin", "403"),
        row(m, "GET", "/public/../admin", "403"),
        row(m, "GET", "/public/x/../../admin", "403"),
        row(m, "GET", "/public/%2e%2e/admin", "403"),
        row(m, "GET", "/public/%2E%2E/admin", "403"),
        row(m, "GET", "/public/.%2e/admin", "403"),
        row(m, "GET", "/public/%2e./admin", "403"),
        row(m, "GET", "/%2e/admin", "403"),
        row(m, "GET", "/public/..%2fadmin", "400"),
        row(m, "GET", "/public%2fadmin", "400"),
        row(m, "GET", "/public%2Fadmin", "400"),
        row(m, "GET", "/public%5cadmin", "400"),
        row(m, "GET", "/public%5C..%5Cadmin", "400"),
        row(m, "GET", "/%2fadmin", "400"),
        row(m, "GET", "/admin%2f", "400"),
        row(m, "GET", "/public\\admin", "jdk=refused;netty=200 /public/admin"),
        row(m, "GET", "/public\\..\\admin", "jdk=refused;netty=403"),
        row(m, "GET", "\\admin", "refused"),
        row(m, "GET", "/admin\\", "jdk=refused;netty=403"),
        // the JDK server reads "//admin" as an authority with an empty path and finds no context
        row(m, "GET", "//admin", "jdk=refused;netty=200 //admin"),
        row(m, "GET", "/admin/", "403"),
        row(m, "GET", "/admin?", "403"),
        row(m, "GET", "/admin?x=1", "403"),
        row(m, "GET", "/public/x?/../admin", "200 /public/x?/../admin"),
        row(m, "GET", "/public/x?%61dmin", "200 /public/x?%61dmin"),
        row(m, "GET", "/admin#frag", "refused"),
        row(m, "GET", "/public/x#/../admin", "refused"),
        row(m, "GET", "http://payments/admin", "403"),
        row(m, "GET", "HTTP://payments/admin", "403"),
        row(m, "GET", "https://payments/admin", "403"),
        row(m, "GET", "http://payments/%61dmin", "403"),
        row(m, "GET", "http://payments/public/../admin", "403"),
        row(m, "GET", "http://payments/public/x", "200 /public/x"),
        row(m, "GET", "http://payments/public/x?q=1", "200 /public/x?q=1"),
        row(m, "GET", "http://payments", "jdk=refused;netty=200 /"),
        row(m, "GET", "http://user@payments/admin", "refused"),
        row(m, "GET", "payments/admin", "refused"),
        row(m, "GET", "admin", "refused"),
        row(m, "GET", "*", "refused"),
        row(m, "GET", "/admin%00", "400"),
        row(m, "GET", "/%00admin", "400"),
        row(m, "GET", "/%zzadmin", "400"),
        row(m, "GET", "/admin%4", "400"),
        row(m, "GET", "/admin%", "400"),
        row(m, "GET", "/..", "400"),
        row(m, "GET", "/../admin", "400"),
        row(m, "GET", "/public/../../admin", "400"),
        row(m, "GET", "/%2e%2e/admin", "400"),
        row(m, "GET", "/public/%2e%2e/%2e%2e/admin", "400"),
        row(m, "GET", "/%2561dmin", "200 /%2561dmin"),
        row(m, "GET", "/admin%20", "403"),
        row(m, "GET", "/adm%C3%AFn", "200 /adm%C3%AFn"),
        row(m, "GET", "/public/./x", "200 /public/x"),
        row(m, "GET", "/public/x/..", "200 /public/"),
        row(m, "GET", "/public/%2e", "200 /public/"),
        row(m, "GET", "/public//x", "200 /public//x"),
        row(m, "GET", "/public/..;/admin", "200 /public/..;/admin"),
        row(m, "GET", "/admin/../public/x", "200 /public/x"),
        row(m, "GET", "/public/%7e%5f", "200 /public/~_"),
        row(m, "GET", "/public/%7E%2D", "200 /public/~-"),
        row(m, "GET", "/public/%3b", "200 /public/%3B"),
        row(m, "HEAD", "/admin", "403"),
        row(m, "OPTIONS", "/admin", "403"),
        row(m, "POST", "/admin", "403"),
        row(m, "PUT", "/%61dmin", "403"),
        row(m, "DELETE", "/public/x", "403"),
        row(m, "DELETE", "/public/%78", "403"),
        row(m, "DELETE", "/public/./x", "403"),
        row(m, "DELETE", "/admin/../public/x", "403"),
        row(m, "delete", "/public/x", "400"),
        row(m, "Delete", "/public/x", "400"),
        row(m, "DELETe", "/public/x", "400"),
        row(m, "get", "/admin", "400"),
        row(m, "get", "/public/x", "400"),
        row(m, "GET", "/public/x\u00e9", "refused"));
  }

  static List<Arguments> otherModes() {
    List<Arguments> rows = new ArrayList<>();
    PathNormalization merge = PathNormalization.MERGE_SLASHES;
    rows.add(row(merge, "GET", "//admin", "jdk=refused;netty=403"));
    rows.add(row(merge, "GET", "///admin///x", "403"));
    rows.add(row(merge, "GET", "/public//x", "200 /public/x"));
    rows.add(row(merge, "GET", "/public/..//admin", "403"));
    rows.add(row(merge, "GET", "/public%2fadmin", "400"));
    rows.add(row(merge, "GET", "/%61dmin", "403"));
    PathNormalization decode = PathNormalization.DECODE_AND_MERGE_SLASHES;
    rows.add(row(decode, "GET", "/public%2fx", "200 /public/x"));
    rows.add(row(decode, "GET", "/public%2f..%2fadmin", "403"));
    rows.add(row(decode, "GET", "/%2Fadmin", "403"));
    rows.add(row(decode, "GET", "/public%5c..%5cadmin", "403"));
    rows.add(row(decode, "GET", "/public%5Cx", "200 /public/x"));
    rows.add(row(decode, "GET", "/%2e%2e%2fadmin", "400"));
    rows.add(row(decode, "GET", "/%252fadmin", "200 /%252fadmin"));
    PathNormalization none = PathNormalization.NONE;
    rows.add(row(none, "GET", "/admin", "403"));
    rows.add(row(none, "GET", "/public/x", "200 /public/x"));
    rows.add(row(none, "GET", "/%61dmin", "jdk=400;netty=200 /%61dmin"));
    rows.add(row(none, "GET", "/./admin", "200 /./admin"));
    rows.add(row(none, "GET", "/admin%00", "400"));
    rows.add(row(none, "delete", "/public/x", "400"));
    return rows;
  }

  static Stream<Arguments> rows() {
    List<Arguments> all = new ArrayList<>(base());
    all.addAll(otherModes());
    List<Arguments> out = new ArrayList<>();
    for (Arguments a : all) {
      for (Adapter adapter : Adapter.values()) {
        Object[] r = a.get();
        out.add(Arguments.of(adapter, r[0], r[1], r[2], r[3]));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}: {2} {3} -> {4}")
  @MethodSource("rows")
  void noPathOrMethodTrickGetsPastTheAuthorizer(Adapter adapter, PathNormalization mode, String method, String target,
      String expected) throws Exception {
    Running server = servers.get(mode).get(adapter);
    String want = expectedFor(adapter, expected);
    int before = server.seen.size();
    RawHttp.Answer a = RawHttp.send(server.port, method + " " + target + " HTTP/1.1");

    if (a.status() == 200) {
      String[] saw = a.body().split("\\|", -1);
      String uri = adapter == Adapter.JDK ? saw[1] : saw[1];
      // with NONE the handler gets the raw path, as authorized (Istio's NONE: the application
      // must not decode it); otherwise what it sees, decoded, must not be an admin path
      String path = mode == PathNormalization.NONE ? uri : URI.create(uri.startsWith("/") ? uri : "/").getPath();
      assertThat(path).as("BYPASS: the handler saw an admin path").doesNotStartWith("/admin");
      if (adapter == Adapter.JDK) {
        assertThat(saw[0]).as("BYPASS: the /admin handler ran").isNotEqualTo("/admin");
        assertThat(saw[0]).as("the context the normalized path belongs to").isEqualTo(context(path));
      }
    }
    if (want.startsWith("200 ")) {
      assertThat(a.status()).as("status; body %s", a.body()).isEqualTo(200);
      assertThat(a.body().split("\\|", -1)[1]).as("the request URI the handler saw").isEqualTo(want.substring(4));
      return;
    }
    assertThat(server.seen.size()).as("the handler must not run; it saw %s", server.seen).isEqualTo(before);
    switch (want) {
      case "403" -> assertThat(a.status()).as("body %s", a.body()).isEqualTo(403);
      case "400" -> assertThat(a.status()).as("body %s", a.body()).isEqualTo(400);
      case "refused" -> assertThat(a.status()).as("body %s", a.body()).isIn(0, 400, 404);
      default -> throw new AssertionError("bad row: " + want);
    }
  }

  private static String expectedFor(Adapter adapter, String expected) {
    if (!expected.startsWith("jdk=")) {
      return expected;
    }
    for (String part : expected.split(";")) {
      String[] kv = part.split("=", 2);
      if (kv[0].equals(adapter.name().toLowerCase(java.util.Locale.ROOT))) {
        return kv[1];
      }
    }
    throw new AssertionError("bad row: " + expected);
  }

  /** The JDK's rule: the longest context path the decoded path starts with. */
  private static String context(String decodedPath) {
    String best = "/";
    for (String c : List.of("/admin", "/public")) {
      if (decodedPath.startsWith(c) && c.length() > best.length()) {
        best = c;
      }
    }
    return best;
  }
}
