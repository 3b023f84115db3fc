package io.meshup.core.internal.policy;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

/**
 * Compiles policy regexes with re2j within a size budget. RE2 expands counted repetitions when it
 * compiles ({@code x{3}} becomes {@code xxx}), so a short pattern such as
 * {@code ((a{1000}){1000}){1000}} would need a billion instructions; RE2 itself refuses such
 * nesting, re2j does not. Before compiling, the pattern is scanned once (no recursion) and the
 * size of its expansion estimated: every atom counts once per enclosing repetition. Past
 * {@link #MAX_PROGRAM_SIZE} it is refused; after compiling, re2j's own program size is checked
 * against the same bound. Stateless.
 */
final class Re2Budget {
  /** The largest program a policy regex may compile to (atoms after expanding repetitions). */
  static final int MAX_PROGRAM_SIZE = 10_000;
  /** The longest pattern accepted, in characters. */
  static final int MAX_PATTERN_LENGTH = 4_096;

  private Re2Budget() {}

  /**
   * The compiled pattern, whole-string matching being the caller's (use {@code matches}).
   *
   * @throws IllegalArgumentException saying what is wrong: not RE2 syntax, or too large
   */
  static Pattern compile(String regex, boolean ignoreCase) {
    if (regex.length() > MAX_PATTERN_LENGTH) {
      throw new IllegalArgumentException("the pattern is " + regex.length() + " characters; at most " + MAX_PATTERN_LENGTH);
    }
    long estimate = estimate(regex);
    if (estimate > MAX_PROGRAM_SIZE) {
      throw new IllegalArgumentException("it expands to more than " + MAX_PROGRAM_SIZE
          + " instructions (counted repetitions multiply; RE2 refuses such patterns)");
    }
    Pattern p;
    try {
      p = Pattern.compile(regex, ignoreCase ? Pattern.CASE_INSENSITIVE : 0);
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException(e.getDescription() == null ? e.getMessage() : e.getDescription()
          + " (RE2 syntax, as Envoy and Istio use)");
    }
    if (p.programSize() > MAX_PROGRAM_SIZE) {
      throw new IllegalArgumentException("it compiles to " + p.programSize() + " instructions; at most " + MAX_PROGRAM_SIZE);
    }
    return p;
  }

  /**
   * An upper bound of the expanded size: atoms weighted by the counts of the repetitions around
   * them; stops counting once past the budget. Syntax errors are left to the compiler.
   */
  static long estimate(String re) {
    int n = re.length();
    // per open group: the size so far; the size of the last item (what a quantifier applies to)
    long[] total = new long[n + 2];
    long[] last = new long[n + 2];
    int depth = 0;
    int i = 0;
    while (i < n) {
      char c = re.charAt(i);
      if (c == '\\') {
        if (i + 1 < n && re.charAt(i + 1) == 'Q') {
          int end = re.indexOf("\\E", i + 2);
          int stop = end < 0 ? n : end;
          long lits = stop - (i + 2);
          total[depth] += lits;
          last[depth] = 1;
          i = end < 0 ? n : end + 2;
        } else {
          i = skipEscape(re, i);
          total[depth] += 1;
          last[depth] = 1;
        }
      } else if (c == '[') {
        i = skipClass(re, i);
        total[depth] += 1;
        last[depth] = 1;
      } else if (c == '(') {
        depth++;
        total[depth] = 0;
        last[depth] = 0;
        i++;
      } else if (c == ')') {
        if (depth == 0) {
          return 0; // unbalanced: the compiler says so
        }
        long group = total[depth] + 1;
        depth--;
        total[depth] += group;
        last[depth] = group;
        i++;
      } else if (c == '{') {
        int close = re.indexOf('}', i);
        long factor = close < 0 ? -1 : repeat(re.substring(i + 1, close));
        if (factor < 0) {
          total[depth] += 1; // a literal '{'
          last[depth] = 1;
          i++;
        } else {
          long item = last[depth];
          total[depth] += Math.max(0, item * (factor - 1)) + 1;
          last[depth] = item * factor;
          i = close + 1;
        }
      } else if (c == '|') {
        last[depth] = 0;
        i++;
      } else if (c == '*' || c == '+' || c == '?') {
        total[depth] += 1;
        i++;
      } else {
        total[depth] += 1;
        last[depth] = 1;
        i++;
      }
      if (total[depth] > MAX_PROGRAM_SIZE || last[depth] > MAX_PROGRAM_SIZE) {
        return MAX_PROGRAM_SIZE + 1L;
      }
    }
    long sum = 0;
    for (int d = 0; d <= depth; d++) {
      sum += total[d];
    }
    return sum;
  }

  /** The copies {@code {n}}, {@code {n,}} or {@code {n,m}} makes, or -1 when it is not a repetition. */
  private static long repeat(String inside) {
    int comma = inside.indexOf(',');
    String lo = comma < 0 ? inside : inside.substring(0, comma);
    String hi = comma < 0 ? inside : inside.substring(comma + 1);
    if (lo.isEmpty() || lo.length() > 6 || !lo.chars().allMatch(Character::isDigit)
        || hi.length() > 6 || !hi.chars().allMatch(Character::isDigit)) {
      return -1;
    }
    long min = Long.parseLong(lo);
    long max = hi.isEmpty() ? min + 1 : Long.parseLong(hi);
    return Math.max(Math.max(min, max), 1);
  }

  private static int skipEscape(String re, int i) {
    if (i + 1 >= re.length()) {
      return re.length();
    }
    char e = re.charAt(i + 1);
    if ((e == 'x' || e == 'p' || e == 'P') && i + 2 < re.length() && re.charAt(i + 2) == '{') {
      int close = re.indexOf('}', i + 2);
      return close < 0 ? re.length() : close + 1;
    }
    return i + 2;
  }

  private static int skipClass(String re, int i) {
    int j = i + 1;
    if (j < re.length() && re.charAt(j) == '^') {
      j++;
    }
    if (j < re.length() && re.charAt(j) == ']') {
      j++;
    }
    while (j < re.length()) {
      char c = re.charAt(j);
      if (c == '\\') {
        j += 2;
      } else if (c == '[' && j + 1 < re.length() && re.charAt(j + 1) == ':') {
        int close = re.indexOf(":]", j + 2);
        j = close < 0 ? j + 1 : close + 2;
      } else if (c == ']') {
        return j + 1;
      } else {
        j++;
      }
    }
    return re.length();
  }
}
