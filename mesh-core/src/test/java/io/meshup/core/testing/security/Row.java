package io.meshup.core.testing.security;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One row of the decision table: the documented sentence it checks and where it is from, the
 * policies in force (YAML; {@code {{PORT}}} stands for the port the call goes to), the call, and
 * what must happen. {@code on} names the transports the row applies to (an HTTP method other than
 * POST or a query has no gRPC form).
 */
public record Row(String id, String quote, String source, String policies, Call call, Expect expect,
    Map<String, String> seen, Set<Transport> on) {

  /** What must happen. */
  public enum Expect {
    /** The handler runs: HTTP 200, gRPC OK. */
    ALLOW,
    /** Refused by authorization: HTTP 403, gRPC PERMISSION_DENIED. */
    DENY,
    /** Refused for its JWT: HTTP 401, gRPC UNAUTHENTICATED. */
    UNAUTHENTICATED,
    /** A plaintext call refused for want of mutual TLS: 401 / UNAUTHENTICATED, or its connection closed. */
    MTLS_REQUIRED
  }

  /** The servers a row runs on. */
  public enum Transport {
    GRPC,
    JDK,
    NETTY
  }

  /** One call: who, how, where. {@code caller} is sleep, curl, web or null (plaintext). */
  public record Call(String caller, String method, String path, String query, String host, String sni,
      List<Map.Entry<String, String>> headers) {
    public static Call of(String caller) {
      return new Call(caller, "GET", "/info", null, "payments", null, List.of());
    }

    public Call method(String m) {
      return new Call(caller, m, path, query, host, sni, headers);
    }

    public Call path(String p) {
      return new Call(caller, method, p, query, host, sni, headers);
    }

    public Call query(String q) {
      return new Call(caller, method, path, q, host, sni, headers);
    }

    public Call host(String h) {
      return new Call(caller, method, path, query, h, sni, headers);
    }

    public Call sni(String s) {
      return new Call(caller, method, path, query, host, s, headers);
    }

    public Call header(String name, String value) {
      List<Map.Entry<String, String>> h = new ArrayList<>(headers);
      h.add(Map.entry(name, value));
      return new Call(caller, method, path, query, host, sni, List.copyOf(h));
    }

    public Call bearer(String token) {
      return header("authorization", "Bearer " + token);
    }

    /** The request target: path and query. */
    public String target() {
      return query == null ? path : path + "?" + query;
    }
  }

  /** Expects the handler to have seen {@code header} with {@code value} (null: absent). */
  public Row seeing(String header, String value) {
    Map<String, String> s = new LinkedHashMap<>(seen);
    s.put(header, value);
    return new Row(id, quote, source, policies, call, expect, s, on);
  }

  /** This row on {@code transports} only. */
  public Row only(Transport... transports) {
    return new Row(id, quote, source, policies, call, expect, seen, Set.of(transports));
  }

  @Override
  public String toString() {
    return id;
  }
}
