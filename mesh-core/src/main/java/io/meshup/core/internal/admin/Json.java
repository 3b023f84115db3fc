package io.meshup.core.internal.admin;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;

/**
 * Writes records, lists, maps, strings, numbers, booleans, instants and null as JSON (a record's
 * components are its fields, in declaration order). For the admin endpoint's documents; not a
 * general serializer. Stateless.
 */
public final class Json {
  private Json() {}

  /** {@code value} as JSON text. */
  public static String write(Object value) {
    StringBuilder b = new StringBuilder(1024);
    write(b, value, 0);
    return b.append('\n').toString();
  }

  private static void write(StringBuilder b, Object v, int depth) {
    if (depth > 32) {
      throw new IllegalArgumentException("nested too deep");
    }
    if (v == null) {
      b.append("null");
    } else if (v instanceof String s) {
      string(b, s);
    } else if (v instanceof Boolean) {
      b.append(v);
    } else if (v instanceof Double d && (d.isNaN() || d.isInfinite()) || v instanceof Float f && (f.isNaN() || f.isInfinite())) {
      b.append("null");
    } else if (v instanceof Number) {
      b.append(v);
    } else if (v instanceof Instant || v instanceof Enum<?>) {
      string(b, v.toString());
    } else if (v instanceof Map<?, ?> m) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) {
          b.append(',');
        }
        first = false;
        string(b, String.valueOf(e.getKey()));
        b.append(':');
        write(b, e.getValue(), depth + 1);
      }
      b.append('}');
    } else if (v instanceof Collection<?> c) {
      b.append('[');
      boolean first = true;
      for (Object o : c) {
        if (!first) {
          b.append(',');
        }
        first = false;
        write(b, o, depth + 1);
      }
      b.append(']');
    } else if (v instanceof Record r) {
      b.append('{');
      boolean first = true;
      for (RecordComponent rc : r.getClass().getRecordComponents()) {
        if (!first) {
          b.append(',');
        }
        first = false;
        string(b, rc.getName());
        b.append(':');
        try {
          write(b, rc.getAccessor().invoke(r), depth + 1);
        } catch (IllegalAccessException | InvocationTargetException e) {
          throw new IllegalStateException("cannot read " + rc, e);
        }
      }
      b.append('}');
    } else {
      string(b, v.toString());
    }
  }

  private static void string(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
