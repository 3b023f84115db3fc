package io.meshup.core.internal.http;

import io.meshup.core.PathNormalization;
import io.meshup.core.internal.routing.Metrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Turns an inbound HTTP request's target into the path that is authorized and that the handler
 * then sees, per a {@link PathNormalization} mode, and checks its method; transport-neutral, for
 * every HTTP server adapter and the ingress gateway. A target that cannot be made unambiguous is
 * refused ({@link Refused}) and counted in {@code mesh.server.requests.rejected{reason}}.
 *
 * <p>An already-normal origin-form target (no escapes, no backslash, no dot segment, no doubled
 * slash when slashes merge) takes a fast path that allocates nothing when there is no query.
 * Refusals are preallocated. Thread-safe; one per server.
 *
 * <p>The rules follow Istio's "Authorization Policy Normalization" reference: percent-encoded
 * unreserved characters ({@code ALPHA DIGIT - . _ ~}) are decoded once, with no double decoding;
 * {@code %00} is always refused; {@code \} becomes {@code /}; dot segments are resolved per RFC 3986
 * section 5.2.4 (before slashes are merged); {@code %2F} and {@code %5C} are decoded only by
 * DECODE_AND_MERGE_SLASHES and refused otherwise, as Envoy's {@code REJECT_REQUEST} escaped-slash
 * action does; other escapes are kept, their hex digits in upper case. Unlike RFC 3986, a
 * {@code ..} that would climb above the root is refused rather than dropped.
 */
public final class RequestTargets {
  /** Rejected requests: tag reason. */
  public static final String REJECTED = Metrics.SERVER_REQUESTS_REJECTED;

  /** Why a request was refused; the {@code reason} tag. */
  public enum Reason {
    /** {@code %2F} or {@code %5C} in a mode that does not decode them. */
    ENCODED_SLASH("an encoded '/' or '\\' (%2F, %5C) in the path is ambiguous"),
    /** A {@code %} not followed by two hex digits, or {@code %00}. */
    INVALID_ENCODING("the path has an invalid percent-encoding or %00"),
    /** A {@code ..} segment above the root. */
    OUTSIDE_ROOT("the path climbs above the root with '..'"),
    /** Not origin-form or absolute-form, a fragment, a control or non-ASCII character. */
    INVALID_TARGET("the request target is not an origin-form or absolute-form path"),
    /** The method is not in canonical upper case. */
    METHOD_CASE("the method is not in canonical upper case"),
    /**
     * The server cannot route the authorized path the way it was authorized (the JDK server
     * decodes paths to pick a context).
     */
    AMBIGUOUS("the server would route the path differently from how it was authorized");

    private final String message;
    private final Refused refused;

    Reason(String message) {
      this.message = message;
      this.refused = new Refused(this);
    }

    /** The tag value, such as {@code encoded_slash}. */
    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** What the 400 answer says. */
    public String message() {
      return "meshup: " + message;
    }

    /** The preallocated refusal. */
    public Refused refused() {
      return refused;
    }
  }

  /** A refused target or method; preallocated per reason, without a stack trace. */
  public static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient Reason reason;

    private Refused(Reason reason) {
      super(reason.message(), null, false, false);
      this.reason = reason;
    }

    /** Why. */
    public Reason reason() {
      return reason;
    }
  }

  private final PathNormalization mode;
  private final Map<Reason, Counter> rejected = new EnumMap<>(Reason.class);

  public RequestTargets(PathNormalization mode, MeterRegistry meters) {
    this.mode = mode;
    for (Reason r : Reason.values()) {
      rejected.put(r, Counter.builder(REJECTED)
          .description("Inbound HTTP requests refused with 400 before authorization: ambiguous target or method")
          .baseUnit("requests")
          .tag("reason", r.tag())
          .register(meters));
    }
  }

  /** The mode in force. */
  public PathNormalization mode() {
    return mode;
  }

  /** Counts a refusal and returns it, for the adapter to throw or answer. */
  public Refused refuse(Reason reason) {
    rejected.get(reason).increment();
    return reason.refused();
  }

  /**
   * Checks a method: letters must be upper case.
   *
   * @throws Refused METHOD_CASE (counted)
   */
  public void checkMethod(String method) throws Refused {
    if (method.isEmpty()) {
      throw refuse(Reason.METHOD_CASE);
    }
    for (int i = 0; i < method.length(); i++) {
      char c = method.charAt(i);
      if ((c >= 'a' && c <= 'z') || c <= ' ' || c >= 0x7f) {
        throw refuse(Reason.METHOD_CASE);
      }
    }
  }

  /**
   * The normalized path of a request target (origin-form {@code /a/b?q} or absolute-form
   * {@code http://host/a/b?q}), without its query; the same string instance as {@code target}
   * when it was normal and had no query.
   *
   * @throws Refused why it cannot be made unambiguous (counted)
   */
  public String path(String target) throws Refused {
    int len = target.length();
    int start;
    if (len > 0 && target.charAt(0) == '/') {
      start = 0;
    } else {
      start = absolutePathStart(target);
      if (start < 0) {
        throw refuse(Reason.INVALID_TARGET);
      }
    }
    int end = len;
    boolean slow = false;
    for (int i = start; i < len; i++) {
      char c = target.charAt(i);
      if (c <= ' ' || c >= 0x7f || c == '#') {
        throw refuse(Reason.INVALID_TARGET);
      }
      if (c == '?') {
        end = i;
        break;
      }
      if (c == '%' || c == '\\') {
        slow = true;
      } else if (c == '/' && i > start && target.charAt(i - 1) == '/' && mergesSlashes()) {
        slow = true;
      } else if (c == '.' && target.charAt(i - 1) == '/' && isDotSegment(target, i, len)) {
        slow = true;
      }
    }
    for (int i = end; i < len; i++) {
      char c = target.charAt(i);
      if (c <= ' ' || c >= 0x7f || c == '#') {
        throw refuse(Reason.INVALID_TARGET);
      }
    }
    if (start == end) {
      return "/";
    }
    if (!slow || mode == PathNormalization.NONE) {
      if (slow) {
        checkEscapes(target, start, end);
      }
      return start == 0 && end == len ? target : target.substring(start, end);
    }
    return normalize(target, start, end);
  }

  private boolean mergesSlashes() {
    return mode == PathNormalization.MERGE_SLASHES || mode == PathNormalization.DECODE_AND_MERGE_SLASHES;
  }

  /** Whether the segment starting at {@code i} (after a '/') is "." or "..". */
  private static boolean isDotSegment(String s, int i, int len) {
    int j = i + 1;
    if (j < len && s.charAt(j) == '.') {
      j++;
    }
    return j >= len || s.charAt(j) == '/' || s.charAt(j) == '?';
  }

  /** Where the path of an absolute-form target starts; its length for an empty path; -1 when it is not one. */
  private static int absolutePathStart(String t) {
    int scheme;
    if (t.regionMatches(true, 0, "http://", 0, 7)) {
      scheme = 7;
    } else if (t.regionMatches(true, 0, "https://", 0, 8)) {
      scheme = 8;
    } else {
      return -1;
    }
    for (int i = scheme; i < t.length(); i++) {
      char c = t.charAt(i);
      if (c == '/' || c == '?') {
        return i == scheme ? -1 : i;
      }
      if (c == '#' || c == '@' || c == '\\' || c <= ' ' || c >= 0x7f) {
        return -1;
      }
    }
    return t.length() == scheme ? -1 : t.length();
  }

  /** NONE still refuses what no server can read the same way: bad escapes and %00. */
  private void checkEscapes(String s, int start, int end) throws Refused {
    for (int i = start; i < end; i++) {
      if (s.charAt(i) == '%') {
        int v = i + 2 < end ? hex(s.charAt(i + 1)) << 4 | hex(s.charAt(i + 2)) : -1;
        if (v <= 0) {
          throw refuse(Reason.INVALID_ENCODING);
        }
        i += 2;
      }
    }
  }

  private static int hex(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -0x1000;
  }

  private static boolean unreserved(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~';
  }

  private String normalize(String s, int start, int end) throws Refused {
    // 1. one pass of decoding: unreserved characters, and %2F/%5C when the mode says so; '\' -> '/'
    StringBuilder d = new StringBuilder(end - start);
    for (int i = start; i < end; i++) {
      char c = s.charAt(i);
      if (c == '%') {
        int v = i + 2 < end ? hex(s.charAt(i + 1)) << 4 | hex(s.charAt(i + 2)) : -1;
        if (v <= 0) {
          throw refuse(Reason.INVALID_ENCODING);
        }
        if (unreserved(v)) {
          d.append((char) v);
        } else if (v == '/' || v == '\\') {
          if (mode != PathNormalization.DECODE_AND_MERGE_SLASHES) {
            throw refuse(Reason.ENCODED_SLASH);
          }
          d.append('/');
        } else {
          d.append('%').append(Character.toUpperCase(s.charAt(i + 1))).append(Character.toUpperCase(s.charAt(i + 2)));
        }
        i += 2;
      } else {
        d.append(c == '\\' ? '/' : c);
      }
    }
    // 2. dot segments (RFC 3986 5.2.4), refusing a climb above the root
    String in = d.toString();
    StringBuilder out = new StringBuilder(in.length());
    int[] marks = new int[in.length() + 1];
    int depth = 0;
    int i = 1; // in starts with '/'
    boolean trailing = false;
    while (i <= in.length()) {
      int next = in.indexOf('/', i);
      if (next < 0) {
        next = in.length();
      }
      int segLen = next - i;
      boolean last = next == in.length();
      if (segLen == 1 && in.charAt(i) == '.') {
        trailing = last;
      } else if (segLen == 2 && in.charAt(i) == '.' && in.charAt(i + 1) == '.') {
        if (depth == 0) {
          throw refuse(Reason.OUTSIDE_ROOT);
        }
        out.setLength(marks[--depth]);
        trailing = last;
      } else {
        marks[depth++] = out.length();
        out.append('/').append(in, i, next);
        trailing = false;
      }
      i = next + 1;
    }
    if (trailing || out.length() == 0) {
      out.append('/');
    }
    // 3. merge slashes
    if (mergesSlashes()) {
      int w = 0;
      for (int r = 0; r < out.length(); r++) {
        char c = out.charAt(r);
        if (c == '/' && w > 0 && out.charAt(w - 1) == '/') {
          continue;
        }
        out.setCharAt(w++, c);
      }
      out.setLength(w);
    }
    return out.toString();
  }
}
