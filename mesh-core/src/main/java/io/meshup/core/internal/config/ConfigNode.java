package io.meshup.core.internal.config;

import io.meshup.core.MeshConfigException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One node of a parsed YAML document that knows where it came from, so every error can name the
 * source, the document and the dotted path of the key. Immutable; thread-safe.
 *
 * <p>Readers consume a mapping through {@link #keys(String...)}, which rejects any key not listed:
 * a field MeshUp does not understand is an error, never silently ignored.
 */
public final class ConfigNode {
  /** What kind of YAML node this is. */
  public enum Kind {
    MAP,
    LIST,
    SCALAR,
    NULL
  }

  /** The longest duration any setting takes: one year. */
  public static final Duration MAX_DURATION = Duration.ofDays(365);
  /** How much of a value an error message quotes. */
  static final int QUOTE_LIMIT = 80;

  private final String source;
  private final KeyPath path;
  private final int line;
  private final Kind kind;
  private final String scalar;
  private final Map<String, ConfigNode> map;
  private final List<ConfigNode> list;
  /** Nodes in this subtree, this one included. */
  private final int size;
  /** Levels of mappings and sequences in this subtree: 0 for a scalar. */
  private final int height;
  /** Whether keys are found by their relaxed form ({@link #bound}); false for parsed YAML. */
  private final boolean relaxed;

  ConfigNode(String source, String path, int line, Kind kind, String scalar,
      Map<String, ConfigNode> map, List<ConfigNode> list) {
    this(source, KeyPath.of(path), line, kind, scalar, map, list);
  }

  ConfigNode(String source, KeyPath path, int line, Kind kind, String scalar,
      Map<String, ConfigNode> map, List<ConfigNode> list) {
    this(source, path, line, kind, scalar, map, list, false);
  }

  private ConfigNode(String source, KeyPath path, int line, Kind kind, String scalar,
      Map<String, ConfigNode> map, List<ConfigNode> list, boolean relaxed) {
    this.relaxed = relaxed;
    this.source = source;
    this.path = path;
    this.line = line;
    this.kind = kind;
    this.scalar = scalar;
    this.map = map == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(map));
    this.list = list == null ? List.of() : List.copyOf(list);
    int n = 1;
    int h = 0;
    for (ConfigNode c : this.map.values()) {
      n += c.size + 1;
      h = Math.max(h, c.height);
    }
    for (ConfigNode c : this.list) {
      n += c.size;
      h = Math.max(h, c.height);
    }
    this.size = n;
    this.height = map != null || list != null || kind == Kind.MAP || kind == Kind.LIST ? h + 1 : 0;
  }

  /**
   * A node of a tree that a framework built from its own configuration instead of YAML text (the
   * Spring Boot starter builds one from the properties its {@code Environment} binds under
   * {@code mesh}), read by the same readers with the same checks and messages. Its mappings match
   * keys as Spring Boot's relaxed binding does: by their letters and digits without regard to case,
   * so {@code idle-timeout}, {@code idleTimeout} and {@code IDLETIMEOUT} are the same key; entries
   * keep the spelling their source gave. Every node names its own origin.
   *
   * @param source where the value came from (a file and line, an environment variable...), for errors
   * @param path the node's dotted path in the tree ({@code mesh.registry.type}), for errors
   * @param line the line of the value in its source, 0 when it has none
   * @param kind SCALAR, MAP, LIST or NULL
   * @param scalar the text of a SCALAR, else ignored
   * @param entries the entries of a MAP, else ignored
   * @param items the items of a LIST, else ignored
   */
  public static ConfigNode bound(String source, String path, int line, Kind kind, String scalar,
      Map<String, ConfigNode> entries, List<ConfigNode> items) {
    return new ConfigNode(source, KeyPath.of(path), line, kind, kind == Kind.SCALAR ? scalar : null,
        kind == Kind.MAP ? entries : null, kind == Kind.LIST ? items : null, true);
  }

  /** A key in Spring Boot's uniform form: its letters and digits, in lower case. */
  private static String uniform(String key) {
    StringBuilder b = new StringBuilder(key.length());
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (Character.isLetterOrDigit(c)) {
        b.append(Character.toLowerCase(c));
      }
    }
    return b.toString();
  }

  /** The entry at {@code key}: exactly, or for a relaxed mapping by its uniform form; null when absent. */
  private ConfigNode child(String key) {
    ConfigNode n = map.get(key);
    if (n != null || !relaxed) {
      return n;
    }
    String u = uniform(key);
    for (Map.Entry<String, ConfigNode> e : map.entrySet()) {
      if (uniform(e.getKey()).equals(u)) {
        return e.getValue();
      }
    }
    return null;
  }

  /** A value cut to a readable length, as {@link #quote} but without the quotes. */
  public static String cut(String value) {
    String q = quote(value);
    return value != null && value.length() <= QUOTE_LIMIT ? value : q;
  }

  /**
   * A value as an error message quotes it: in single quotes, cut to a readable length with the
   * full length said, so that a megabyte of input never becomes a megabyte of log line.
   */
  public static String quote(String value) {
    if (value == null) {
      return "null";
    }
    if (value.length() <= QUOTE_LIMIT) {
      return "'" + value + "'";
    }
    return "'" + value.substring(0, QUOTE_LIMIT) + "...' (" + value.length() + " characters)";
  }

  /** Returns this node seen from another source label (for example with the document name added). */
  public ConfigNode relabel(String newSource) {
    return rebase(newSource, path);
  }

  /** Returns a copy whose paths start afresh at {@code newPath} under {@code newSource}. */
  public ConfigNode rebase(String newSource, String newPath) {
    return rebase(newSource, KeyPath.of(newPath));
  }

  /** A copy of this subtree at {@code newPath}; {@link #size()} nodes are made. */
  ConfigNode rebase(String newSource, KeyPath newPath) {
    Map<String, ConfigNode> m = null;
    List<ConfigNode> l = null;
    if (kind == Kind.MAP) {
      m = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> e : map.entrySet()) {
        m.put(e.getKey(), e.getValue().rebase(newSource, newPath.key(e.getKey())));
      }
    } else if (kind == Kind.LIST) {
      l = new ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        l.add(list.get(i).rebase(newSource, newPath.index(i)));
      }
    }
    return new ConfigNode(newSource, newPath, line, kind, scalar, m, l, relaxed);
  }

  public String source() {
    return source;
  }

  /** The dotted path of this node in its document, such as {@code spec.http[0].timeout}. */
  public String path() {
    return path.toString();
  }

  /** Nodes in this subtree (keys, values and items), this one included. */
  public int size() {
    return size;
  }

  /** How many levels of mappings and sequences this subtree holds: 0 for a scalar. */
  int height() {
    return height;
  }

  public int line() {
    return line;
  }

  public Kind kind() {
    return kind;
  }

  public boolean isNull() {
    return kind == Kind.NULL;
  }

  /** An error at this node. */
  public MeshConfigException error(String problem) {
    String where = line > 0 ? source + " (line " + line + ")" : source;
    return new MeshConfigException(where, path.toString(), problem);
  }

  // ---- mappings -------------------------------------------------------------------------

  /**
   * Returns this mapping after checking that it holds only the {@code allowed} keys.
   *
   * @throws MeshConfigException naming the first unknown key and the keys that are allowed
   */
  public ConfigNode keys(String... allowed) {
    requireKind(Kind.MAP, "a mapping");
    Set<String> ok = new java.util.HashSet<>(java.util.Arrays.asList(allowed));
    Set<String> relaxedOk = new java.util.HashSet<>();
    if (relaxed) {
      for (String a : allowed) {
        relaxedOk.add(uniform(a));
      }
    }
    for (Map.Entry<String, ConfigNode> e : map.entrySet()) {
      if (!ok.contains(e.getKey()) && !(relaxed && relaxedOk.contains(uniform(e.getKey())))) {
        throw e.getValue().error("unknown field " + quote(e.getKey()) + "; expected one of "
            + new TreeSet<>(ok));
      }
    }
    return this;
  }

  /** Rejects a field MeshUp knows but does not support, naming it and saying why. */
  public ConfigNode unsupported(String key, String why) {
    ConfigNode n = kind == Kind.MAP ? child(key) : null;
    if (n != null) {
      throw n.error("field '" + key + "' is not supported by MeshUp: " + why);
    }
    return this;
  }

  /** This mapping without the given keys (for sections that mix two readers). */
  public ConfigNode without(String... keys) {
    if (kind != Kind.MAP) {
      return this;
    }
    Map<String, ConfigNode> m = new LinkedHashMap<>(map);
    for (String k : keys) {
      m.remove(k);
      if (relaxed) {
        String u = uniform(k);
        m.keySet().removeIf(e -> uniform(e).equals(u));
      }
    }
    return new ConfigNode(source, path, line, kind, null, m, null, relaxed);
  }

  public boolean has(String key) {
    if (kind != Kind.MAP) {
      return false;
    }
    ConfigNode n = child(key);
    return n != null && !n.isNull();
  }

  /** The child at {@code key}, or a NULL node carrying the child's path when absent. */
  public ConfigNode get(String key) {
    if (kind != Kind.MAP) {
      return new ConfigNode(source, path.key(key), line, Kind.NULL, null, null, null);
    }
    ConfigNode n = child(key);
    return n != null ? n : new ConfigNode(source, path.key(key), line, Kind.NULL, null, null, null);
  }

  /** The child at {@code key}; an error naming the key when it is absent. */
  public ConfigNode required(String key) {
    ConfigNode n = get(key);
    if (n.isNull()) {
      throw n.error("is required");
    }
    return n;
  }

  /** The entries of a mapping, in document order; empty for NULL. */
  public Map<String, ConfigNode> entries() {
    if (kind == Kind.NULL) {
      return Map.of();
    }
    requireKind(Kind.MAP, "a mapping");
    return map;
  }

  /** The items of a sequence; empty for NULL. */
  public List<ConfigNode> items() {
    if (kind == Kind.NULL) {
      return List.of();
    }
    requireKind(Kind.LIST, "a list");
    return list;
  }

  // ---- scalars --------------------------------------------------------------------------

  /** The scalar as text. */
  public String string() {
    requireKind(Kind.SCALAR, "a string");
    return scalar;
  }

  public String string(String fallback) {
    return isNull() ? fallback : string();
  }

  /** A non-empty string. */
  public String nonEmpty() {
    String s = string();
    if (s.isBlank()) {
      throw error("must not be empty");
    }
    return s;
  }

  public long integer(long min, long max) {
    requireKind(Kind.SCALAR, "an integer");
    long v;
    try {
      v = Long.parseLong(scalar.trim());
    } catch (NumberFormatException e) {
      throw error(quote(scalar) + " is not an integer");
    }
    if (v < min || v > max) {
      throw error(v + (v < min && min == 0 ? " is negative" : " is out of range") + "; must be "
          + min + ".." + (max == Long.MAX_VALUE ? "" : String.valueOf(max)));
    }
    return v;
  }

  public long integer(long min, long max, long fallback) {
    return isNull() ? fallback : integer(min, max);
  }

  public double decimal(double min, double max) {
    requireKind(Kind.SCALAR, "a number");
    double v;
    try {
      v = Double.parseDouble(scalar.trim());
    } catch (NumberFormatException e) {
      throw error(quote(scalar) + " is not a number");
    }
    if (!(v >= min && v <= max)) {
      throw error(cut(scalar) + " is out of range; must be " + min + ".." + max);
    }
    return v;
  }

  public double decimal(double min, double max, double fallback) {
    return isNull() ? fallback : decimal(min, max);
  }

  public boolean bool(boolean fallback) {
    if (isNull()) {
      return fallback;
    }
    requireKind(Kind.SCALAR, "true or false");
    switch (scalar.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "true":
        return true;
      case "false":
        return false;
      default:
        throw error(quote(scalar) + " is not a boolean; expected true or false");
    }
  }

  /**
   * A duration in Istio's form ({@code 250ms}, {@code 1.5s}, {@code 3m}, {@code 1m30s}), at most
   * {@link #MAX_DURATION}; a sum that would overflow is refused, never wrapped.
   */
  public Duration duration() {
    requireKind(Kind.SCALAR, "a duration");
    String text = scalar.trim();
    long nanos = parseDurationNanos(text);
    if (nanos == NOT_A_DURATION) {
      throw error(quote(scalar) + " is not a duration; expected a number with a unit, such as 250ms, 1.5s, 3m or 1h");
    }
    if (nanos == TOO_LONG) {
      throw error(quote(scalar) + " is too long; durations are at most " + MAX_DURATION.toHours() + "h (one year)");
    }
    return Duration.ofNanos(nanos);
  }

  public Duration duration(Duration fallback) {
    return isNull() ? fallback : duration();
  }

  /** A positive duration. */
  public Duration positiveDuration() {
    Duration d = duration();
    if (d.isZero() || d.isNegative()) {
      throw error(quote(scalar) + " must be greater than zero");
    }
    return d;
  }

  public Duration positiveDuration(Duration fallback) {
    return isNull() ? fallback : positiveDuration();
  }

  /** One of {@code allowed}, compared without case; the error lists them. */
  public String oneOf(String... allowed) {
    String v = string().trim();
    for (String a : allowed) {
      if (a.equalsIgnoreCase(v)) {
        return a;
      }
    }
    throw error(quote(v) + " is not one of " + List.of(allowed));
  }

  private static final long NOT_A_DURATION = -1;
  private static final long TOO_LONG = -2;
  /** Digits a duration's number may have before and after its point; more is not a duration. */
  private static final int MAX_DIGITS = 24;

  /** A duration in Istio's form, or null when {@code text} is not one or is longer than {@link #MAX_DURATION}. */
  static Duration parseDuration(String text) {
    long n = parseDurationNanos(text);
    return n < 0 ? null : Duration.ofNanos(n);
  }

  /**
   * Nanoseconds of {@code text}, one or more {@code <number><unit>} parts; {@link #NOT_A_DURATION}
   * or {@link #TOO_LONG}. Reads each character once; every part and the running sum are checked
   * against {@link #MAX_DURATION}, so nothing can overflow.
   */
  private static long parseDurationNanos(String text) {
    if (text.isEmpty()) {
      return NOT_A_DURATION;
    }
    long max = MAX_DURATION.toNanos();
    int at = 0;
    int len = text.length();
    long total = 0;
    while (at < len) {
      int start = at;
      while (at < len && isDigit(text.charAt(at))) {
        at++;
      }
      int intEnd = at;
      if (intEnd == start) {
        return NOT_A_DURATION;
      }
      int fracEnd = at;
      if (at < len && text.charAt(at) == '.') {
        at++;
        while (at < len && isDigit(text.charAt(at))) {
          at++;
        }
        fracEnd = at;
        if (fracEnd == intEnd + 1) {
          return NOT_A_DURATION;
        }
      }
      long unit;
      if (text.startsWith("ns", at)) {
        unit = 1;
        at += 2;
      } else if (text.startsWith("us", at) || text.startsWith("µs", at)) {
        unit = 1_000;
        at += 2;
      } else if (text.startsWith("ms", at)) {
        unit = 1_000_000;
        at += 2;
      } else if (text.startsWith("s", at)) {
        unit = 1_000_000_000L;
        at += 1;
      } else if (text.startsWith("m", at)) {
        unit = 60_000_000_000L;
        at += 1;
      } else if (text.startsWith("h", at)) {
        unit = 3_600_000_000_000L;
        at += 1;
      } else {
        return NOT_A_DURATION;
      }
      if (fracEnd - start > MAX_DIGITS) {
        // a number this long is either zero-padded past reason or far beyond a year
        return TOO_LONG;
      }
      java.math.BigDecimal part = new java.math.BigDecimal(text.substring(start, fracEnd))
          .multiply(java.math.BigDecimal.valueOf(unit))
          .setScale(0, java.math.RoundingMode.HALF_UP);
      if (part.compareTo(java.math.BigDecimal.valueOf(max)) > 0) {
        return TOO_LONG;
      }
      total += part.longValueExact();
      if (total > max) {
        return TOO_LONG;
      }
    }
    return total;
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private void requireKind(Kind expected, String what) {
    if (kind != expected) {
      throw error(kind == Kind.NULL ? "is required; expected " + what
          : "expected " + what + ", found " + describe());
    }
  }

  private String describe() {
    switch (kind) {
      case MAP: return "a mapping";
      case LIST: return "a list";
      case SCALAR: return quote(scalar);
      default: return "nothing";
    }
  }

  @Override
  public String toString() {
    return source + ", " + path;
  }
}
