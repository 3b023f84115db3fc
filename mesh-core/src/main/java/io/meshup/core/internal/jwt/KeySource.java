package io.meshup.core.internal.jwt;

import com.nimbusds.jose.jwk.JWKSet;

/**
 * Where a JWT rule's verification keys come from: an inline set, or a set fetched from a URL (and
 * refreshed) by {@link JwksCache}. Thread-safe.
 */
public interface KeySource {
  /** The keys in force, or null while none could be read yet. */
  JWKSet keys();

  /** Why there are no keys, when {@link #keys()} is null; for the refusal's log line. */
  String unavailableReason();

  /** Asks for a refresh soon (a token named a key the set does not hold: the issuer may have rotated). */
  default void refreshSoon() {}

  /** A fixed key set. */
  static KeySource of(JWKSet keys) {
    return new KeySource() {
      @Override
      public JWKSet keys() {
        return keys;
      }

      @Override
      public String unavailableReason() {
        return "";
      }
    };
  }

  /** A source that never has keys, saying why. */
  static KeySource none(String reason) {
    return new KeySource() {
      @Override
      public JWKSet keys() {
        return null;
      }

      @Override
      public String unavailableReason() {
        return reason;
      }
    };
  }
}
