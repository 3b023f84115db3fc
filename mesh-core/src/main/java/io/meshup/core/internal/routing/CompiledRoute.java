package io.meshup.core.internal.routing;

import io.meshup.core.internal.policy.PolicyModel.RequestMatch;
import io.meshup.core.internal.policy.PolicySet;
import io.meshup.core.internal.policy.StringMatch;
import io.meshup.core.route.RequestAttributes;
import java.util.List;
import java.util.Map;
import java.util.function.LongBinaryOperator;

/**
 * One route, precompiled: its matches (any may hold) and, per match, the targets with cumulative
 * weights (a destination gets weight / sum of weights of the requests, as Istio has it).
 * Immutable.
 */
final class CompiledRoute {
  private final Match[] matches;
  /** Per match (one row when the route has no match), the targets in route order. */
  private final Target[][] targets;
  private final int[] cumulative;
  private final int total;
  private final LongBinaryOperator random;

  /**
   * @param targets per match (or one row for a route without matches), one target per destination
   * @param weights the destinations' weights, one at least positive
   */
  CompiledRoute(List<RequestMatch> matches, PolicySet.Client client, List<List<Target>> targets, List<Integer> weights,
      LongBinaryOperator random) {
    this.matches = matches.stream().map(m -> new Match(m, client)).toArray(Match[]::new);
    this.targets = targets.stream().map(row -> row.toArray(new Target[0])).toArray(Target[][]::new);
    this.cumulative = new int[weights.size()];
    int sum = 0;
    for (int i = 0; i < weights.size(); i++) {
      sum += weights.get(i);
      cumulative[i] = sum;
    }
    this.total = sum;
    this.random = random;
  }

  /** Every target of this route (for the destinations it sends to). */
  Target[] targets() {
    return targets[0];
  }

  /** The weight of target {@code i}. */
  int weight(int i) {
    return cumulative[i] - (i == 0 ? 0 : cumulative[i - 1]);
  }

  /** How many match entries the route has (0: it matches every request). */
  int matchCount() {
    return matches.length;
  }

  /** The index of the first match that holds for {@code req}: 0 for a route without matches, -1 for none. */
  int match(RequestAttributes req) {
    if (matches.length == 0) {
      return 0;
    }
    for (int i = 0; i < matches.length; i++) {
      if (matches[i].test(req)) {
        return i;
      }
    }
    return -1;
  }

  /** One random draw over the cumulative weights, among the targets of match {@code m}. */
  Target pick(int m) {
    Target[] row = targets[m];
    if (row.length == 1) {
      return row[0];
    }
    long r = random.applyAsLong(0, total);
    for (int i = 0; i < cumulative.length; i++) {
      if (r < cumulative[i]) {
        return row[i];
      }
    }
    return row[row.length - 1];
  }

  /** All conditions of one {@code match} entry. */
  private static final class Match {
    /** False when the match's sourceLabels or sourceNamespace do not hold for this client: it never matches. */
    private final boolean clientMatches;
    private final StringMatch uri;
    private final StringMatch method;
    private final StringMatch scheme;
    private final StringMatch authority;
    private final int port;
    private final String[] headerNames;
    private final StringMatch[] headerMatches;
    private final String[] absentNames;
    private final StringMatch[] absentMatches;
    private final String[] queryNames;
    private final StringMatch[] queryMatches;

    Match(RequestMatch m, PolicySet.Client client) {
      boolean ok = m.mesh() && (m.sourceNamespace() == null || m.sourceNamespace().equals(client.namespace()));
      for (Map.Entry<String, String> l : m.sourceLabels().entrySet()) {
        ok &= l.getValue().equals(client.labels().get(l.getKey()));
      }
      this.clientMatches = ok;
      this.uri = m.uri();
      this.method = m.method();
      this.scheme = m.scheme();
      this.authority = m.authority();
      this.port = m.port();
      // Istio: the keys uri, scheme, method and authority are ignored in headers
      Map<String, StringMatch> headers = new java.util.LinkedHashMap<>(m.headers());
      headers.keySet().removeAll(List.of("uri", "scheme", "method", "authority"));
      this.headerNames = headers.keySet().toArray(new String[0]);
      this.headerMatches = headers.values().toArray(new StringMatch[0]);
      Map<String, StringMatch> without = new java.util.LinkedHashMap<>(m.withoutHeaders());
      without.keySet().removeAll(List.of("uri", "scheme", "method", "authority"));
      this.absentNames = without.keySet().toArray(new String[0]);
      this.absentMatches = without.values().toArray(new StringMatch[0]);
      this.queryNames = m.queryParams().keySet().toArray(new String[0]);
      this.queryMatches = m.queryParams().values().toArray(new StringMatch[0]);
    }

    boolean test(RequestAttributes req) {
      if (!clientMatches) {
        return false;
      }
      if (uri != null && !uri.matches(req.path())) {
        return false;
      }
      if (method != null && !method.matches(req.method())) {
        return false;
      }
      if (scheme != null && !scheme.matches(req.scheme())) {
        return false;
      }
      if (authority != null && !authority.matches(req.authority())) {
        return false;
      }
      if (port != 0 && req.port() != port) {
        return false;
      }
      for (int i = 0; i < headerNames.length; i++) {
        String v = req.header(headerNames[i]);
        if (v == null || !headerMatches[i].matches(v)) {
          return false;
        }
      }
      // Envoy inverts the header matcher: an absent header fails it unless it is a presence match
      for (int i = 0; i < absentNames.length; i++) {
        String v = req.header(absentNames[i]);
        if (v == null ? absentMatches[i].kind() != StringMatch.Kind.PRESENT : absentMatches[i].matches(v)) {
          return false;
        }
      }
      if (queryNames.length > 0) {
        String q = req.query();
        for (int i = 0; i < queryNames.length; i++) {
          String v = queryParameter(q, queryNames[i]);
          if (v == null || !queryMatches[i].matches(v)) {
            return false;
          }
        }
      }
      return true;
    }
  }

  /**
   * The first value of a query parameter in a raw query string ({@code ""} for {@code ?key}), or
   * null when absent. Names and values compare as sent (not percent-decoded), as Envoy does.
   */
  static String queryParameter(String query, String name) {
    if (query == null || query.isEmpty()) {
      return null;
    }
    int i = 0;
    int n = query.length();
    while (i <= n) {
      int amp = query.indexOf('&', i);
      int end = amp < 0 ? n : amp;
      int eq = query.indexOf('=', i);
      int keyEnd = eq < 0 || eq > end ? end : eq;
      if (keyEnd - i == name.length() && query.startsWith(name, i)) {
        return keyEnd == end ? "" : query.substring(keyEnd + 1, end);
      }
      if (amp < 0) {
        break;
      }
      i = amp + 1;
    }
    return null;
  }
}
