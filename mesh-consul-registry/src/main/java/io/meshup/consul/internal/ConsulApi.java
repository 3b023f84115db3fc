package io.meshup.consul.internal;

import com.ecwid.consul.SingleUrlParameters;
import com.ecwid.consul.UrlParameters;
import com.ecwid.consul.v1.ConsulRawClient;
import com.ecwid.consul.v1.OperationException;
import com.ecwid.consul.transport.HttpResponse;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshup.core.Endpoint;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The few Consul endpoints consul-api does not model (or models without fields we need, such as
 * a service's {@code Weights}), as one small typed layer on consul-api's own transport. Blocking
 * query parameters ({@code index}, {@code wait}, {@code dc}, {@code token}) are added here.
 * Thread-safe.
 */
final class ConsulApi {
  /** A value and the {@code X-Consul-Index} it was read at. */
  record Result<T>(T value, long index) {}

  private final ConsulRawClient raw;
  private final String token;
  private final String datacenter;
  private final long waitSeconds;

  ConsulApi(ConsulRawClient raw, String token, String datacenter, long waitSeconds) {
    this.raw = raw;
    this.token = token;
    this.datacenter = datacenter;
    this.waitSeconds = waitSeconds;
  }

  /** {@code GET /v1/health/service/<name>?passing}, blocking from {@code index}. */
  Result<List<Endpoint>> passingEndpoints(String service, long index) {
    Result<JsonElement> r = get("/v1/health/service/" + encode(service), index, new SingleUrlParameters("passing"));
    List<Endpoint> out = new ArrayList<>();
    JsonArray entries = r.value() == null || r.value().isJsonNull() ? new JsonArray() : r.value().getAsJsonArray();
    for (JsonElement e : entries) {
      JsonObject entry = e.getAsJsonObject();
      JsonObject s = entry.getAsJsonObject("Service");
      String address = string(s, "Address");
      if (address == null || address.isEmpty()) {
        address = string(entry.getAsJsonObject("Node"), "Address");
      }
      Map<String, String> labels = new LinkedHashMap<>();
      if (s.has("Tags") && s.get("Tags").isJsonArray()) {
        for (JsonElement t : s.getAsJsonArray("Tags")) {
          String tag = t.getAsString();
          int eq = tag.indexOf('=');
          if (eq > 0) {
            labels.put(tag.substring(0, eq), tag.substring(eq + 1));
          } else {
            labels.put(tag, "true");
          }
        }
      }
      if (s.has("Meta") && s.get("Meta").isJsonObject()) {
        for (Map.Entry<String, JsonElement> m : s.getAsJsonObject("Meta").entrySet()) {
          labels.put(m.getKey(), m.getValue().getAsString());
        }
      }
      int weight = 1;
      if (s.has("Weights") && s.get("Weights").isJsonObject() && s.getAsJsonObject("Weights").has("Passing")) {
        weight = Math.max(1, s.getAsJsonObject("Weights").get("Passing").getAsInt());
      }
      // an instance is its node and its service ID: Consul's default ID is the service name, so two
      // nodes often register the same ID
      String node = entry.has("Node") && entry.get("Node").isJsonObject() ? string(entry.getAsJsonObject("Node"), "Node") : null;
      String id = node == null || node.isEmpty() ? string(s, "ID") : node + "/" + string(s, "ID");
      out.add(new Endpoint(id, address, s.get("Port").getAsInt(), labels, weight));
    }
    out.sort((a, b) -> a.id().compareTo(b.id()));
    return new Result<>(out, r.index());
  }

  /** A blocking GET returning parsed JSON; a 404 reads as JSON null (nothing there yet). */
  Result<JsonElement> get(String path, long index, UrlParameters... extra) {
    List<UrlParameters> params = new ArrayList<>(List.of(extra));
    params.add(new SingleUrlParameters("index", String.valueOf(index)));
    params.add(new SingleUrlParameters("wait", waitSeconds + "s"));
    if (!datacenter.isEmpty()) {
      params.add(new SingleUrlParameters("dc", datacenter));
    }
    if (!token.isEmpty()) {
      params.add(new SingleUrlParameters("token", token));
    }
    HttpResponse resp = raw.makeGetRequest(path, params);
    long idx = resp.getConsulIndex() == null ? 0 : resp.getConsulIndex();
    if (resp.getStatusCode() == 404) {
      return new Result<>(com.google.gson.JsonNull.INSTANCE, idx);
    }
    if (resp.getStatusCode() != 200) {
      throw new OperationException(resp);
    }
    @SuppressWarnings("deprecation")
    JsonElement json = new JsonParser().parse(resp.getContent());
    return new Result<>(json, idx);
  }

  private static String string(JsonObject o, String key) {
    return o != null && o.has(key) && !o.get(key).isJsonNull() ? o.get(key).getAsString() : null;
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }
}
