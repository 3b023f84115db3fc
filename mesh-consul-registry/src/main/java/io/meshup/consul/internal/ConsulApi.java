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
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.http.Header;
import org.apache.http.HttpEntity;
import org.apache.http.client.config.RequestConfig;
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
 * ({@code index}, {@code wait}, {@code dc}) and the consistency mode ({@code stale},
 * {@code consistent}; not on the agent's own {@code /v1/agent/} endpoints) are added here. A stale
 * answer from a server that has not heard from the leader for longer than the maximum staleness
 * is read again from the leader; when the leader cannot answer, the stale answer is returned
 * marked {@link Result#tooStale()} (it still holds only data a leader committed). Every request is
 * bounded in time (a blocking one by its wait plus Consul's jitter plus the request timeout) and
 * every answer is read within a size bound, so no agent (or anything posing as one) can make it
 * hang or buffer without end. Thread-safe.
 */
final class ConsulApi {
  /** The header that carries the ACL token. */
  static final String TOKEN_HEADER = "X-Consul-Token";
  /** The largest answer read, in bytes; a larger one fails the request. */
  static final int MAX_RESPONSE_BYTES = 32 << 20;

  /**
   * A value and the {@code X-Consul-Index} it was read at; with it, {@code X-Consul-LastContact}
   * (milliseconds since the answering server last heard from the leader; 0 from the leader or for
   * a non-stale read), {@code X-Consul-KnownLeader}, and whether the answer is older than the
   * maximum staleness and the leader could not be asked instead.
   */
  record Result<T>(T value, long index, long lastContactMillis, boolean knownLeader, boolean tooStale) {
    Result(T value, long index) {
      this(value, index, 0, true, false);
    }

    /** The same answer with its value mapped. */
    <U> Result<U> map(Function<T, U> f) {
      return new Result<>(f.apply(value), index, lastContactMillis, knownLeader, tooStale);
    }
  }

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

  /**
   * One destination's instances as {@code /v1/health/service/<name>} lists them: those whose every
   * check passes (what {@code ?passing} would return), and the nodes of all of them, passing or not.
   */
  record Instances(List<Endpoint> passing, Set<String> nodes) {}

  private final CloseableHttpClient http;
  private final String base;
  private final String token;
  private final String datacenter;
  private final Duration wait;
  private final ConsulSettings.Consistency consistency;
  private final Duration maxStaleness;
  private final Duration requestTimeout;

  /**
   * An API in Consul's default consistency mode, with requests bounded by the client's own timeouts.
   *
   * @param base the agent's base URL, such as {@code http://127.0.0.1:8500}
   * @param token the ACL token, or empty
   */
  ConsulApi(CloseableHttpClient http, String base, String token, String datacenter, long waitSeconds) {
    this(http, base, token, datacenter, Duration.ofSeconds(waitSeconds), ConsulSettings.Consistency.DEFAULT,
        ConsulSettings.DEFAULT_MAX_STALENESS, ConsulSettings.DEFAULT_REQUEST_TIMEOUT);
  }

  /**
   * @param wait the wait of blocking queries
   * @param consistency how reads other than the agent's own endpoints are served
   * @param maxStaleness for stale reads: how far behind the leader an answer may be before the leader is asked
   * @param requestTimeout the bound of a request that does not block (and what a blocking one may take past its wait)
   */
  ConsulApi(CloseableHttpClient http, String base, String token, String datacenter, Duration wait,
      ConsulSettings.Consistency consistency, Duration maxStaleness, Duration requestTimeout) {
    this.http = http;
    this.base = base;
    this.token = token;
    this.datacenter = datacenter;
    this.wait = wait;
    this.consistency = consistency;
    this.maxStaleness = maxStaleness;
    this.requestTimeout = requestTimeout;
  }

  /**
   * {@code GET /v1/health/service/<name>} (every instance; the passing ones are picked here, by
   * {@code ?passing}'s rule: every check of the instance and of its node passes), blocking from
   * {@code index} for at most {@code wait}; {@code params} adds parameters such as {@code cached}.
   */
  Result<Instances> instances(String service, long index, Duration wait, Map<String, String> params) {
    Result<JsonElement> r = get("/v1/health/service/" + encode(service), index, wait, params);
    List<Endpoint> out = new ArrayList<>();
    Set<String> nodes = new HashSet<>();
    JsonArray entries = r.value() == null || r.value().isJsonNull() ? new JsonArray() : r.value().getAsJsonArray();
    for (JsonElement e : entries) {
      JsonObject entry = e.getAsJsonObject();
      // an instance is its node and its service ID: Consul's default ID is the service name, so two
      // nodes often register the same ID
      String node = entry.has("Node") && entry.get("Node").isJsonObject() ? string(entry.getAsJsonObject("Node"), "Node") : null;
      if (node != null && !node.isEmpty()) {
        nodes.add(node);
      }
      if (!passing(entry)) {
        continue;
      }
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
      String id = node == null || node.isEmpty() ? string(s, "ID") : node + "/" + string(s, "ID");
      out.add(new Endpoint(id, address, s.get("Port").getAsInt(), labels, weight));
    }
    out.sort((a, b) -> a.id().compareTo(b.id()));
    return r.map(v -> new Instances(out, nodes));
  }

  /** Whether every check of a health entry (its node's and its own) is passing. */
  private static boolean passing(JsonObject entry) {
    if (!entry.has("Checks") || !entry.get("Checks").isJsonArray()) {
      return true;
    }
    for (JsonElement c : entry.getAsJsonArray("Checks")) {
      if (!"passing".equals(string(c.getAsJsonObject(), "Status"))) {
        return false;
      }
    }
    return true;
  }

  /** A blocking GET returning parsed JSON; a 404 reads as JSON null (nothing there yet). */
  Result<JsonElement> get(String path, long index) {
    return get(path, index, Map.of());
  }

  /** A blocking GET with extra query parameters (a value of "" is a bare flag such as {@code passing}). */
  Result<JsonElement> get(String path, long index, Map<String, String> params) {
    return get(path, index, wait, params);
  }

  /** As {@link #get(String, long, Map)}, blocking for at most {@code wait}. */
  Result<JsonElement> get(String path, long index, Duration wait, Map<String, String> params) {
    return getBytes(path, index, wait, params, MAX_RESPONSE_BYTES).map(ConsulApi::json);
  }

  @SuppressWarnings("deprecation")
  private static JsonElement json(byte[] body) {
    return body == null ? JsonNull.INSTANCE : new JsonParser().parse(new String(body, StandardCharsets.UTF_8));
  }

  /**
   * A blocking GET returning the body's bytes (null for a 404), read up to {@code maxBytes}.
   *
   * @throws Failure for any other status than 200 and 404, or a body larger than {@code maxBytes}
   */
  Result<byte[]> getBytes(String path, long index, Map<String, String> params, int maxBytes) {
    return getBytes(path, index, wait, params, maxBytes);
  }

  /**
   * As {@link #getBytes(String, long, Map, int)}, blocking for at most {@code wait} (when
   * {@code index} is above 0), in the configured consistency mode with its staleness bound.
   */
  Result<byte[]> getBytes(String path, long index, Duration wait, Map<String, String> params, int maxBytes) {
    boolean agentLocal = path.startsWith("/v1/agent/");
    ConsulSettings.Consistency mode = agentLocal ? ConsulSettings.Consistency.DEFAULT : consistency;
    Result<byte[]> r = read(path, index, wait, params, maxBytes, mode);
    if (mode != ConsulSettings.Consistency.STALE || r.lastContactMillis() <= maxStaleness.toMillis()) {
      return r;
    }
    // the answering server has not heard from the leader for longer than allowed: ask the leader
    try {
      return read(path, 0, wait, params, maxBytes, ConsulSettings.Consistency.DEFAULT);
    } catch (RuntimeException leaderUnavailable) {
      return new Result<>(r.value(), r.index(), r.lastContactMillis(), r.knownLeader(), true);
    }
  }

  private Result<byte[]> read(String path, long index, Duration wait, Map<String, String> params, int maxBytes,
      ConsulSettings.Consistency mode) {
    StringBuilder url = new StringBuilder(base).append(path).append(path.contains("?") ? '&' : '?');
    for (Map.Entry<String, String> p : params.entrySet()) {
      url.append(encode(p.getKey()));
      if (!p.getValue().isEmpty()) {
        url.append('=').append(encode(p.getValue()));
      }
      url.append('&');
    }
    if (mode == ConsulSettings.Consistency.STALE) {
      url.append("stale&");
    } else if (mode == ConsulSettings.Consistency.CONSISTENT) {
      url.append("consistent&");
    }
    long waitMs = Math.max(1, wait.toMillis());
    url.append("index=").append(index).append("&wait=").append(waitMs).append("ms");
    if (!datacenter.isEmpty()) {
      url.append("&dc=").append(encode(datacenter));
    }
    HttpGet get = new HttpGet(url.toString());
    // a blocking query may take its wait plus Consul's jitter (up to wait/16); past that the agent hangs
    long bound = requestTimeout.toMillis() + (index > 0 ? waitMs + waitMs / 16 : 0);
    get.setConfig(RequestConfig.custom().setConnectTimeout((int) Math.min(requestTimeout.toMillis(), 2_000))
        .setConnectionRequestTimeout((int) requestTimeout.toMillis())
        .setSocketTimeout((int) Math.min(Integer.MAX_VALUE, bound)).build());
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
      long index = header(resp, "X-Consul-Index");
      long lastContact = header(resp, "X-Consul-LastContact");
      Header known = resp.getFirstHeader("X-Consul-KnownLeader");
      HttpEntity entity = resp.getEntity();
      byte[] body = entity == null ? new byte[0] : read(entity, maxBytes, what);
      if (status == 404 && request instanceof HttpGet) {
        return new Result<>(null, index, lastContact, known == null || !"false".equals(known.getValue().trim()), false);
      }
      if (status < 200 || status > 299) {
        throw new Failure(what, status, new String(body, 0, Math.min(body.length, 500), StandardCharsets.UTF_8));
      }
      return new Result<>(body, index, lastContact, known == null || !"false".equals(known.getValue().trim()), false);
    } catch (IOException e) {
      throw new UncheckedIOException(what + " failed: " + e.getMessage(), e);
    } finally {
      request.releaseConnection();
    }
  }

  private static long header(CloseableHttpResponse resp, String name) {
    Header h = resp.getFirstHeader(name);
    if (h == null) {
      return 0;
    }
    try {
      return Long.parseUnsignedLong(h.getValue().trim());
    } catch (NumberFormatException e) {
      return 0;
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
