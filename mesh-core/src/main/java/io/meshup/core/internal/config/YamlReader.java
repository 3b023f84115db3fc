package io.meshup.core.internal.config;

import io.meshup.core.MeshConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Parse;
import org.snakeyaml.engine.v2.events.AliasEvent;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.events.NodeEvent;
import org.snakeyaml.engine.v2.events.ScalarEvent;

/**
 * Reads YAML text into {@link ConfigNode} trees, substituting {@code ${VAR:default}} in scalars,
 * within {@link PolicyLimits}. The tree is built straight from the parser's events with an
 * explicit stack (no recursion, so no depth can overflow the thread's stack), and every limit is
 * checked as the events arrive: the size before parsing starts, the depth at each mapping or
 * sequence, the node count at each node (an alias adds every node it expands to before it is
 * copied), the key length at each key, the substitution output as it is produced. Substitution
 * runs once per scalar written in the text; an alias shares the result. Thread-safe: holds only
 * the environment lookup and the limits.
 */
public final class YamlReader {
  private static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?}");

  private final Function<String, String> env;
  private final PolicyLimits limits;

  /**
   * A reader within {@link PolicyLimits#DEFAULT}.
   *
   * @param env looks up a variable; returns null when it is not set
   */
  public YamlReader(Function<String, String> env) {
    this(env, PolicyLimits.DEFAULT);
  }

  /**
   * @param env looks up a variable; returns null when it is not set
   * @param limits the bounds of every text read
   */
  public YamlReader(Function<String, String> env, PolicyLimits limits) {
    this.env = env;
    this.limits = limits;
  }

  /** The bounds this reader applies. */
  public PolicyLimits limits() {
    return limits;
  }

  /**
   * Reads a file's text: its size is checked before it is read, its bytes must be UTF-8.
   *
   * @param source names the file in errors
   */
  public String readFile(String source, Path file) {
    try {
      long size = Files.size(file);
      if (size > limits.maxDocumentBytes()) {
        throw tooLarge(source, size);
      }
      byte[] bytes;
      try (InputStream in = Files.newInputStream(file)) {
        bytes = in.readNBytes(limits.maxDocumentBytes() + 1);
      }
      return decode(source, bytes);
    } catch (IOException e) {
      throw new MeshConfigException(source, "", "cannot read the file: " + e);
    }
  }

  /**
   * Decodes {@code bytes} as UTF-8, strictly: a byte sequence that is not UTF-8 is refused with its
   * offset, never replaced.
   */
  public String decode(String source, byte[] bytes) {
    if (bytes.length > limits.maxDocumentBytes()) {
      throw tooLarge(source, bytes.length);
    }
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    try {
      return d.decode(in).toString();
    } catch (MalformedInputException e) {
      throw new MeshConfigException(source, "", "is not UTF-8: invalid byte sequence at byte offset " + in.position()
          + "; policy documents must be UTF-8 text");
    } catch (CharacterCodingException e) {
      throw new MeshConfigException(source, "", "is not UTF-8 (" + e + "); policy documents must be UTF-8 text");
    }
  }

  /** Reads every document of {@code text}; empty documents are skipped. */
  public List<ConfigNode> readAll(String source, String text) {
    checkSize(source, text);
    // one buffer for the whole text: with the default 1 KiB buffer the reader copies everything not
    // yet consumed at each refill, which makes one long scalar cost its length squared
    LoadSettings settings = LoadSettings.builder().setLabel(source)
        .setCodePointLimit(Math.max(limits.maxDocumentBytes(), 1))
        .setBufferSize(Math.max(text.length() + 1, 1024))
        .build();
    Builder b = new Builder(source);
    try {
      for (Event e : new Parse(settings).parseString(text)) {
        b.on(e);
      }
    } catch (MeshConfigException e) {
      throw e;
    } catch (RuntimeException e) {
      String m = e.getMessage() == null ? e.toString() : e.getMessage();
      throw new MeshConfigException(source, "", "not valid YAML: " + cut(m.replaceAll("\\s+", " ").trim()), e);
    }
    return b.documents;
  }

  /** Reads a single-document text; an empty text gives a NULL node. */
  public ConfigNode read(String source, String text) {
    List<ConfigNode> all = readAll(source, text);
    if (all.size() > 1) {
      throw new MeshConfigException(source, "", "expected one YAML document, found " + all.size());
    }
    return all.isEmpty() ? new ConfigNode(source, "", 0, ConfigNode.Kind.NULL, null, null, null) : all.get(0);
  }

  private void checkSize(String source, String text) {
    int max = limits.maxDocumentBytes();
    if (text.length() > max) {
      throw tooLarge(source, text.length() > Integer.MAX_VALUE / 3 ? text.length() : utf8Length(text));
    }
    if ((long) text.length() * 3 > max) {
      long bytes = utf8Length(text);
      if (bytes > max) {
        throw tooLarge(source, bytes);
      }
    }
  }

  private static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  private MeshConfigException tooLarge(String source, long bytes) {
    return new MeshConfigException(source, "", "is " + bytes + " bytes; the limit is " + limits.maxDocumentBytes()
        + " bytes per text (policy limit maxDocumentBytes)");
  }

  /** A message from the parser, cut to a readable length. */
  private static String cut(String m) {
    return m.length() <= 300 ? m : m.substring(0, 300) + "... (" + m.length() + " characters)";
  }

  /** One open mapping or sequence. */
  private static final class Frame {
    final boolean mapping;
    final KeyPath path;
    final int line;
    final String anchor;
    final LinkedHashMap<String, ConfigNode> map;
    final List<ConfigNode> list;
    /** In a mapping: the key whose value comes next, or null when a key comes next. */
    String key;
    int keyLine;

    Frame(boolean mapping, KeyPath path, int line, String anchor) {
      this.mapping = mapping;
      this.path = path;
      this.line = line;
      this.anchor = anchor;
      this.map = mapping ? new LinkedHashMap<>() : null;
      this.list = mapping ? null : new ArrayList<>();
    }
  }

  /** Turns the events of one text into trees, within the limits. Used by one thread, once. */
  private final class Builder {
    final String source;
    final List<ConfigNode> documents = new ArrayList<>();
    final ArrayDeque<Frame> stack = new ArrayDeque<>();
    final Map<String, ConfigNode> anchors = new HashMap<>();
    long nodes;
    long substituted;
    ConfigNode root;

    Builder(String source) {
      this.source = source;
    }

    void on(Event e) {
      switch (e.getEventId()) {
        case DocumentStart:
          anchors.clear();
          root = null;
          break;
        case DocumentEnd:
          if (root != null && !root.isNull()) {
            documents.add(root);
          }
          root = null;
          break;
        case MappingStart:
        case SequenceStart:
          open(e, e.getEventId() == Event.ID.MappingStart);
          break;
        case MappingEnd:
        case SequenceEnd:
          close();
          break;
        case Scalar:
          scalar((ScalarEvent) e);
          break;
        case Alias:
          alias((AliasEvent) e);
          break;
        default:
          break;
      }
    }

    private int line(Event e) {
      return e.getStartMark().map(m -> m.getLine() + 1).orElse(0);
    }

    private String where(int line) {
      return line > 0 ? source + " (line " + line + ")" : source;
    }

    private String anchorOf(NodeEvent e) {
      return e.getAnchor().map(a -> a.getValue()).orElse(null);
    }

    /** The path of the node that comes next; an error when a key was expected. */
    private KeyPath nextPath(Event e) {
      Frame top = stack.peek();
      if (top == null) {
        return KeyPath.ROOT;
      }
      if (top.mapping) {
        if (top.key == null) {
          throw new MeshConfigException(where(line(e)), top.path.toString(), "keys must be plain strings");
        }
        return top.path.key(top.key);
      }
      return top.path.index(top.list.size());
    }

    private void count(long n, int line, KeyPath path) {
      nodes += n;
      if (nodes > limits.maxNodes()) {
        throw new MeshConfigException(where(line), path.toString(), "the text holds more than " + limits.maxNodes()
            + " nodes once its aliases are expanded (policy limit maxNodes); aliases that repeat large"
            + " subtrees are refused");
      }
    }

    private void open(Event e, boolean mapping) {
      KeyPath path = nextPath(e);
      int line = line(e);
      if (stack.size() + 1 > limits.maxDepth()) {
        throw new MeshConfigException(where(line), "", "nests deeper than " + limits.maxDepth()
            + " levels of mappings and sequences (policy limit maxDepth)");
      }
      count(1, line, path);
      stack.push(new Frame(mapping, path, line, anchorOf((NodeEvent) e)));
    }

    private void close() {
      Frame f = stack.pop();
      ConfigNode n = f.mapping
          ? new ConfigNode(source, f.path, f.line, ConfigNode.Kind.MAP, null, f.map, null)
          : new ConfigNode(source, f.path, f.line, ConfigNode.Kind.LIST, null, null, f.list);
      if (f.anchor != null) {
        anchors.put(f.anchor, n);
      }
      attach(n);
    }

    private void attach(ConfigNode n) {
      Frame top = stack.peek();
      if (top == null) {
        root = n;
      } else if (top.mapping) {
        top.map.put(top.key, n);
        top.key = null;
      } else {
        top.list.add(n);
      }
    }

    private void scalar(ScalarEvent e) {
      Frame top = stack.peek();
      int line = line(e);
      if (top != null && top.mapping && top.key == null) {
        String key = e.getValue();
        if (key.length() > limits.maxKeyLength()) {
          throw new MeshConfigException(where(line), top.path.toString(), "key " + ConfigNode.quote(key)
              + " is longer than " + limits.maxKeyLength() + " characters (policy limit maxKeyLength)");
        }
        count(1, line, top.path);
        if (top.map.containsKey(key)) {
          throw new MeshConfigException(where(line), top.path.key(key).toString(), "key appears twice");
        }
        top.key = key;
        top.keyLine = line;
        if (anchorOf(e) != null) {
          anchors.put(anchorOf(e), new ConfigNode(source, top.path, line, ConfigNode.Kind.SCALAR, key, null, null));
        }
        return;
      }
      KeyPath path = nextPath(e);
      count(1, line, path);
      String value = e.getValue();
      ConfigNode n;
      if (e.isPlain() && (value.isEmpty() || value.equals("~") || value.equals("null") || value.equals("Null")
          || value.equals("NULL"))) {
        n = new ConfigNode(source, path, line, ConfigNode.Kind.NULL, null, null, null);
      } else {
        n = new ConfigNode(source, path, line, ConfigNode.Kind.SCALAR, substitute(path, line, value), null, null);
      }
      String anchor = anchorOf(e);
      if (anchor != null) {
        anchors.put(anchor, n);
      }
      attach(n);
    }

    private void alias(AliasEvent e) {
      int line = line(e);
      Frame top = stack.peek();
      if (top != null && top.mapping && top.key == null) {
        throw new MeshConfigException(where(line), top.path.toString(), "keys must be plain strings, not aliases");
      }
      KeyPath path = nextPath(e);
      String name = e.getAlias().getValue();
      ConfigNode target = anchors.get(name);
      if (target == null) {
        throw new MeshConfigException(where(line), path.toString(), "alias *" + cutName(name)
            + " names no anchor defined before it (an alias inside its own anchor is not allowed)");
      }
      if (stack.size() + target.height() > limits.maxDepth()) {
        throw new MeshConfigException(where(line), "", "nests deeper than " + limits.maxDepth()
            + " levels of mappings and sequences once alias *" + cutName(name) + " is expanded (policy limit maxDepth)");
      }
      count(target.size(), line, path);
      attach(target.rebase(source, path));
    }

    private String cutName(String name) {
      return name.length() <= 40 ? name : name.substring(0, 40) + "...";
    }

    private String substitute(KeyPath path, int line, String value) {
      if (value.indexOf("${") < 0) {
        return value;
      }
      Matcher m = VAR.matcher(value);
      StringBuilder sb = new StringBuilder();
      int last = 0;
      while (m.find()) {
        String v = env.apply(m.group(1));
        if (v == null) {
          v = m.group(2);
        }
        if (v == null) {
          throw new MeshConfigException(where(line), path.toString(),
              "environment variable " + m.group(1) + " is not set and " + ConfigNode.quote(m.group())
                  + " gives no default; write ${" + m.group(1) + ":default}");
        }
        long grown = substituted + (m.start() - last) + v.length();
        if (grown > limits.maxSubstitutionChars()) {
          throw new MeshConfigException(where(line), path.toString(), "${...} substitution yields more than "
              + limits.maxSubstitutionChars() + " characters in this text (policy limit maxSubstitutionChars)");
        }
        sb.append(value, last, m.start()).append(v);
        substituted = grown;
        last = m.end();
      }
      long grown = substituted + (value.length() - last);
      if (grown > limits.maxSubstitutionChars()) {
        throw new MeshConfigException(where(line), path.toString(), "${...} substitution yields more than "
            + limits.maxSubstitutionChars() + " characters in this text (policy limit maxSubstitutionChars)");
      }
      substituted = grown;
      sb.append(value, last, value.length());
      return sb.toString();
    }
  }
}
