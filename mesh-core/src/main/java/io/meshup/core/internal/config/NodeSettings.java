package io.meshup.core.internal.config;

import io.meshup.core.MeshConfigException;
import io.meshup.core.spi.Settings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@link Settings} over a {@link ConfigNode}. */
public final class NodeSettings implements Settings {
  private final ConfigNode node;

  public NodeSettings(ConfigNode node) {
    this.node = node;
  }

  @Override
  public Settings allowOnly(String... keys) {
    if (!node.isNull()) {
      node.keys(keys);
    }
    return this;
  }

  @Override
  public boolean has(String key) {
    return node.has(key);
  }

  @Override
  public Settings section(String key) {
    return new NodeSettings(node.get(key));
  }

  @Override
  public String string(String key, String fallback) {
    return node.get(key).string(fallback);
  }

  @Override
  public String requiredString(String key) {
    return node.required(key).nonEmpty();
  }

  @Override
  public long integer(String key, long min, long max, long fallback) {
    return node.get(key).integer(min, max, fallback);
  }

  @Override
  public boolean bool(String key, boolean fallback) {
    return node.get(key).bool(fallback);
  }

  @Override
  public Duration duration(String key, Duration fallback) {
    return node.get(key).duration(fallback);
  }

  @Override
  public List<String> strings(String key) {
    List<String> out = new ArrayList<>();
    for (ConfigNode n : node.get(key).items()) {
      out.add(n.string());
    }
    return List.copyOf(out);
  }

  @Override
  public Map<String, String> stringMap(String key) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : node.get(key).entries().entrySet()) {
      out.put(e.getKey(), e.getValue().string());
    }
    return Map.copyOf(out);
  }

  @Override
  public MeshConfigException error(String key, String problem) {
    return (key == null || key.isEmpty() ? node : node.get(key)).error(problem);
  }

  @Override
  public String path() {
    return node.path();
  }
}
