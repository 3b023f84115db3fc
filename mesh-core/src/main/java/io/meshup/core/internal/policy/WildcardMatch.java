package io.meshup.core.internal.policy;

import io.meshup.core.internal.config.ConfigNode;

/**
 * A value of Istio's security policies: {@code abc} (exact), {@code abc*} (prefix), {@code *abc}
 * (suffix) or {@code *} (any present value). Immutable and thread-safe; matching allocates nothing.
 */
public final class WildcardMatch {
  private enum Kind {
    EXACT,
    PREFIX,
    SUFFIX,
    ANY
  }

  private final Kind kind;
  private final String value;
  private final String text;

  private WildcardMatch(Kind kind, String value, String text) {
    this.kind = kind;
    this.value = value;
    this.text = text;
  }

  /**
   * Compiles {@code text}.
   *
   * @throws IllegalArgumentException when {@link #problem} finds one
   */
  public static WildcardMatch of(String text) {
    String p = problem(text);
    if (p != null) {
      throw new IllegalArgumentException(p);
    }
    if (text.equals("*")) {
      return new WildcardMatch(Kind.ANY, "", text);
    }
    if (text.startsWith("*")) {
      return new WildcardMatch(Kind.SUFFIX, text.substring(1), text);
    }
    if (text.endsWith("*")) {
      return new WildcardMatch(Kind.PREFIX, text.substring(0, text.length() - 1), text);
    }
    return new WildcardMatch(Kind.EXACT, text, text);
  }

  /** Why {@code text} is not a valid value, or null when it is. */
  public static String problem(String text) {
    if (text.isEmpty()) {
      return "must not be empty";
    }
    int star = text.indexOf('*', 1);
    boolean middleStar = star >= 0 && star < text.length() - 1;
    boolean both = text.length() > 1 && text.startsWith("*") && text.endsWith("*");
    if (middleStar || both) {
      return ConfigNode.quote(text) + " has '*' in the wrong place; a wildcard is allowed only as the whole value (*),"
          + " at the end (prefix*) or at the start (*suffix)";
    }
    return null;
  }

  /** Whether {@code input} matches; a null input (the value is absent) matches nothing. */
  public boolean matches(String input) {
    if (input == null) {
      return false;
    }
    switch (kind) {
      case EXACT:
        return value.equals(input);
      case PREFIX:
        return input.startsWith(value);
      case SUFFIX:
        return input.endsWith(value);
      default:
        return !input.isEmpty();
    }
  }

  @Override
  public String toString() {
    return text;
  }
}
