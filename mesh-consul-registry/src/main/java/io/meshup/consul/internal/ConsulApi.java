package io.meshup.consul.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshup.core.Endpoint;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.http.Header;
import org.apache.http.HttpEntity;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.client.methods.HttpPut;
import org.apache.http.client.methods.HttpRequestBase;
import org.apache.http.entity.ContentType;
import org.apache.http.entity.StringEntity;
import org.apache.http.impl.client.CloseableHttpClient;

/**
 * The Consul HTTP API as MeshUp uses it: one small typed layer on Apache HttpClient. The ACL token
 * travels only in the {@code X-Consul-Token} header, never in a URL (Consul's documentation warns
 * that query strings land in access logs), and appears in no message. Blocking query parameters
 * ({@code index}, {@code wait}, {@code dc}) are added here. Every answer is read within a size
 * bound, so no agent (or anything posing as one) can make it buffer without end. Thread-safe.
 */
final class ConsulApi {
  /** The header that carries the ACL token. */
  static final String TOKEN_HEADER = "X-Consul-Token";
  /** The largest answer read, in bytes; a larger one fails the request. */
  static final int MAX_RESPONSE_BYTES = 32 << 20;

  /** A value and the {@code X-Consul-Index} it was read at. */
  record Result<T>(T value, long index) {}

  /** A request the agent answered with an error status; {@link #status()} tells which. */
  static final class Failure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    Failure(String what, int status, String body) {
      super(what + ": HTTP " + status + (body.isBlank() ? "" : " " + cut(body.trim())));
      this.status = status;
    }

    int status() {
      return status;
    }
  }

  private final CloseableHttpClient http;
  private final String base;
  private final String token;
  private final String datacenter;
  private final long waitSeconds;

  /**
   * @param base the agent's base URL, such as {@code http://127.0.0.1:8500}
   * @param token the ACL token, or empty
   */
  ConsulApi(CloseableHttpClient http, String base, String token, String datacenter, long waitSeconds) {
    this.http = http;
    this.base = base;
    this.token = token;
    this.datacenter = datacenter;
    this.waitSeconds = waitSeconds;
  }

  /** {@code GET /v1/health/service/<name>?passing}, blocking from {@code index}. */
  Result<List<Endpoint>> passingEndpoints(String service, long index) {
    Result<JsonElement> r = get("/v1/health/service/" + encode(service), index, Map.of("passing", ""));
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
  Result<JsonElement> get(String path, long index) {
    return get(path, index, Map.of());
  }

  /** A blocking GET with extra query parameters (a value of "" is a bare flag such as {@code passing}). */
  Result<JsonElement> get(String path, long index, Map<String, String> params) {
    Result<byte[]> r = getBytes(path, index, params, MAX_RESPONSE_BYTES);
    if (r.value() == null) {
      return new Result<>(JsonNull.INSTANCE, r.index());
    }
    @SuppressWarnings("deprecation")
    JsonElement json = new JsonParser().parse(new String(r.value(), StandardCharsets.UTF_8));
    return new Result<>(json, r.index());
  }

  /**
   * A blocking GET returning the body's bytes (null for a 404), read up to {@code maxBytes}.
   *
   * @throws Failure for any other status than 200 and 404, or a body larger than {@code maxBytes}
   */
  Result<byte[]> getBytes(String path, long index, Map<String, String> params, int maxBytes) {
    StringBuilder url = new StringBuilder(base).append(path).append(path.contains("?") ? '&' : '?');
    for (Map.Entry<String, String> p : params.entrySet()) {
      url.append(encode(p.getKey()));
      if (!p.getValue().isEmpty()) {
        url.append('=').append(encode(p.getValue()));
      }
      url.append('&');
    }
    url.append("index=").append(index).append("&wait=").append(waitSeconds).append('s');
    if (!datacenter.isEmpty()) {
      url.append("&dc=").append(encode(datacenter));
    }
    HttpGet get = new HttpGet(url.toString());
    return execute(get, "GET " + path, maxBytes);
  }

  /** A PUT of a JSON body (or none); the answer's JSON, or JSON null when it has none. */
  JsonElement put(String path, String json) {
    HttpPut put = new HttpPut(base + path);
    if (json != null) {
      put.setEntity(new StringEntity(json, ContentType.APPLICATION_JSON));
    }
    return parse(execute(put, "PUT " + path, MAX_RESPONSE_BYTES).value());
  }

  /** A POST of a JSON body; the answer's JSON. */
  JsonElement post(String path, String json) {
    HttpPost post = new HttpPost(base + path);
    post.setEntity(new StringEntity(json, ContentType.APPLICATION_JSON));
    return parse(execute(post, "POST " + path, MAX_RESPONSE_BYTES).value());
  }

  private static JsonElement parse(byte[] body) {
    if (body == null || body.length == 0) {
      return JsonNull.INSTANCE;
    }
    @SuppressWarnings("deprecation")
    JsonElement json = new JsonParser().parse(new String(body, StandardCharsets.UTF_8));
    return json;
  }

  private Result<byte[]> execute(HttpRequestBase request, String what, int maxBytes) {
    if (!token.isEmpty()) {
      request.setHeader(TOKEN_HEADER, token);
    }
    try (CloseableHttpResponse resp = http.execute(request)) {
      int status = resp.getStatusLine().getStatusCode();
      Header idx = resp.getFirstHeader("X-Consul-Index");
      long index = 0;
      if (idx != null) {
        try {
          index = Long.parseUnsignedLong(idx.getValue().trim());
        } catch (NumberFormatException e) {
          index = 0;
        }
      }
      HttpEntity entity = resp.getEntity();
      byte[] body = entity == null ? new byte[0] : read(entity, maxBytes, what);
      if (status == 404 && request instanceof HttpGet) {
        return new Result<>(null, index);
      }
      if (status < 200 || status > 299) {
        throw new Failure(what, status, new String(body, 0, Math.min(body.length, 500), StandardCharsets.UTF_8));
      }
      return new Result<>(body, index);
    } catch (IOException e) {
      throw new UncheckedIOException(what + " failed: " + e.getMessage(), e);
    } finally {
      request.releaseConnection();
    }
  }

  private static byte[] read(HttpEntity entity, int maxBytes, String what) throws IOException {
    long declared = entity.getContentLength();
    if (declared > maxBytes) {
      throw new Failure(what, 200, "answer of " + declared + " bytes is larger than the " + maxBytes + "-byte limit");
    }
    try (InputStream in = entity.getContent()) {
      byte[] b = in.readNBytes(maxBytes + 1);
      if (b.length > maxBytes) {
        throw new Failure(what, 200, "answer is larger than the " + maxBytes + "-byte limit");
      }
      return b;
    }
  }

  private static String string(JsonObject o, String key) {
    return o != null && o.has(key) && !o.get(key).isJsonNull() ? o.get(key).getAsString() : null;
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static String cut(String s) {
    return s.length() <= 300 ? s : s.substring(0, 300) + "...";
  }
}
