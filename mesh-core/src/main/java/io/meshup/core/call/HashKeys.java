package io.meshup.core.call;

import java.time.Duration;

/** Cookie parsing and generation for consistent hashing by cookie. Stateless. */
final class HashKeys {
  /** The address a request without a known source hashes by: this process's host address. */
  static final String LOCAL_ADDRESS = localAddress();

  private HashKeys() {}

  private static String localAddress() {
    try {
      return java.net.InetAddress.getLocalHost().getHostAddress();
    } catch (java.io.IOException | SecurityException e) {
      return "127.0.0.1";
    }
  }

  /** The value of cookie {@code name} in a {@code Cookie} header, or null. */
  static String cookie(String header, String name) {
    if (header == null) {
      return null;
    }
    for (String part : header.split(";")) {
      String p = part.trim();
      int eq = p.indexOf('=');
      if (eq > 0 && p.substring(0, eq).trim().equals(name)) {
        String v = p.substring(eq + 1).trim();
        return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
      }
    }
    return null;
  }

  /** A {@code Set-Cookie} value: {@code Max-Age} for a positive TTL (a session cookie for zero), the path, HttpOnly. */
  static String setCookie(String name, String value, Duration ttl, String path) {
    StringBuilder b = new StringBuilder(name).append('=').append(value);
    if (!ttl.isZero()) {
      b.append("; Max-Age=").append(ttl.toSeconds());
    }
    if (path != null) {
      b.append("; Path=").append(path);
    }
    return b.append("; HttpOnly").toString();
  }
}
