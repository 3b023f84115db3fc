package io.meshup.core.route;

/**
 * Header changes a route asks for, applied by a transport to its own request or response type.
 * Names are in lower case. Called in the call's serialized order; implementations need not be
 * thread-safe.
 */
public interface HeaderEdits {
  /** Replaces every value of {@code name} with {@code value}. */
  void set(String name, String value);

  /** Adds {@code value} to {@code name}'s values. */
  void add(String name, String value);

  /** Removes every value of {@code name}. */
  void remove(String name);
}
