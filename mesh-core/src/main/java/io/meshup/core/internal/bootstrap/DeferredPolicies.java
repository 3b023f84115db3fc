package io.meshup.core.internal.bootstrap;

import io.meshup.core.MeshConfigException;
import io.meshup.core.spi.PolicySink;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The {@link PolicySink} a registry plug-in gets while the mesh is still being built: holds the
 * updates and declared sources until {@link #attach}, then passes everything straight through, in
 * order: an update arriving while the held ones are applied waits for them. Thread-safe.
 */
public final class DeferredPolicies implements PolicySink {
  private final Map<String, Map<String, String>> pending = new LinkedHashMap<>();
  private final List<String> declared = new ArrayList<>();
  private BiConsumer<String, Map<String, String>> target;

  @Override
  public synchronized void declare(List<String> sourcesLowestFirst) {
    declared.addAll(sourcesLowestFirst);
  }

  @Override
  public void update(String source, String yamlDocuments) {
    update(source, Map.of(source, yamlDocuments));
  }

  @Override
  public void update(String source, Map<String, String> yamlByOrigin) {
    // under the lock, so that an update cannot overtake the held ones attach is still applying
    // (a held fail-closed document applied after a newer good one would stay in force)
    synchronized (this) {
      if (target == null) {
        pending.put(source, new LinkedHashMap<>(yamlByOrigin));
        return;
      }
      target.accept(source, yamlByOrigin);
    }
  }

  /**
   * From now on, updates go to {@code updates}; the sources declared so far go to {@code order}
   * first, then the updates held so far. A rejected held update is dropped (the runtime logged and
   * counted it; the last good policy keeps serving).
   */
  public synchronized void attach(Consumer<List<String>> order, BiConsumer<String, Map<String, String>> updates) {
    target = updates;
    Map<String, Map<String, String>> todo = new LinkedHashMap<>(pending);
    pending.clear();
    order.accept(List.copyOf(declared));
    for (Map.Entry<String, Map<String, String>> u : todo.entrySet()) {
      try {
        updates.accept(u.getKey(), u.getValue());
      } catch (MeshConfigException e) {
        // logged and counted by the runtime; the last good policy keeps serving
      }
    }
  }
}
