package io.meshup.core.internal.config;

/**
 * The dotted path of a node inside its document ({@code spec.http[0].route[1].weight}), kept as a
 * link to its parent's path and built into text only when asked (for an error message). A node
 * therefore costs the same whatever its depth and however long its keys. Immutable; thread-safe
 * (the text is cached with a benign race).
 */
final class KeyPath {
  static final KeyPath ROOT = new KeyPath(null, null, -1, "");

  private final KeyPath parent;
  private final String key;
  private final int index;
  private String text;

  private KeyPath(KeyPath parent, String key, int index, String text) {
    this.parent = parent;
    this.key = key;
    this.index = index;
    this.text = text;
  }

  /** A path that starts afresh at {@code text} (empty for a document's root). */
  static KeyPath of(String text) {
    return text.isEmpty() ? ROOT : new KeyPath(null, null, -1, text);
  }

  /** The path of the value at {@code key} of the mapping at this path. */
  KeyPath key(String k) {
    return new KeyPath(this, k, -1, null);
  }

  /** The path of item {@code i} of the sequence at this path. */
  KeyPath index(int i) {
    return new KeyPath(this, null, i, null);
  }

  @Override
  public String toString() {
    String t = text;
    if (t == null) {
      String p = parent.toString();
      t = key != null ? (p.isEmpty() ? key : p + "." + key) : p + "[" + index + "]";
      text = t;
    }
    return t;
  }
}
