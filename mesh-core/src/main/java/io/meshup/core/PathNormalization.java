package io.meshup.core;

/**
 * How inbound HTTP request paths are normalized before they are authorized, as Istio's
 * {@code meshConfig.pathNormalization} does; the handler then sees the normalized path. Set it with
 * {@code mesh.security.pathNormalization} or {@link Mesh.Builder#pathNormalization}.
 *
 * <p>In every mode but {@link #NONE} a target that cannot be made unambiguous is refused with 400:
 * an encoded {@code /} or {@code \} ({@code %2F}, {@code %5C}) unless the mode decodes them, an
 * invalid or NUL percent-encoding, a path that climbs above the root, a fragment, a control or
 * non-ASCII character, a target that is neither origin-form nor absolute-form. Methods that are not
 * in canonical upper case are refused with 400 in every mode. gRPC paths are matched exactly and
 * never normalized.
 */
public enum PathNormalization {
  /** No normalization: the path is authorized and passed on as received. */
  NONE,
  /**
   * The default: RFC 3986 normalization as Envoy's {@code normalize_path} does it: percent-encoded
   * unreserved characters decoded (once), {@code \} turned into {@code /}, {@code .} and
   * {@code ..} segments resolved; encoded slashes are refused.
   */
  BASE,
  /** {@link #BASE}, then runs of {@code /} merged into one. */
  MERGE_SLASHES,
  /**
   * {@code %2F} and {@code %5C} decoded to {@code /} (a decoded {@code \} becoming {@code /}),
   * then {@link #MERGE_SLASHES}.
   */
  DECODE_AND_MERGE_SLASHES
}
