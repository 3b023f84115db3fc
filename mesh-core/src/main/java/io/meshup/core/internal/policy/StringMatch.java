package io.meshup.core.internal.policy;

import com.google.re2j.Matcher;
import com.google.re2j.Pattern;
import java.util.Locale;

/**
 * Istio's {@code StringMatch}: exact, prefix or regex. A regex has RE2 semantics and matches the
 * whole string, as Envoy's {@code safe_regex} does, and is run by re2j, whose matching time is
 * linear in the input whatever the pattern: no policy can stall the request path. A pattern is
 * refused when it would compile to a program larger than {@link Re2Budget#MAX_PROGRAM_SIZE} (for
 * example nested counted repetitions such as {@code ((a{1000}){1000})}). Immutable and
 * thread-safe; regex matching reuses one {@link Matcher} per thread.
 */
public final class StringMatch {
  /** Which comparison. */
  public enum Kind {
    EXACT,
    PREFIX,
    REGEX,
    /** {@code {}}: the value is present, whatever it is. */
    PRESENT
  }

  /** {@code {}}: matches any present value. */
  static final StringMatch ANY_PRESENT = new StringMatch(Kind.PRESENT, "", false);

  private final Kind kind;
  private final String value;
  private final boolean ignoreCase;
  private final ThreadLocal<Matcher> matcher;

  /**
   * @throws IllegalArgumentException when {@code kind} is REGEX and {@code value} is not an RE2
   *     pattern within the budget; the message says why
   */
  StringMatch(Kind kind, String value, boolean ignoreCase) {
    this.kind = kind;
    // ignoreUriCase applies to exact and prefix matches only, as Istio documents
    this.ignoreCase = ignoreCase && (kind == Kind.EXACT || kind == Kind.PREFIX);
    this.value = this.ignoreCase ? value.toLowerCase(Locale.ROOT) : value;
    if (kind == Kind.REGEX) {
      Pattern p = Re2Budget.compile(value, false);
      this.matcher = ThreadLocal.withInitial(() -> p.matcher(""));
    } else {
      this.matcher = null;
    }
  }

  /**
   * Replaces every match of this REGEX in {@code input} with {@code replacement}, in which
   * {@code \1}...{@code \9} name capture groups (Envoy's and Istio's {@code regex_rewrite} syntax).
   */
  public String replaceAll(String input, String replacement) {
    return matcher.get().reset(input).replaceAll(replacement.replaceAll("\\\\([0-9])", "\\$$1"));
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
      case PRESENT:
        return true;
      default:
        return matcher.get().reset(input).matches();
    }
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(Locale.ROOT) + ":" + value;
  }
}
