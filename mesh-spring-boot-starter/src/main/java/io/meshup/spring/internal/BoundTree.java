package io.meshup.spring.internal;

import io.meshup.core.MeshConfigException;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.config.ConfigNode.Kind;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.boot.context.properties.bind.PlaceholdersResolver;
import org.springframework.boot.context.properties.bind.PropertySourcesPlaceholdersResolver;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName.Form;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.context.properties.source.IterableConfigurationPropertySource;
import org.springframework.boot.origin.Origin;
import org.springframework.boot.origin.PropertySourceOrigin;
import org.springframework.boot.origin.TextResourceOrigin;
import org.springframework.core.env.ConfigurableEnvironment;

/**
 * The {@code mesh} section of a Spring {@link ConfigurableEnvironment} as the tree
 * {@code Mesh.Builder.boundSettings} reads ({@link ConfigNode#bound}), so MeshUp's own readers
 * check it with the messages {@code Mesh.fromYaml} gives, each naming the origin Spring recorded
 * for the value (a file and line, an environment variable, a command-line argument).
 *
 * <p>The tree is what Spring's {@code Binder} would bind, source by source in precedence order
 * (profiles, {@code SPRING_APPLICATION_JSON}, environment variables, system properties, a config
 * server's sources...): a scalar comes from the first source that has it; a list comes whole from
 * the first source that has any item of it (so a profile's list replaces the default one), its
 * items numbered from 0 without gaps; a mapping merges the entries of every source. Keys of
 * different sources that are the same in relaxed form ({@code idle-timeout}, {@code idleTimeout},
 * {@code MESH_DEFAULTS_IDLETIMEOUT}) are one key, spelt as the highest source other than the
 * environment spells it. Values go through the Environment's {@code ${...}} resolution; one left
 * unresolved (no such property and no default) is an error, as in {@code Mesh.fromYaml}. An empty
 * value reads as absent, which is how Spring's YAML loader presents {@code []} and {@code {}}.
 * Scalars name their line; a mapping or list names the file of its first value but no line (the
 * flattened view Spring keeps has lines for values only).
 *
 * <p>Used once per context, at start; not thread-safe.
 */
public final class BoundTree {
  /** The section's root. */
  public static final ConfigurationPropertyName MESH = ConfigurationPropertyName.of("mesh");
  private static final Pattern UNRESOLVED = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_.\\-]*)}");

  private final List<ConfigurationPropertySource> sources = new ArrayList<>();
  /** The names under {@code mesh} each iterable source holds. */
  private final Map<ConfigurationPropertySource, List<ConfigurationPropertyName>> names = new HashMap<>();
  private final PlaceholdersResolver placeholders;

  private BoundTree(ConfigurableEnvironment environment) {
    this.placeholders = new PropertySourcesPlaceholdersResolver(environment);
    for (ConfigurationPropertySource s : ConfigurationPropertySources.get(environment)) {
      sources.add(s);
      if (s instanceof IterableConfigurationPropertySource it) {
        names.put(s, it.stream().filter(n -> MESH.equals(n) || MESH.isAncestorOf(n)).toList());
      }
    }
  }

  /** Whether any property source holds a key under {@code mesh}. */
  public static boolean present(ConfigurableEnvironment environment) {
    BoundTree t = new BoundTree(environment);
    return t.names.values().stream().anyMatch(l -> !l.isEmpty());
  }

  /**
   * The tree of {@code environment}'s {@code mesh} section, as a mapping holding the key {@code mesh}.
   *
   * @throws MeshConfigException when a list has a gap or a placeholder cannot be resolved
   */
  public static ConfigNode read(ConfigurableEnvironment environment) {
    BoundTree t = new BoundTree(environment);
    ConfigNode mesh = t.node(MESH, "mesh", null);
    return ConfigNode.bound(mesh.source(), "", 0, Kind.MAP, null, Map.of("mesh", mesh), null);
  }

  /**
   * The node at {@code name}, {@code path} being its dotted path as the tree spells it; from
   * {@code only} alone when not null (the items of a list come from one source).
   */
  private ConfigNode node(ConfigurationPropertyName name, String path, ConfigurationPropertySource only) {
    for (ConfigurationPropertySource s : sources) {
      if (only != null && s != only) {
        continue;
      }
      ConfigurationProperty p = s.getConfigurationProperty(name);
      List<ConfigurationPropertyName> below = below(s, name);
      if (p == null && below.isEmpty()) {
        continue;
      }
      if (below.isEmpty() || p != null && !text(p).isEmpty()) {
        return scalar(p, path);
      }
      if (isIndexed(below.get(0), name)) {
        return list(s, name, path, below);
      }
      return map(name, path, only, below.get(0), s);
    }
    return ConfigNode.bound("mesh", path, 0, Kind.NULL, null, null, null);
  }

  private ConfigNode scalar(ConfigurationProperty p, String path) {
    String value = text(p);
    String[] where = origin(p.getOrigin(), p.getSource());
    int line = Integer.parseInt(where[1]);
    if (value.isEmpty()) {
      return ConfigNode.bound(where[0], path, line, Kind.NULL, null, null, null);
    }
    String resolved = String.valueOf(placeholders.resolvePlaceholders(value));
    Matcher m = UNRESOLVED.matcher(resolved);
    if (m.find()) {
      throw new MeshConfigException(line > 0 ? where[0] + " (line " + line + ")" : where[0], path,
          "property or environment variable " + m.group(1) + " is not set and " + ConfigNode.quote(m.group())
              + " gives no default; write ${" + m.group(1) + ":default}");
    }
    return ConfigNode.bound(where[0], path, line, Kind.SCALAR, resolved, null, null);
  }

  /** The items of the list at {@code name}, all from {@code s}. */
  private ConfigNode list(ConfigurationPropertySource s, ConfigurationPropertyName name, String path,
      List<ConfigurationPropertyName> below) {
    int depth = name.getNumberOfElements();
    int max = -1;
    for (ConfigurationPropertyName n : below) {
      if (isIndexed(n, name)) {
        max = Math.max(max, Integer.parseInt(n.getElement(depth, Form.ORIGINAL)));
      }
    }
    List<ConfigNode> items = new ArrayList<>();
    for (int i = 0; i <= max; i++) {
      ConfigurationPropertyName item = name.append("[" + i + "]");
      ConfigNode n = node(item, path + "[" + i + "]", s);
      if (n.isNull()) {
        String[] where = origin(first(s, name).getOrigin(), s);
        throw new MeshConfigException(where[0], path, "item [" + i + "] is missing but a later item is set ("
            + path + "[" + max + "]); list items are numbered from 0 without gaps");
      }
      items.add(n);
    }
    String[] where = origin(first(s, name).getOrigin(), s);
    return ConfigNode.bound(where[0], path, 0, Kind.LIST, null, null, items);
  }

  /** The mapping at {@code name}: the entries every source (or {@code only}) holds below it. */
  private ConfigNode map(ConfigurationPropertyName name, String path, ConfigurationPropertySource only,
      ConfigurationPropertyName any, ConfigurationPropertySource deciding) {
    int depth = name.getNumberOfElements();
    Map<ConfigurationPropertyName, String> keys = new LinkedHashMap<>();
    Map<ConfigurationPropertyName, Boolean> fromEnvironmentOnly = new HashMap<>();
    for (ConfigurationPropertySource s : sources) {
      if (only != null && s != only) {
        continue;
      }
      boolean environment = isEnvironment(s);
      for (ConfigurationPropertyName n : below(s, name)) {
        if (isIndexed(n, name)) {
          continue;
        }
        ConfigurationPropertyName child = n.chop(depth + 1);
        String spelling = n.getElement(depth, Form.ORIGINAL);
        if (!keys.containsKey(child)) {
          keys.put(child, spelling);
          fromEnvironmentOnly.put(child, environment);
        } else if (fromEnvironmentOnly.get(child) && !environment) {
          keys.put(child, spelling);
          fromEnvironmentOnly.put(child, false);
        }
      }
    }
    Map<String, ConfigNode> entries = new LinkedHashMap<>();
    for (Map.Entry<ConfigurationPropertyName, String> k : keys.entrySet()) {
      ConfigNode n = node(k.getKey(), path + "." + k.getValue(), only);
      if (!n.isNull() || !entries.containsKey(k.getValue())) {
        entries.put(k.getValue(), n);
      }
    }
    ConfigurationProperty p = deciding.getConfigurationProperty(any);
    String[] where = p != null ? origin(p.getOrigin(), deciding) : origin(null, deciding);
    return ConfigNode.bound(where[0], path, 0, Kind.MAP, null, entries, null);
  }

  /** The names strictly below {@code name} in {@code s} (none for a source that cannot list its names). */
  private List<ConfigurationPropertyName> below(ConfigurationPropertySource s, ConfigurationPropertyName name) {
    List<ConfigurationPropertyName> all = names.get(s);
    if (all == null) {
      return List.of();
    }
    List<ConfigurationPropertyName> out = new ArrayList<>();
    for (ConfigurationPropertyName n : all) {
      if (name.isAncestorOf(n)) {
        out.add(n);
      }
    }
    return out;
  }

  /** The first property of {@code s} below {@code name}. */
  private ConfigurationProperty first(ConfigurationPropertySource s, ConfigurationPropertyName name) {
    for (ConfigurationPropertyName n : below(s, name)) {
      ConfigurationProperty p = s.getConfigurationProperty(n);
      if (p != null) {
        return p;
      }
    }
    return null;
  }

  /** Whether {@code n}'s element right below {@code parent} is a list index ({@code [0]}). */
  private static boolean isIndexed(ConfigurationPropertyName n, ConfigurationPropertyName parent) {
    return n.isNumericIndex(parent.getNumberOfElements());
  }

  private static boolean isEnvironment(ConfigurationPropertySource s) {
    Object u = s.getUnderlyingSource();
    return u instanceof org.springframework.core.env.SystemEnvironmentPropertySource;
  }

  private static String text(ConfigurationProperty p) {
    Object v = p.getValue();
    return v == null ? "" : v.toString();
  }

  /** [where, line]: a resource's description and line, or the origin's or the source's own name. */
  private static String[] origin(Origin origin, Object source) {
    for (Origin o = origin; o != null; o = o instanceof PropertySourceOrigin p ? p.getOrigin() : o.getParent()) {
      if (o instanceof TextResourceOrigin t && t.getResource() != null) {
        int line = t.getLocation() == null ? 0 : t.getLocation().getLine() + 1;
        return new String[] {t.getResource().getDescription(), String.valueOf(line)};
      }
    }
    if (origin != null) {
      return new String[] {origin.toString(), "0"};
    }
    Object u = source instanceof ConfigurationPropertySource c ? c.getUnderlyingSource() : source;
    String name = u instanceof org.springframework.core.env.PropertySource<?> ps ? ps.getName() : String.valueOf(u);
    return new String[] {"property source '" + name + "'", "0"};
  }
}
