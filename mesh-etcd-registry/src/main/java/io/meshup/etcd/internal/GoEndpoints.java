package io.meshup.etcd.internal;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.meshup.core.Endpoint;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The key layout and value format of etcd's Go naming package
 * ({@code go.etcd.io/etcd/client/v3/naming/endpoints}), which gRPC-Go services use to register in
 * etcd: a service's instances are the keys under {@code <prefix><service>/}, each holding the JSON
 * of an update, {@code {"Op":0,"Addr":"host:port","Metadata":...}}. Here the last key segment is
 * the endpoint's id, {@code Addr} its address, and the scalar members of a JSON-object
 * {@code Metadata} its labels (so {@code "version":"v2"} selects subset {@code v2}); a positive
 * integer {@code weight} member is its weight. Stateless.
 */
final class GoEndpoints {
  /** Bigger values are refused: an endpoint is a few hundred bytes. */
  static final int MAX_VALUE_BYTES = 64 * 1024;
  static final int MAX_LABELS = 64;
  static final int MAX_DEPTH = 16;
  private static final TypeAdapter<JsonElement> ELEMENTS = new Gson().getAdapter(JsonElement.class);

  private GoEndpoints() {}

  /** An entry that is not an endpoint, and why. */
  static final class InvalidEntry extends Exception {
    private static final long serialVersionUID = 1L;

    InvalidEntry(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Reads one key's value.
   *
   * @param id the key below the service's prefix
   * @throws InvalidEntry naming what is wrong (the caller adds the key)
   */
  static Endpoint parse(String id, byte[] value) throws InvalidEntry {
    if (id.isEmpty()) {
      throw new InvalidEntry("the key has no segment after the service's prefix");
    }
    if (value.length > MAX_VALUE_BYTES) {
      throw new InvalidEntry("the value has " + value.length + " bytes; at most " + MAX_VALUE_BYTES);
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value)).toString();
    } catch (CharacterCodingException e) {
      throw new InvalidEntry("the value is not UTF-8 JSON");
    }
    if (depth(text) > MAX_DEPTH) {
      throw new InvalidEntry("the value nests deeper than " + MAX_DEPTH + " levels");
    }
    JsonElement json;
    try {
      JsonReader reader = new JsonReader(new StringReader(text)); // strict, as Go's encoding/json
      json = ELEMENTS.read(reader);
      if (reader.peek() != JsonToken.END_DOCUMENT) {
        throw new InvalidEntry("the value has text after its JSON");
      }
    } catch (IOException | RuntimeException e) {
      String m = String.valueOf(e.getMessage());
      int at = m.indexOf(" at line ");
      throw new InvalidEntry("the value is not JSON" + (at >= 0 ? " (" + shorten(m.substring(at + 1)) + ")" : ""));
    }
    if (!json.isJsonObject()) {
      throw new InvalidEntry("the value is not a JSON object with Addr");
    }
    JsonObject o = json.getAsJsonObject();
    JsonElement addr = o.get("Addr");
    if (addr == null || !addr.isJsonPrimitive() || !addr.getAsJsonPrimitive().isString()) {
      throw new InvalidEntry("Addr is missing or not a string");
    }
    String[] hostPort = hostPort(addr.getAsString());
    Map<String, String> labels = new TreeMap<>();
    int weight = 1;
    JsonElement meta = o.get("Metadata");
    if (meta != null && meta.isJsonObject()) {
      for (Map.Entry<String, JsonElement> e : meta.getAsJsonObject().entrySet()) {
        if (!e.getValue().isJsonPrimitive()) {
          continue; // nested values mean something to their writer only
        }
        JsonPrimitive p = e.getValue().getAsJsonPrimitive();
        if (e.getKey().equals("weight") && p.isNumber()) {
          weight = weight(p);
          continue;
        }
        if (labels.size() == MAX_LABELS) {
          throw new InvalidEntry("Metadata has more than " + MAX_LABELS + " labels");
        }
        labels.put(e.getKey(), p.getAsString());
      }
    }
    if (labels.containsKey("weight")) {
      try {
        weight = Integer.parseInt(labels.remove("weight"));
      } catch (NumberFormatException e) {
        throw new InvalidEntry("Metadata.weight is not a whole number");
      }
    }
    if (weight < 1) {
      throw new InvalidEntry("Metadata.weight " + weight + " must be at least 1");
    }
    return new Endpoint(id, hostPort[0], Integer.parseInt(hostPort[1]), labels, weight);
  }

  private static int weight(JsonPrimitive p) throws InvalidEntry {
    try {
      return p.getAsBigDecimal().intValueExact();
    } catch (ArithmeticException | NumberFormatException e) {
      throw new InvalidEntry("Metadata.weight " + p + " is not a whole number");
    }
  }

  /** {@code host:port} or {@code [v6]:port}, split; the port 1..65535. */
  static String[] hostPort(String addr) throws InvalidEntry {
    int colon = addr.lastIndexOf(':');
    if (colon <= 0 || colon == addr.length() - 1) {
      throw new InvalidEntry("Addr '" + shorten(addr) + "' is not host:port");
    }
    String host = addr.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.indexOf(':') >= 0) {
      throw new InvalidEntry("Addr '" + shorten(addr) + "' is not host:port (an IPv6 host needs brackets)");
    }
    if (host.isEmpty() || host.chars().anyMatch(c -> c <= ' ' || c == '/' || c == '@')) {
      throw new InvalidEntry("Addr '" + shorten(addr) + "' has no valid host");
    }
    int port;
    try {
      port = Integer.parseInt(addr.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new InvalidEntry("Addr '" + shorten(addr) + "' has no numeric port");
    }
    if (port < 1 || port > 65535) {
      throw new InvalidEntry("Addr '" + shorten(addr) + "' has port " + port + " out of range 1..65535");
    }
    return new String[] {host, Integer.toString(port)};
  }

  /** The value this module writes for its own registration, as the Go naming package writes it. */
  static byte[] value(String host, int port, Map<String, String> metadata) {
    JsonObject o = new JsonObject();
    o.addProperty("Op", 0);
    o.addProperty("Addr", new EtcdSettings.Member(host, port).toString());
    if (metadata.isEmpty()) {
      o.add("Metadata", com.google.gson.JsonNull.INSTANCE);
    } else {
      JsonObject m = new JsonObject();
      new LinkedHashMap<>(new TreeMap<>(metadata)).forEach(m::addProperty);
      o.add("Metadata", m);
    }
    return o.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** The deepest nesting of arrays and objects outside strings. */
  private static int depth(String json) {
    int depth = 0;
    int max = 0;
    boolean inString = false;
    for (int i = 0; i < json.length(); i++) {
      char c = json.charAt(i);
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        max = Math.max(max, ++depth);
      } else if (c == '}' || c == ']') {
        depth--;
      }
    }
    return max;
  }

  private static String shorten(String s) {
    return s.length() <= 120 ? s : s.substring(0, 120) + "...";
  }
}
