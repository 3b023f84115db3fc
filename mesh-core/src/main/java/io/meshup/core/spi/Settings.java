package io.meshup.core.spi;

import io.meshup.core.MeshConfigException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A plug-in's section of the {@code mesh:} YAML, with the same checks and error messages as the
 * core's own settings: every error names the file, the key path and what was expected. Immutable;
 * thread-safe.
 */
public interface Settings {
  /** Rejects any key not listed, naming the first unknown one. Returns this for chaining. */
  Settings allowOnly(String... keys);

  /** True when {@code key} is present and not null. */
  boolean has(String key);

  /** A nested section; an absent one reads as empty. */
  Settings section(String key);

  /** A string, or {@code fallback} when absent. */
  String string(String key, String fallback);

  /** A required non-empty string. */
  String requiredString(String key);

  /** An integer within {@code min..max}, or {@code fallback} when absent. */
  long integer(String key, long min, long max, long fallback);

  /** {@code true}/{@code false}, or {@code fallback} when absent. */
  boolean bool(String key, boolean fallback);

  /** A duration such as {@code 500ms}, {@code 10s}, {@code 5m}, or {@code fallback} when absent. */
  Duration duration(String key, Duration fallback);

  /** A list of strings; empty when absent. */
  List<String> strings(String key);

  /** A mapping of strings; empty when absent. */
  Map<String, String> stringMap(String key);

  /** An error about {@code key} in this section, to throw. */
  MeshConfigException error(String key, String problem);

  /** The dotted path of this section, for messages. */
  String path();
}
