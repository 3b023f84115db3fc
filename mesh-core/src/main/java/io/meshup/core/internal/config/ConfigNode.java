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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  private static final Pattern DURATION_PART =
      Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

  private final String source;
  private final String path;
  private final int line;
  private final Kind kind;
  private final String scalar;
  private final Map<String, ConfigNode> map;
  private final List<ConfigNode> list;

  ConfigNode(String source, String path, int line, Kind kind, String scalar,
      Map<String, ConfigNode> map, List<ConfigNode> list) {
    this.source = source;
    this.path = path;
    this.line = line;
    this.kind = kind;
    this.scalar = scalar;
    this.map = map == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(map));
    this.list = list == null ? List.of() : List.copyOf(list);
  }

  /** Returns this node seen from another source label (for example with the document name added). */
  public ConfigNode relabel(String newSource) {
    return rebase(newSource, path);
  }

  /** Returns a copy whose paths start afresh at {@code newPath} under {@code newSource}. */
  public ConfigNode rebase(String newSource, String newPath) {
    Map<String, ConfigNode> m = null;
    List<ConfigNode> l = null;
    if (kind == Kind.MAP) {
      m = new LinkedHashMap<>();
      for (Map.Entry<String, ConfigNode> e : map.entrySet()) {
        m.put(e.getKey(), e.getValue().rebase(newSource, join(newPath, e.getKey())));
      }
    } else if (kind == Kind.LIST) {
      l = new ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        l.add(list.get(i).rebase(newSource, newPath + "[" + i + "]"));
      }
    }
    return new ConfigNode(newSource, newPath, line, kind, scalar, m, l);
  }

  static String join(String parent, String key) {
    return parent.isEmpty() ? key : parent + "." + key;
  }

  public String source() {
    return source;
  }

  public String path() {
    return path;
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
    return new MeshConfigException(where, path, problem);
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
    for (Map.Entry<String, ConfigNode> e : map.entrySet()) {
      if (!ok.contains(e.getKey())) {
        throw e.getValue().error("unknown field '" + e.getKey() + "'; expected one of "
            + new TreeSet<>(ok));
      }
    }
    return this;
  }

  /** Rejects a field MeshUp knows but does not support, naming it and saying why. */
  public ConfigNode unsupported(String key, String why) {
    ConfigNode n = map.get(key);
    if (kind == Kind.MAP && n != null) {
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
    }
    return new ConfigNode(source, path, line, kind, null, m, null);
  }

  public boolean has(String key) {
    return kind == Kind.MAP && map.containsKey(key) && !map.get(key).isNull();
  }

  /** The child at {@code key}, or a NULL node carrying the child's path when absent. */
  public ConfigNode get(String key) {
    if (kind != Kind.MAP) {
      return new ConfigNode(source, join(path, key), line, Kind.NULL, null, null, null);
    }
    ConfigNode n = map.get(key);
    return n != null ? n : new ConfigNode(source, join(path, key), line, Kind.NULL, null, null, null);
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
      throw error("'" + scalar + "' is not an integer");
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
      throw error("'" + scalar + "' is not a number");
    }
    if (!(v >= min && v <= max)) {
      throw error(scalar + " is out of range; must be " + min + ".." + max);
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
        throw error("'" + scalar + "' is not a boolean; expected true or false");
    }
  }

  /** A duration in Istio's form ({@code 250ms}, {@code 1.5s}, {@code 3m}, {@code 1m30s}). */
  public Duration duration() {
    requireKind(Kind.SCALAR, "a duration");
    Duration d = parseDuration(scalar.trim());
    if (d == null) {
      throw error("'" + scalar + "' is not a duration; expected a number with a unit, such as 250ms, 1.5s, 3m or 1h");
    }
    return d;
  }

  public Duration duration(Duration fallback) {
    return isNull() ? fallback : duration();
  }

  /** A positive duration. */
  public Duration positiveDuration() {
    Duration d = duration();
    if (d.isZero() || d.isNegative()) {
      throw error("'" + scalar + "' must be greater than zero");
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
    throw error("'" + v + "' is not one of " + List.of(allowed));
  }

  static Duration parseDuration(String text) {
    if (text.isEmpty()) {
      return null;
    }
    Matcher m = DURATION_PART.matcher(text);
    int at = 0;
    long nanos = 0;
    while (at < text.length()) {
      if (!m.find(at) || m.start() != at) {
        return null;
      }
      double value = Double.parseDouble(m.group(1));
      double unit;
      switch (m.group(2)) {
        case "ns": unit = 1; break;
        case "us": case "µs": unit = 1e3; break;
        case "ms": unit = 1e6; break;
        case "s": unit = 1e9; break;
        case "m": unit = 60e9; break;
        default: unit = 3600e9; break;
      }
      nanos += Math.round(value * unit);
      at = m.end();
    }
    return Duration.ofNanos(nanos);
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
      case SCALAR: return "'" + scalar + "'";
      default: return "nothing";
    }
  }

  @Override
  public String toString() {
    return source + ", " + path;
  }
}
