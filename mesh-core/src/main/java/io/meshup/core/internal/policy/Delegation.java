package io.meshup.core.internal.policy;

import io.meshup.core.internal.policy.PolicyModel.HttpRoute;
import io.meshup.core.internal.policy.PolicyModel.RequestMatch;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.RetryPolicy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Merges a delegate VirtualService's route into the root route that delegates to it, as Istio
 * does: each of the delegate's matches must fall within one of the root's (its conditions are
 * added to the root's; a condition both set must agree, a delegate's uri must lie within the
 * root's exact or prefix uri); a combination that conflicts is dropped, and a route none of whose
 * combinations holds does not take effect. What the delegate's route leaves unset (timeout,
 * retries, fault, rewrite, headers, mirrors) it takes from the root's. Stateless.
 */
final class Delegation {
  private Delegation() {}

  /** The merged route, or null when no combination of matches holds. */
  static HttpRoute merge(HttpRoute root, HttpRoute child) {
    List<RequestMatch> matches = new ArrayList<>();
    if (root.matches().isEmpty()) {
      matches.addAll(child.matches());
    } else if (child.matches().isEmpty()) {
      matches.addAll(root.matches());
    } else {
      for (RequestMatch r : root.matches()) {
        for (RequestMatch c : child.matches()) {
          RequestMatch m = merge(r, c);
          if (m != null) {
            matches.add(m);
          }
        }
      }
      if (matches.isEmpty()) {
        return null;
      }
    }
    return new HttpRoute(child.name(), List.copyOf(matches), child.route(),
        child.timeout().isZero() ? root.timeout() : child.timeout(),
        child.retries() == RetryPolicy.NONE ? root.retries() : child.retries(),
        child.fault() == FaultPolicy.NONE ? root.fault() : child.fault(),
        child.rewrite() != null ? child.rewrite() : root.rewrite(),
        child.requestHeaders().isEmpty() ? root.requestHeaders() : child.requestHeaders(),
        child.responseHeaders().isEmpty() ? root.responseHeaders() : child.responseHeaders(),
        child.redirect(), child.directResponse(), child.mirrors().isEmpty() ? root.mirrors() : child.mirrors(), null,
        child.cors() != null ? child.cors() : root.cors(), child.where());
  }

  private static RequestMatch merge(RequestMatch r, RequestMatch c) {
    StringMatch uri = uri(r.uri(), c.uri());
    if (uri == CONFLICT) {
      return null;
    }
    StringMatch scheme = same(r.scheme(), c.scheme());
    StringMatch method = same(r.method(), c.method());
    StringMatch authority = same(r.authority(), c.authority());
    if (scheme == CONFLICT || method == CONFLICT || authority == CONFLICT) {
      return null;
    }
    Map<String, StringMatch> headers = union(r.headers(), c.headers());
    Map<String, StringMatch> without = union(r.withoutHeaders(), c.withoutHeaders());
    Map<String, StringMatch> query = union(r.queryParams(), c.queryParams());
    if (headers == null || without == null || query == null) {
      return null;
    }
    if (r.port() != 0 && c.port() != 0 && r.port() != c.port()) {
      return null;
    }
    Map<String, String> labels = new LinkedHashMap<>(r.sourceLabels());
    for (Map.Entry<String, String> e : c.sourceLabels().entrySet()) {
      if (labels.containsKey(e.getKey()) && !labels.get(e.getKey()).equals(e.getValue())) {
        return null;
      }
      labels.put(e.getKey(), e.getValue());
    }
    if (r.sourceNamespace() != null && c.sourceNamespace() != null && !r.sourceNamespace().equals(c.sourceNamespace())) {
      return null;
    }
    return new RequestMatch(c.name() != null ? c.name() : r.name(), uri, scheme, method, authority, headers, without,
        query, c.port() != 0 ? c.port() : r.port(), Map.copyOf(labels),
        c.sourceNamespace() != null ? c.sourceNamespace() : r.sourceNamespace(), r.mesh() && c.mesh());
  }

  /** Marks a conflict. */
  private static final StringMatch CONFLICT = new StringMatch(StringMatch.Kind.EXACT, "\u0000conflict", false);

  /** The delegate's uri when it lies within the root's; the root's when the delegate sets none. */
  private static StringMatch uri(StringMatch root, StringMatch child) {
    if (root == null) {
      return child;
    }
    if (child == null) {
      return root;
    }
    if (root.kind() == StringMatch.Kind.REGEX || child.kind() == StringMatch.Kind.REGEX) {
      return CONFLICT; // Istio: no other match on a property a regex matches
    }
    if (root.kind() == StringMatch.Kind.PREFIX && root.matches(child.value())) {
      return child;
    }
    if (root.kind() == StringMatch.Kind.EXACT && child.kind() == StringMatch.Kind.EXACT && root.matches(child.value())) {
      return child;
    }
    return CONFLICT;
  }

  private static StringMatch same(StringMatch a, StringMatch b) {
    if (a == null) {
      return b;
    }
    if (b == null || (a.kind() == b.kind() && a.value().equals(b.value()))) {
      return a;
    }
    return CONFLICT;
  }

  private static Map<String, StringMatch> union(Map<String, StringMatch> a, Map<String, StringMatch> b) {
    Map<String, StringMatch> out = new LinkedHashMap<>(a);
    for (Map.Entry<String, StringMatch> e : b.entrySet()) {
      StringMatch prior = out.get(e.getKey());
      if (prior != null && same(prior, e.getValue()) == CONFLICT) {
        return null;
      }
      out.put(e.getKey(), e.getValue());
    }
    return Map.copyOf(out);
  }

}
