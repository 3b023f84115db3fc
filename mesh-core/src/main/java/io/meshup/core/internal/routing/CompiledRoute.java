package io.meshup.core.internal.routing;

import io.meshup.core.internal.policy.PolicyModel.RequestMatch;
import io.meshup.core.internal.policy.StringMatch;
import io.meshup.core.route.RequestAttributes;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/** One route, precompiled: its matches (any may hold) and cumulative target weights. Immutable. */
final class CompiledRoute {
  private final Match[] matches;
  private final Target[] targets;
  private final int[] cumulative;
  private final int total;

  CompiledRoute(List<RequestMatch> matches, List<Target> targets, List<Integer> weights) {
    this.matches = matches.stream().map(Match::new).toArray(Match[]::new);
    this.targets = targets.toArray(new Target[0]);
    this.cumulative = new int[weights.size()];
    int sum = 0;
    for (int i = 0; i < weights.size(); i++) {
      sum += weights.get(i);
      cumulative[i] = sum;
    }
    this.total = sum;
  }

  Target[] targets() {
    return targets;
  }

  /** The weight of target {@code i}. */
  int weight(int i) {
    return cumulative[i] - (i == 0 ? 0 : cumulative[i - 1]);
  }

  /** How many match entries the route has (0: it matches every request). */
  int matchCount() {
    return matches.length;
  }

  boolean matches(RequestAttributes req) {
    if (matches.length == 0) {
      return true;
    }
    for (Match m : matches) {
      if (m.test(req)) {
        return true;
      }
    }
    return false;
  }

  /** One random draw over the cumulative weights. */
  Target pick() {
    if (targets.length == 1) {
      return targets[0];
    }
    int r = ThreadLocalRandom.current().nextInt(total);
    for (int i = 0; i < cumulative.length; i++) {
      if (r < cumulative[i]) {
        return targets[i];
      }
    }
    return targets[targets.length - 1];
  }

  /** All conditions of one {@code match} entry. */
  private static final class Match {
    private final StringMatch uri;
    private final StringMatch method;
    private final String[] headerNames;
    private final StringMatch[] headerMatches;
    private final String[] absentNames;
    private final StringMatch[] absentMatches;

    Match(RequestMatch m) {
      this.uri = m.uri();
      this.method = m.method();
      this.headerNames = m.headers().keySet().toArray(new String[0]);
      this.headerMatches = new StringMatch[headerNames.length];
      for (int i = 0; i < headerNames.length; i++) {
        headerMatches[i] = m.headers().get(headerNames[i]);
      }
      Map<String, StringMatch> without = m.withoutHeaders();
      this.absentNames = without.keySet().toArray(new String[0]);
      this.absentMatches = new StringMatch[absentNames.length];
      for (int i = 0; i < absentNames.length; i++) {
        absentMatches[i] = without.get(absentNames[i]);
      }
    }

    boolean test(RequestAttributes req) {
      if (uri != null && !uri.matches(req.path())) {
        return false;
      }
      if (method != null && !method.matches(req.method())) {
        return false;
      }
      for (int i = 0; i < headerNames.length; i++) {
        String v = req.header(headerNames[i]);
        if (v == null || !headerMatches[i].matches(v)) {
          return false;
        }
      }
      for (int i = 0; i < absentNames.length; i++) {
        String v = req.header(absentNames[i]);
        if (v != null && absentMatches[i].matches(v)) {
          return false;
        }
      }
      return true;
    }
  }
}
