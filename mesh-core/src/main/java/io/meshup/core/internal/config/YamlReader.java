package io.meshup.core.internal.config;

import io.meshup.core.MeshConfigException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Reads YAML text into {@link ConfigNode} trees, substituting {@code ${VAR:default}} in scalars.
 * Thread-safe: holds only the environment lookup.
 */
public final class YamlReader {
  private static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?}");

  private final Function<String, String> env;

  /**
   * @param env looks up a variable; returns null when it is not set
   */
  public YamlReader(Function<String, String> env) {
    this.env = env;
  }

  /** Reads every document of {@code text}; empty documents are skipped. */
  public List<ConfigNode> readAll(String source, String text) {
    List<ConfigNode> out = new ArrayList<>();
    try {
      Compose compose = new Compose(LoadSettings.builder().setLabel(source).build());
      for (Node n : compose.composeAllFromString(text)) {
        ConfigNode c = convert(source, "", n);
        if (!c.isNull()) {
          out.add(c);
        }
      }
    } catch (YamlEngineException e) {
      throw new MeshConfigException(source, "", "not valid YAML: " + e.getMessage().replaceAll("\\s+", " ").trim(), e);
    }
    return out;
  }

  /** Reads a single-document text; an empty text gives a NULL node. */
  public ConfigNode read(String source, String text) {
    List<ConfigNode> all = readAll(source, text);
    if (all.size() > 1) {
      throw new MeshConfigException(source, "", "expected one YAML document, found " + all.size());
    }
    return all.isEmpty() ? new ConfigNode(source, "", 0, ConfigNode.Kind.NULL, null, null, null) : all.get(0);
  }

  private ConfigNode convert(String source, String path, Node node) {
    int line = node.getStartMark().map(m -> m.getLine() + 1).orElse(0);
    if (node instanceof MappingNode) {
      Map<String, ConfigNode> map = new LinkedHashMap<>();
      for (NodeTuple t : ((MappingNode) node).getValue()) {
        if (!(t.getKeyNode() instanceof ScalarNode)) {
          throw new MeshConfigException(source + " (line " + line + ")", path, "keys must be plain strings");
        }
        String key = ((ScalarNode) t.getKeyNode()).getValue();
        String childPath = ConfigNode.join(path, key);
        if (map.containsKey(key)) {
          throw new MeshConfigException(source + " (line " + line + ")", childPath, "key appears twice");
        }
        map.put(key, convert(source, childPath, t.getValueNode()));
      }
      return new ConfigNode(source, path, line, ConfigNode.Kind.MAP, null, map, null);
    }
    if (node instanceof SequenceNode) {
      List<ConfigNode> list = new ArrayList<>();
      List<Node> items = ((SequenceNode) node).getValue();
      for (int i = 0; i < items.size(); i++) {
        list.add(convert(source, path + "[" + i + "]", items.get(i)));
      }
      return new ConfigNode(source, path, line, ConfigNode.Kind.LIST, null, null, list);
    }
    ScalarNode s = (ScalarNode) node;
    String value = s.getValue();
    boolean plain = s.isPlain();
    if (plain && (value.isEmpty() || value.equals("~") || value.equals("null") || value.equals("Null") || value.equals("NULL"))) {
      return new ConfigNode(source, path, line, ConfigNode.Kind.NULL, null, null, null);
    }
    String substituted = substitute(source, path, line, value);
    return new ConfigNode(source, path, line, ConfigNode.Kind.SCALAR, substituted, null, null);
  }

  private String substitute(String source, String path, int line, String value) {
    if (value.indexOf("${") < 0) {
      return value;
    }
    Matcher m = VAR.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String v = env.apply(m.group(1));
      if (v == null) {
        v = m.group(2);
      }
      if (v == null) {
        throw new MeshConfigException(source + " (line " + line + ")", path,
            "environment variable " + m.group(1) + " is not set and '" + m.group() + "' gives no default; write ${" + m.group(1) + ":default}");
      }
      m.appendReplacement(sb, Matcher.quoteReplacement(v));
    }
    m.appendTail(sb);
    return sb.toString();
  }
}
