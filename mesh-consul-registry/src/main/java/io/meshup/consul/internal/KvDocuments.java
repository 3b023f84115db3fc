package io.meshup.consul.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshup.core.MeshConfigException;
import io.meshup.core.internal.config.YamlReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;

/**
 * The policy texts under a Consul KV prefix, from the agent's answer to
 * {@code GET /v1/kv/<prefix>?recurse}: each key's value decoded from base64 and then as UTF-8,
 * strictly (a value that is not UTF-8 is refused with its key and byte offset, never patched with
 * replacement characters), within the policy size limit. Folders (keys ending in {@code /} with
 * no value) are skipped. Stateless.
 */
final class KvDocuments {
  private static final YamlReader DECODER = new YamlReader(k -> null);

  private KvDocuments() {}

  /** The URL path of a prefix, each segment encoded. */
  static String path(String prefix) {
    StringBuilder sb = new StringBuilder();
    String[] parts = prefix.split("/", -1);
    for (int i = 0; i < parts.length; i++) {
      sb.append(i == 0 ? "" : "/").append(ConsulApi.encode(parts[i]));
    }
    return sb.toString();
  }

  /**
   * The texts by key.
   *
   * @throws MeshConfigException naming the key and the limit or the bad byte
   */
  static Map<String, String> read(String prefix, byte[] answer) {
    Map<String, String> docs = new TreeMap<>();
    if (answer == null) {
      return docs; // 404: nothing under the prefix
    }
    @SuppressWarnings("deprecation")
    JsonElement json = new JsonParser().parse(new String(answer, StandardCharsets.UTF_8));
    if (json.isJsonNull()) {
      return docs;
    }
    if (!json.isJsonArray()) {
      throw new MeshConfigException("consul kv " + prefix, "", "the agent's answer is not a list of keys");
    }
    for (JsonElement e : json.getAsJsonArray()) {
      JsonObject kv = e.getAsJsonObject();
      String key = kv.get("Key").getAsString();
      JsonElement v = kv.get("Value");
      byte[] bytes = v == null || v.isJsonNull() ? new byte[0] : decodeBase64(key, v.getAsString());
      if (key.endsWith("/") && bytes.length == 0) {
        continue; // a folder
      }
      docs.put(key, DECODER.decode(key, bytes));
    }
    return docs;
  }

  private static byte[] decodeBase64(String key, String value) {
    try {
      return Base64.getDecoder().decode(value);
    } catch (IllegalArgumentException e) {
      throw new MeshConfigException(key, "", "the agent's value is not base64: " + e.getMessage());
    }
  }
}
