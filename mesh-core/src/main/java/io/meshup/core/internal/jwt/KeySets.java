package io.meshup.core.internal.jwt;

import com.nimbusds.jose.jwk.JWKSet;
import java.text.ParseException;

/** Parses JSON Web Key Sets with nimbus-jose-jwt, refusing one with no usable key. Stateless. */
public final class KeySets {
  /** The largest key set read, in characters (from a file, a URL or a policy). */
  static final int MAX_CHARS = 1 << 20;

  private KeySets() {}

  /** Why {@code json} is not a JSON Web Key Set with at least one key, or null. */
  public static String problem(String json) {
    try {
      parse(json);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /**
   * Parses a key set.
   *
   * @throws IllegalArgumentException saying what is wrong (never quoting key material)
   */
  static JWKSet parse(String json) {
    if (json.length() > MAX_CHARS) {
      throw new IllegalArgumentException("it is longer than " + MAX_CHARS + " characters");
    }
    JWKSet set;
    try {
      set = JWKSet.parse(json);
    } catch (ParseException e) {
      throw new IllegalArgumentException(e.getMessage());
    }
    if (set.getKeys().isEmpty()) {
      throw new IllegalArgumentException("it holds no key");
    }
    return set;
  }
}
