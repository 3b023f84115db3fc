package io.meshup.core.internal.routing;

import io.meshup.core.internal.policy.PolicyModel.Cors;
import io.meshup.core.internal.policy.StringMatch;
import io.meshup.core.route.HeaderEdits;
import java.util.ArrayList;
import java.util.List;

/**
 * A route's {@code corsPolicy}, as Envoy's CORS filter applies it: a preflight ({@code OPTIONS}
 * with {@code Origin} and {@code Access-Control-Request-Method}) from an allowed origin is answered
 * at once with the policy's {@code Access-Control-Allow-*} headers and never sent on; any other
 * request from an allowed origin gets {@code Access-Control-Allow-Origin} (the origin),
 * {@code Access-Control-Allow-Credentials} and {@code Access-Control-Expose-Headers} on its
 * response. A request from an origin not allowed gets no CORS header; its preflight goes on to the
 * destination unless {@code unmatchedPreflights: IGNORE}, which answers it without CORS headers.
 * Immutable.
 */
final class CorsRules {
  private final Cors cors;
  private final String methods;
  private final String headers;
  private final String expose;

  CorsRules(Cors cors) {
    this.cors = cors;
    this.methods = String.join(",", cors.allowMethods());
    this.headers = String.join(",", cors.allowHeaders());
    this.expose = String.join(",", cors.exposeHeaders());
  }

  boolean allows(String origin) {
    if (cors.anyOrigin()) {
      return true;
    }
    for (StringMatch m : cors.allowOrigins()) {
      if (m.matches(origin)) {
        return true;
      }
    }
    return false;
  }

  boolean forwardsUnmatchedPreflights() {
    return cors.forwardUnmatchedPreflights();
  }

  /** The headers answering an allowed preflight from {@code origin}, as name-value pairs. */
  String[] preflight(String origin) {
    List<String> h = new ArrayList<>();
    h.add("access-control-allow-origin");
    h.add(origin);
    if (!methods.isEmpty()) {
      h.add("access-control-allow-methods");
      h.add(methods);
    }
    if (!headers.isEmpty()) {
      h.add("access-control-allow-headers");
      h.add(headers);
    }
    if (cors.maxAge() != null) {
      h.add("access-control-max-age");
      h.add(Long.toString(cors.maxAge().toSeconds()));
    }
    if (Boolean.TRUE.equals(cors.allowCredentials())) {
      h.add("access-control-allow-credentials");
      h.add("true");
    }
    return h.toArray(new String[0]);
  }

  /** The CORS headers of a response to an allowed, not preflight, request from {@code origin}. */
  void editResponse(HeaderEdits edits, String origin) {
    edits.set("access-control-allow-origin", origin);
    if (Boolean.TRUE.equals(cors.allowCredentials())) {
      edits.set("access-control-allow-credentials", "true");
    }
    if (!expose.isEmpty()) {
      edits.set("access-control-expose-headers", expose);
    }
  }
}
