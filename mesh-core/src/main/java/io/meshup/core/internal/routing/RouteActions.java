package io.meshup.core.internal.routing;

import io.meshup.core.internal.policy.PolicyModel.DirectResponse;
import io.meshup.core.internal.policy.PolicyModel.HeaderOps;
import io.meshup.core.internal.policy.PolicyModel.Redirect;
import io.meshup.core.internal.policy.PolicyModel.Rewrite;
import io.meshup.core.internal.policy.StringMatch;
import io.meshup.core.route.HeaderEdits;
import io.meshup.core.route.RequestAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a matched route does to a request besides picking its destination, precompiled for one
 * match of one route and one destination: the path and authority rewrite, the request and response
 * header changes (the destination's first, then the route's, so the route's {@code set} wins, as
 * Envoy applies weighted-cluster headers before route headers), a redirect or a direct response,
 * and the mirrors. Immutable and thread-safe.
 */
public final class RouteActions {
  /** Nothing to do. */
  public static final RouteActions NONE = new RouteActions(null, -1, null, null, HeaderOps.NONE, HeaderOps.NONE,
      HeaderOps.NONE, HeaderOps.NONE, List.of(), null);

  private final Rewrite rewrite;
  /** Length of the matched uri prefix a rewrite replaces; -1 for the whole path. */
  private final int prefixLength;
  private final Redirect redirect;
  private final DirectResponse direct;
  private final String[] requestSet;
  private final String[] requestAdd;
  private final String[] requestRemove;
  private final String[] responseSet;
  private final String[] responseAdd;
  private final String[] responseRemove;
  private final List<Mirror> mirrors;
  private final boolean requestEdits;
  private final boolean responseEdits;
  private final CorsRules cors;

  /** A mirror: where to and how often (percent). */
  public record Mirror(Target target, double percent) {}

  RouteActions(Rewrite rewrite, int prefixLength, Redirect redirect, DirectResponse direct, HeaderOps destRequest,
      HeaderOps routeRequest, HeaderOps destResponse, HeaderOps routeResponse, List<Mirror> mirrors,
      io.meshup.core.internal.policy.PolicyModel.Cors cors) {
    this.cors = cors == null ? null : new CorsRules(cors);
    this.rewrite = rewrite;
    this.prefixLength = prefixLength;
    this.redirect = redirect;
    this.direct = direct;
    List<String> set = new ArrayList<>();
    List<String> add = new ArrayList<>();
    List<String> remove = new ArrayList<>();
    collect(destRequest, set, add, remove);
    collect(routeRequest, set, add, remove);
    this.requestSet = set.toArray(new String[0]);
    this.requestAdd = add.toArray(new String[0]);
    this.requestRemove = remove.toArray(new String[0]);
    set.clear();
    add.clear();
    remove.clear();
    collect(destResponse, set, add, remove);
    collect(routeResponse, set, add, remove);
    this.responseSet = set.toArray(new String[0]);
    this.responseAdd = add.toArray(new String[0]);
    this.responseRemove = remove.toArray(new String[0]);
    this.mirrors = List.copyOf(mirrors);
    this.requestEdits = requestSet.length + requestAdd.length + requestRemove.length > 0
        || (rewrite != null && rewrite.authority() != null);
    this.responseEdits = responseSet.length + responseAdd.length + responseRemove.length > 0;
  }

  private static void collect(HeaderOps ops, List<String> set, List<String> add, List<String> remove) {
    for (Map.Entry<String, String> e : ops.set().entrySet()) {
      set.add(e.getKey());
      set.add(e.getValue());
    }
    for (Map.Entry<String, String> e : ops.add().entrySet()) {
      add.add(e.getKey());
      add.add(e.getValue());
    }
    remove.addAll(ops.remove());
  }

  /** True when the route changes the request's path. */
  public boolean rewritesPath() {
    return rewrite != null && (rewrite.uri() != null || rewrite.regex() != null);
  }

  /**
   * The request's new path (query string untouched), as Envoy rewrites it: a {@code rewrite.uri}
   * replaces the matched prefix (the whole path after an exact or regex match; {@code /} when the
   * match names no uri); {@code uriRegexRewrite} replaces every match of its pattern.
   */
  public String rewritePath(String path) {
    if (rewrite.regex() != null) {
      return rewrite.regex().replaceAll(path, rewrite.regexReplacement());
    }
    int cut = prefixLength < 0 ? path.length() : Math.min(prefixLength, path.length());
    return rewrite.uri() + path.substring(cut);
  }

  /** The new authority, or null to keep the request's. */
  public String authority() {
    return rewrite == null ? null : rewrite.authority();
  }

  /** True when the request's headers change. */
  public boolean editsRequest() {
    return requestEdits;
  }

  /** True when the response's headers change. */
  public boolean editsResponse() {
    return responseEdits;
  }

  /** Applies the request header changes: removals, then sets, then additions. */
  public void editRequest(HeaderEdits edits) {
    apply(edits, requestSet, requestAdd, requestRemove);
  }

  /** Applies the response header changes: removals, then sets, then additions. */
  public void editResponse(HeaderEdits edits) {
    apply(edits, responseSet, responseAdd, responseRemove);
  }

  private static void apply(HeaderEdits edits, String[] set, String[] add, String[] remove) {
    for (String r : remove) {
      edits.remove(r);
    }
    for (int i = 0; i < set.length; i += 2) {
      edits.set(set[i], set[i + 1]);
    }
    for (int i = 0; i < add.length; i += 2) {
      edits.add(add[i], add[i + 1]);
    }
  }

  /** Whether the route has a corsPolicy (the request's CORS headers are read only then). */
  public boolean hasCors() {
    return cors != null;
  }

  /**
   * How the route's {@code corsPolicy} takes a request from {@code origin} (null: no Origin):
   * {@link #CORS_NONE} (nothing to do), {@link #CORS_RESPONSE} (add CORS headers to the response),
   * {@link #CORS_PREFLIGHT} (answer the preflight with {@link #preflightHeaders}) or
   * {@link #CORS_IGNORED_PREFLIGHT} (answer it without CORS headers).
   */
  public int cors(String origin, boolean preflight) {
    if (cors == null || origin == null) {
      return CORS_NONE;
    }
    if (cors.allows(origin)) {
      return preflight ? CORS_PREFLIGHT : CORS_RESPONSE;
    }
    return preflight && !cors.forwardsUnmatchedPreflights() ? CORS_IGNORED_PREFLIGHT : CORS_NONE;
  }

  public static final int CORS_NONE = 0;
  public static final int CORS_RESPONSE = 1;
  public static final int CORS_PREFLIGHT = 2;
  public static final int CORS_IGNORED_PREFLIGHT = 3;

  /** The headers answering an allowed preflight from {@code origin} (name-value pairs). */
  public String[] preflightHeaders(String origin) {
    return cors.preflight(origin);
  }

  /** Adds the CORS headers for an allowed request from {@code origin} to its response. */
  public void editCorsResponse(HeaderEdits edits, String origin) {
    cors.editResponse(edits, origin);
  }

  /** The route's direct response, or null. */
  public DirectResponse directResponse() {
    return direct;
  }

  /** The route's redirect, or null. */
  public Redirect redirect() {
    return redirect;
  }

  /**
   * The {@code Location} of the redirect for {@code request}, as Envoy builds it: the scheme, host,
   * port and path the redirect names, the request's for the rest; the query string is kept.
   */
  public String location(RequestAttributes request) {
    String scheme = redirect.scheme() != null ? redirect.scheme() : request.scheme();
    String authority = request.authority();
    String host = authority;
    int requestPort = 0;
    int colon = authority.lastIndexOf(':');
    if (colon > 0 && authority.indexOf(']') < colon) {
      host = authority.substring(0, colon);
      try {
        requestPort = Integer.parseInt(authority.substring(colon + 1));
      } catch (NumberFormatException e) {
        requestPort = 0;
      }
    }
    if (redirect.authority() != null) {
      host = redirect.authority();
      requestPort = 0;
    }
    int port = requestPort;
    if (redirect.port() > 0) {
      port = redirect.port();
    } else if ("FROM_PROTOCOL_DEFAULT".equals(redirect.derivePort())) {
      port = 0;
    } else if ("FROM_REQUEST_PORT".equals(redirect.derivePort())) {
      port = request.port();
    }
    boolean defaultPort = port == 0 || (port == 80 && scheme.equals("http")) || (port == 443 && scheme.equals("https"));
    String path = redirect.uri() != null ? redirect.uri() : request.path();
    String query = request.query();
    return scheme + "://" + host + (defaultPort ? "" : ":" + port) + path + (query == null ? "" : "?" + query);
  }

  /** The first value of a query parameter in a raw query string, or null (see {@code CompiledRoute}). */
  public static String queryParameter(String query, String name) {
    return CompiledRoute.queryParameter(query, name);
  }

  /** The mirrors of this route. */
  public List<Mirror> mirrors() {
    return mirrors;
  }

  /** The regex rewrite's pattern (for tests). */
  StringMatch regex() {
    return rewrite == null ? null : rewrite.regex();
  }
}
