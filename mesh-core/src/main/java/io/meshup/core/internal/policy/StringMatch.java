package io.meshup.core.internal.policy;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Istio's {@code StringMatch}: exact, prefix or regex (whole-string, as Envoy's RE2 safe_regex).
 * Immutable and thread-safe; regex matching reuses one {@link Matcher} per thread.
 */
public final class StringMatch {
  /** Which comparison. */
  public enum Kind {
    EXACT,
    PREFIX,
    REGEX
  }

  private final Kind kind;
  private final String value;
  private final boolean ignoreCase;
  private final ThreadLocal<Matcher> matcher;

  StringMatch(Kind kind, String value, boolean ignoreCase) {
    this.kind = kind;
    this.ignoreCase = ignoreCase;
    this.value = ignoreCase && kind != Kind.REGEX ? value.toLowerCase(Locale.ROOT) : value;
    if (kind == Kind.REGEX) {
      Pattern p = Pattern.compile(value, ignoreCase ? Pattern.CASE_INSENSITIVE : 0);
      this.matcher = ThreadLocal.withInitial(() -> p.matcher(""));
    } else {
      this.matcher = null;
    }
  }

  public Kind kind() {
    return kind;
  }

  public String value() {
    return value;
  }

  /** True when {@code input} (never null) matches. */
  public boolean matches(String input) {
    switch (kind) {
      case EXACT:
        return ignoreCase ? value.equalsIgnoreCase(input) : value.equals(input);
      case PREFIX:
        return input.regionMatches(ignoreCase, 0, value, 0, value.length());
      default:
        return matcher.get().reset(input).matches();
    }
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(Locale.ROOT) + ":" + value;
  }
}
