package io.meshup.core.internal.policy;

import io.meshup.core.internal.config.ConfigNode;
import java.util.regex.Pattern;

/**
 * A path of an AuthorizationPolicy operation: an Istio wildcard ({@code /exact}, {@code /prefix*},
 * {@code *suffix}, {@code *}) or, when it holds {@code {*}} or {@code {**}}, a path template as
 * Istio and Envoy's {@code uri_template} have it: {@code {*}} matches exactly one path segment,
 * {@code {**}} (the last operator; only literal segments may follow it) one or more segments,
 * other segments literally. Immutable and
 * thread-safe; matching allocates nothing.
 */
public final class PathTemplate {
  private static final String ONE = "{*}";
  private static final String ANY = "{**}";
  /** RFC 3986 pchar, as Istio checks the literal segments of a template. */
  private static final Pattern LITERAL = Pattern.compile("^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$");

  private final WildcardMatch wildcard;
  /** Segments of a template; null for a wildcard. */
  private final String[] segments;
  private final boolean trailingSlash;
  private final String text;

  private PathTemplate(WildcardMatch wildcard, String[] segments, boolean trailingSlash, String text) {
    this.wildcard = wildcard;
    this.segments = segments;
    this.trailingSlash = trailingSlash;
    this.text = text;
  }

  /** Whether {@code path} uses the template operators. */
  public static boolean isTemplate(String path) {
    return path.contains(ONE) || path.contains(ANY);
  }

  /** Why {@code path} is not a valid path value, or null (Istio's rules for templates). */
  public static String problem(String path) {
    if (!isTemplate(path)) {
      return WildcardMatch.problem(path);
    }
    if (!path.startsWith("/")) {
      return "path template " + ConfigNode.quote(path) + " must start with '/'";
    }
    boolean any = false;
    for (String glob : trimSlashes(path).split("/", -1)) {
      if ((glob.equals(ONE) || glob.equals(ANY)) && any) {
        return "invalid path template " + ConfigNode.quote(path) + ": {**} is not the last operator";
      }
      if (glob.equals(ANY)) {
        any = true;
        continue;
      }
      if (glob.equals(ONE)) {
        continue;
      }
      if (glob.indexOf('{') >= 0 || glob.indexOf('}') >= 0) {
        return "invalid path template " + ConfigNode.quote(path) + ": '{' or '}' beyond a supported operator ({*} or {**})";
      }
      if (!LITERAL.matcher(glob).matches()) {
        return "invalid path template " + ConfigNode.quote(path) + ": segment " + ConfigNode.quote(glob)
            + " is not a valid literal";
      }
    }
    return null;
  }

  private static String trimSlashes(String p) {
    int b = 0;
    int e = p.length();
    while (b < e && p.charAt(b) == '/') {
      b++;
    }
    while (e > b && p.charAt(e - 1) == '/') {
      e--;
    }
    return p.substring(b, e);
  }

  /**
   * Compiles {@code path}.
   *
   * @throws IllegalArgumentException when {@link #problem} finds one
   */
  public static PathTemplate of(String path) {
    String p = problem(path);
    if (p != null) {
      throw new IllegalArgumentException(p);
    }
    if (!isTemplate(path)) {
      return new PathTemplate(WildcardMatch.of(path), null, false, path);
    }
    return new PathTemplate(null, trimSlashes(path).split("/", -1), path.length() > 1 && path.endsWith("/"), path);
  }

  /** Whether {@code path} (never null) matches. */
  public boolean matches(String path) {
    if (wildcard != null) {
      return wildcard.matches(path);
    }
    if (path.isEmpty() || path.charAt(0) != '/') {
      return false;
    }
    int pos = 1;
    int n = path.length();
    int end = 0;
    for (int i = 0; i < segments.length; i++) {
      String seg = segments[i];
      if (seg.equals(ANY)) {
        return rest(path, pos, i + 1);
      }
      if (pos > n) {
        return false;
      }
      end = path.indexOf('/', pos);
      if (end < 0) {
        end = n;
      }
      if (seg.equals(ONE)) {
        if (end == pos) {
          return false;
        }
      } else if (end - pos != seg.length() || !path.regionMatches(pos, seg, 0, seg.length())) {
        return false;
      }
      pos = end + 1;
    }
    // the whole path is consumed, with a trailing '/' exactly when the template has one
    return trailingSlash ? end == n - 1 : end == n;
  }

  /**
   * Whether {@code {**}} at {@code pos} matches: one or more segments, then the literal segments
   * after it in the template, which must end the path.
   */
  private boolean rest(String path, int pos, int next) {
    int n = path.length();
    int end = trailingSlash ? n - 1 : n;
    if (trailingSlash && (n == 0 || path.charAt(n - 1) != '/')) {
      return false;
    }
    for (int j = segments.length - 1; j >= next; j--) {
      String lit = segments[j];
      int start = end - lit.length();
      if (start <= pos || path.charAt(start - 1) != '/' || !path.regionMatches(start, lit, 0, lit.length())) {
        return false;
      }
      end = start - 1;
    }
    // what {**} itself takes: at least one character
    return end > pos;
  }

  @Override
  public String toString() {
    return text;
  }
}
