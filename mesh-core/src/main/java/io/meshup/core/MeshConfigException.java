package io.meshup.core;

/**
 * Thrown when a bootstrap file or a policy document is invalid.
 *
 * <p>The message always names the place: the file (or policy key, or {@code inline}), the document
 * when there is one, the path of the offending key, and what was expected, for example {@code
 * meshup/config/payments.yaml: VirtualService payments, spec.http[0].route[1].weight: -5 is
 * negative; weights must be 0..100}. {@link #source()} and {@link #path()} give the parts alone.
 */
public final class MeshConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final String path;

  /**
   * Creates an exception for a problem at {@code path} inside {@code source}.
   *
   * @param source the file, key or {@code inline}, plus the document name when there is one
   * @param path the dotted path of the key, or empty for the whole document
   * @param problem what is wrong and what was expected
   */
  public MeshConfigException(String source, String path, String problem) {
    super(format(source, path, problem));
    this.source = source;
    this.path = path;
  }

  /**
   * Creates an exception that wraps another failure at the same place.
   *
   * @param source the file, key or {@code inline}
   * @param path the dotted path of the key
   * @param problem what is wrong
   * @param cause the underlying failure
   */
  public MeshConfigException(String source, String path, String problem, Throwable cause) {
    super(format(source, path, problem), cause);
    this.source = source;
    this.path = path;
  }

  /** How long each part of a message may be; longer parts are cut, saying their full length. */
  static final int PART_LIMIT = 1000;

  private static String format(String source, String path, String problem) {
    String s = cut(source);
    String p = cut(path);
    String m = cut(problem);
    return p == null || p.isEmpty() ? s + ": " + m : s + ", " + p + ": " + m;
  }

  private static String cut(String part) {
    if (part == null || part.length() <= PART_LIMIT) {
      return part;
    }
    return part.substring(0, PART_LIMIT) + "... (cut; " + part.length() + " characters)";
  }

  /** The file, key or {@code inline} source (with the document name when known); never null. */
  public String source() {
    return source;
  }

  /** The dotted path of the offending key inside its document; empty when the whole document is at fault. */
  public String path() {
    return path == null ? "" : path;
  }
}
