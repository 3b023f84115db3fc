package io.meshup.core.internal.authz;

import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.jwt.Jwt;
import io.meshup.core.internal.policy.IpBlock;
import io.meshup.core.internal.policy.PathTemplate;
import io.meshup.core.internal.policy.WildcardMatch;
import io.meshup.core.route.InboundAuthorizer.Request;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The compiled matchers of AuthorizationPolicy values, each for one attribute of a request, in
 * Istio's semantics: a list of values matches when any value does, a list of not-values when none
 * does; an absent attribute matches no value and every not-value. Immutable; matching allocates
 * nothing.
 */
final class Matchers {
  private Matchers() {}

  /** One attribute's test: values and not-values. */
  interface Attribute {
    /** Whether the request (and its verified JWT, or null) satisfies this attribute's lists. */
    boolean matches(Request r, Jwt jwt);
  }

  static WildcardMatch[] wildcards(List<String> values) {
    return values.stream().map(WildcardMatch::of).toArray(WildcardMatch[]::new);
  }

  static boolean any(WildcardMatch[] ms, String v) {
    for (WildcardMatch m : ms) {
      if (m.matches(v)) {
        return true;
      }
    }
    return false;
  }

  /** A string attribute of the request. */
  interface StringOf {
    String get(Request r, Jwt jwt);
  }

  /** Values and not-values over one string attribute. */
  static Attribute strings(List<String> values, List<String> notValues, StringOf of) {
    WildcardMatch[] in = wildcards(values);
    WildcardMatch[] out = wildcards(notValues);
    return (r, jwt) -> {
      String v = of.get(r, jwt);
      return (in.length == 0 || any(in, v)) && (out.length == 0 || !any(out, v));
    };
  }

  static String principal(Request r, Jwt jwt) {
    WorkloadIdentity c = r.caller();
    return c == null ? null : c.principal();
  }

  static String namespace(Request r, Jwt jwt) {
    WorkloadIdentity c = r.caller();
    return c == null ? null : c.namespace();
  }

  /** {@code principals}, with the trust domain aliases of {@code bundle} (Istio's trust-domain migration). */
  static Attribute principals(List<String> values, List<String> notValues, TrustDomains bundle) {
    return strings(bundle.expand(values), bundle.expand(notValues), Matchers::principal);
  }

  /** Istio's trust domain and aliases; {@code cluster.local} in a principal means all of them. */
  record TrustDomains(List<String> domains) {
    static final String CLUSTER_LOCAL = "cluster.local";

    List<String> expand(List<String> principals) {
      if (domains.isEmpty()) {
        return principals;
      }
      Set<String> out = new LinkedHashSet<>();
      for (String p : principals) {
        String[] parts = p.split("/", -1);
        boolean spiffe = parts.length == 5 || parts.length == 7;
        if (!spiffe || parts[0].equals("*") || !(domains.contains(parts[0]) || parts[0].equals(CLUSTER_LOCAL))) {
          out.add(p);
          continue;
        }
        String rest = p.substring(parts[0].length());
        for (String td : domains) {
          out.add(td + rest);
        }
      }
      return new ArrayList<>(out);
    }
  }

  /** {@code serviceAccounts}: {@code ns/sa} or {@code sa} (of {@code defaultNamespace}), matching Istio-shaped identities. */
  static Attribute serviceAccounts(List<String> values, List<String> notValues, String defaultNamespace) {
    String[][] in = accounts(values, defaultNamespace);
    String[][] out = accounts(notValues, defaultNamespace);
    return (r, jwt) -> {
      WorkloadIdentity c = r.caller();
      return (in.length == 0 || isAccount(in, c)) && (out.length == 0 || !isAccount(out, c));
    };
  }

  private static String[][] accounts(List<String> values, String ns) {
    String[][] a = new String[values.size()][];
    for (int i = 0; i < a.length; i++) {
      String v = values.get(i);
      int slash = v.indexOf('/');
      a[i] = slash < 0 ? new String[] {ns, v} : new String[] {v.substring(0, slash), v.substring(slash + 1)};
    }
    return a;
  }

  private static boolean isAccount(String[][] accounts, WorkloadIdentity c) {
    if (c == null || !c.isServiceAccount()) {
      return false;
    }
    for (String[] a : accounts) {
      if (a[0].equals(c.namespace()) && a[1].equals(c.serviceAccount())) {
        return true;
      }
    }
    return false;
  }

  /** An address attribute. */
  interface AddressOf {
    java.net.InetAddress get(Request r);
  }

  static Attribute ipBlocks(List<String> values, List<String> notValues, AddressOf of) {
    IpBlock[] in = values.stream().map(IpBlock::of).toArray(IpBlock[]::new);
    IpBlock[] out = notValues.stream().map(IpBlock::of).toArray(IpBlock[]::new);
    return (r, jwt) -> {
      java.net.InetAddress a = of.get(r);
      return (in.length == 0 || inBlocks(in, a)) && (out.length == 0 || !inBlocks(out, a));
    };
  }

  private static boolean inBlocks(IpBlock[] blocks, java.net.InetAddress a) {
    for (IpBlock b : blocks) {
      if (b.matches(a)) {
        return true;
      }
    }
    return false;
  }

  static Attribute ports(List<String> values, List<String> notValues) {
    int[] in = values.stream().mapToInt(Integer::parseInt).toArray();
    int[] out = notValues.stream().mapToInt(Integer::parseInt).toArray();
    return (r, jwt) -> {
      int p = r.destinationPort();
      return (in.length == 0 || (p > 0 && contains(in, p))) && (out.length == 0 || !(p > 0 && contains(out, p)));
    };
  }

  private static boolean contains(int[] a, int v) {
    for (int x : a) {
      if (x == v) {
        return true;
      }
    }
    return false;
  }

  static Attribute paths(List<String> values, List<String> notValues) {
    PathTemplate[] in = values.stream().map(PathTemplate::of).toArray(PathTemplate[]::new);
    PathTemplate[] out = notValues.stream().map(PathTemplate::of).toArray(PathTemplate[]::new);
    return (r, jwt) -> {
      String p = r.path();
      return (in.length == 0 || anyPath(in, p)) && (out.length == 0 || !anyPath(out, p));
    };
  }

  private static boolean anyPath(PathTemplate[] ts, String p) {
    for (PathTemplate t : ts) {
      if (t.matches(p)) {
        return true;
      }
    }
    return false;
  }

  /** {@code hosts}: case-insensitive; a value without a port also matches the host with any port. */
  static Attribute hosts(List<String> values, List<String> notValues) {
    Host[] in = values.stream().map(Host::new).toArray(Host[]::new);
    Host[] out = notValues.stream().map(Host::new).toArray(Host[]::new);
    return (r, jwt) -> {
      String h = r.host();
      return (in.length == 0 || anyHost(in, h)) && (out.length == 0 || !anyHost(out, h));
    };
  }

  private static boolean anyHost(Host[] hs, String h) {
    if (h == null) {
      return false;
    }
    for (Host x : hs) {
      if (x.matches(h)) {
        return true;
      }
    }
    return false;
  }

  private static final class Host {
    private final String value;
    private final int kind; // 0 exact, 1 prefix, 2 suffix, 3 any
    private final boolean hasPort;

    Host(String text) {
      if (text.equals("*")) {
        kind = 3;
        value = "";
      } else if (text.startsWith("*")) {
        kind = 2;
        value = text.substring(1);
      } else if (text.endsWith("*")) {
        kind = 1;
        value = text.substring(0, text.length() - 1);
      } else {
        kind = 0;
        value = text;
      }
      hasPort = value.indexOf(':') >= 0 || kind == 1;
    }

    boolean matches(String host) {
      return region(host, host.length()) || (!hasPort && portAt(host) > 0 && region(host, portAt(host)));
    }

    private static int portAt(String host) {
      int colon = host.lastIndexOf(':');
      return colon > 0 && host.indexOf(']', colon) < 0 ? colon : -1;
    }

    private boolean region(String h, int end) {
      switch (kind) {
        case 0:
          return end == value.length() && h.regionMatches(true, 0, value, 0, end);
        case 1:
          return end >= value.length() && h.regionMatches(true, 0, value, 0, value.length());
        case 2:
          return end >= value.length() && h.regionMatches(true, end - value.length(), value, 0, value.length());
        default:
          return end > 0;
      }
    }
  }

  /** {@code request.headers[name]}: {@code *} means present (even empty), else a wildcard on the value. */
  static Attribute header(String name, List<String> values, List<String> notValues) {
    HeaderValue[] in = values.stream().map(HeaderValue::new).toArray(HeaderValue[]::new);
    HeaderValue[] out = notValues.stream().map(HeaderValue::new).toArray(HeaderValue[]::new);
    return (r, jwt) -> {
      String v = r.header(name);
      return (in.length == 0 || anyHeader(in, v)) && (out.length == 0 || !anyHeader(out, v));
    };
  }

  private static boolean anyHeader(HeaderValue[] hs, String v) {
    if (v == null) {
      return false;
    }
    for (HeaderValue h : hs) {
      if (h.presence || h.match.matches(v)) {
        return true;
      }
    }
    return false;
  }

  private static final class HeaderValue {
    final boolean presence;
    final WildcardMatch match;

    HeaderValue(String text) {
      presence = text.equals("*");
      match = presence ? null : WildcardMatch.of(text);
    }
  }

  /** A claim ({@code request.auth.claims[a][b]}), of type string or list of strings, any element matching. */
  static Attribute claim(String[] path, List<String> values, List<String> notValues) {
    WildcardMatch[] in = wildcards(values);
    WildcardMatch[] out = wildcards(notValues);
    return (r, jwt) -> {
      Object v = jwt == null ? null : jwt.claim(path);
      return (in.length == 0 || anyClaim(in, v)) && (out.length == 0 || !anyClaim(out, v));
    };
  }

  static boolean anyClaim(WildcardMatch[] ms, Object v) {
    if (v instanceof String s) {
      return any(ms, s);
    }
    if (v instanceof List<?> list) {
      for (Object o : list) {
        if (o instanceof String s && any(ms, s)) {
          return true;
        }
      }
    }
    return false;
  }

  static Attribute audiences(List<String> values, List<String> notValues) {
    WildcardMatch[] in = wildcards(values);
    WildcardMatch[] out = wildcards(notValues);
    return (r, jwt) -> {
      Object v = jwt == null ? null : jwt.audiences();
      return (in.length == 0 || anyClaim(in, v)) && (out.length == 0 || !anyClaim(out, v));
    };
  }

  /**
   * {@code requestPrincipals} and {@code request.auth.principal}: {@code <iss>/<sub>}, split at the
   * last {@code /} of the value as Istio does, a {@code *} standing for any non-empty part.
   */
  static Attribute requestPrincipals(List<String> values, List<String> notValues) {
    RequestPrincipal[] in = values.stream().map(RequestPrincipal::new).toArray(RequestPrincipal[]::new);
    RequestPrincipal[] out = notValues.stream().map(RequestPrincipal::new).toArray(RequestPrincipal[]::new);
    return (r, jwt) -> (in.length == 0 || anyPrincipal(in, jwt)) && (out.length == 0 || !anyPrincipal(out, jwt));
  }

  private static boolean anyPrincipal(RequestPrincipal[] ps, Jwt jwt) {
    if (jwt == null) {
      return false;
    }
    for (RequestPrincipal p : ps) {
      if (p.matches(jwt.issuer(), jwt.subject())) {
        return true;
      }
    }
    return false;
  }

  private static final class RequestPrincipal {
    private static final WildcardMatch ANY = WildcardMatch.of("*");
    private final WildcardMatch iss;
    private final WildcardMatch sub;

    RequestPrincipal(String value) {
      int idx = value.lastIndexOf('/');
      boolean found = idx >= 0;
      String i = found ? value.substring(0, idx) : value;
      String s = found ? value.substring(idx + 1) : "";
      if (value.equals("*")) {
        iss = ANY;
        sub = ANY;
      } else if (value.startsWith("*")) {
        if (found) {
          iss = i.equals("*") ? ANY : WildcardMatch.of(i);
          sub = WildcardMatch.of(s.isEmpty() ? "*" : s);
        } else {
          iss = ANY;
          sub = WildcardMatch.of(value);
        }
      } else if (value.endsWith("*")) {
        if (found) {
          iss = WildcardMatch.of(i);
          sub = s.equals("*") ? ANY : WildcardMatch.of(s);
        } else {
          iss = WildcardMatch.of(value);
          sub = ANY;
        }
      } else {
        iss = WildcardMatch.of(i);
        sub = found && !s.isEmpty() ? WildcardMatch.of(s) : null;
      }
    }

    boolean matches(String issuer, String subject) {
      return iss.matches(issuer) && (sub == null ? subject == null || subject.isEmpty() : sub.matches(subject));
    }
  }
}
