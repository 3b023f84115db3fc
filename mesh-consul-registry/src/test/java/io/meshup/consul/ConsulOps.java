package io.meshup.consul;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** What a test does to the agent by hand, over Consul's HTTP API. */
public final class ConsulOps {
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private final String address;
  private final String token;

  public ConsulOps(String address) {
    this(address, null);
  }

  /** Operations that send {@code token} in the {@code X-Consul-Token} header (an agent with ACLs on). */
  public ConsulOps(String address, String token) {
    this.address = address;
    this.token = token;
  }

  /** Creates an ACL policy with these HCL rules; its name is returned. */
  public String aclPolicy(String name, String rules) {
    com.google.gson.JsonObject p = new com.google.gson.JsonObject();
    p.addProperty("Name", name);
    p.addProperty("Rules", rules);
    put("/v1/acl/policy", p.toString());
    return name;
  }

  /** Creates an ACL token holding these policies; its secret is returned. */
  @SuppressWarnings("deprecation")
  public String aclToken(String... policies) {
    com.google.gson.JsonArray list = new com.google.gson.JsonArray();
    for (String name : policies) {
      com.google.gson.JsonObject link = new com.google.gson.JsonObject();
      link.addProperty("Name", name);
      list.add(link);
    }
    com.google.gson.JsonObject t = new com.google.gson.JsonObject();
    t.add("Policies", list);
    String r = send(HttpRequest.newBuilder(uri("/v1/acl/token")).PUT(HttpRequest.BodyPublishers.ofString(t.toString())).build());
    return new com.google.gson.JsonParser().parse(r).getAsJsonObject().get("SecretID").getAsString();
  }

  /**
   * What the agent decides for a Connect-native service, {@code POST /v1/agent/connect/authorize},
   * asked with {@code asToken}.
   */
  @SuppressWarnings("deprecation")
  public boolean authorize(String asToken, String target, String clientCertUri) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri("/v1/agent/connect/authorize")).POST(HttpRequest.BodyPublishers.ofString(
        "{\"Target\":\"" + target + "\",\"ClientCertURI\":\"" + clientCertUri + "\"}"));
    if (asToken != null) {
      b.header("X-Consul-Token", asToken);
    }
    try {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("authorize: " + r.statusCode() + " " + r.body());
      }
      return new com.google.gson.JsonParser().parse(r.body()).getAsJsonObject().get("Authorized").getAsBoolean();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Registers an instance with a TTL check that starts critical. */
  void register(String id, String name, int port, Map<String, String> meta) {
    String metaJson = meta.entrySet().stream().map(e -> "\"" + e.getKey() + "\":\"" + e.getValue() + "\"")
        .collect(Collectors.joining(",", "{", "}"));
    put("/v1/agent/service/register", """
        {"ID":"%s","Name":"%s","Address":"127.0.0.1","Port":%d,"Meta":%s,
         "Check":{"CheckID":"ttl-%s","TTL":"60s","Status":"critical"}}""".formatted(id, name, port, metaJson, id));
  }

  /**
   * Registers, through the catalog, an instance of {@code name} with service ID {@code id} on
   * another node {@code node} (as an agent on that node would; no check, so it counts as passing).
   */
  void registerOnNode(String node, String id, String name, int port) {
    put("/v1/catalog/register", """
        {"Node":"%s","Address":"127.0.0.1","Service":{"ID":"%s","Service":"%s","Address":"127.0.0.1","Port":%d}}"""
        .formatted(node, id, name, port));
  }

  /**
   * Registers, through the catalog, an instance on node {@code node} with {@code tags} and, when
   * {@code checkStatus} is not null, one service check in that status.
   */
  void registerOnNode(String node, String id, String name, int port, List<String> tags, String checkStatus) {
    String tagJson = tags.stream().map(t -> "\"" + t + "\"").collect(Collectors.joining(",", "[", "]"));
    String check = checkStatus == null ? "" : """
        ,"Check":{"Node":"%s","CheckID":"check-%s","Name":"check-%s","Status":"%s","ServiceID":"%s"}"""
        .formatted(node, id, id, checkStatus, id);
    put("/v1/catalog/register", """
        {"Node":"%s","Address":"127.0.0.1","Service":{"ID":"%s","Service":"%s","Address":"127.0.0.1","Port":%d,"Tags":%s}%s}"""
        .formatted(node, id, name, port, tagJson, check));
  }

  /** Registers, through the catalog, a node-level check (no service) of {@code node} in {@code status}. */
  void nodeCheck(String node, String status) {
    put("/v1/catalog/register", """
        {"Node":"%s","Address":"127.0.0.1","Check":{"Node":"%s","CheckID":"node-health","Name":"node-health","Status":"%s"}}"""
        .formatted(node, node, status));
  }

  /** Deregisters, through the catalog, service instance {@code id} of node {@code node}. */
  void deregisterOnNode(String node, String id) {
    put("/v1/catalog/deregister", """
        {"Node":"%s","ServiceID":"%s"}""".formatted(node, id));
  }

  void pass(String id) {
    put("/v1/agent/check/pass/ttl-" + id, "");
  }

  void fail(String id) {
    put("/v1/agent/check/fail/ttl-" + id, "");
  }

  void deregister(String id) {
    put("/v1/agent/service/deregister/" + id, "");
  }

  public void kvPut(String key, String value) {
    put("/v1/kv/" + key, value);
  }

  /** Writes a config entry (JSON). */
  void configEntry(String json) {
    put("/v1/config", json);
  }

  /** Creates a Connect intention. */
  public void intention(String source, String destination, String action) {
    send(HttpRequest.newBuilder(uri("/v1/connect/intentions")).POST(HttpRequest.BodyPublishers.ofString(
        "{\"SourceName\":\"" + source + "\",\"DestinationName\":\"" + destination + "\",\"Action\":\"" + action + "\"}")).build());
  }

  /** Writes raw bytes to a key (for values that are not UTF-8). */
  public void kvPutBytes(String key, byte[] value) {
    send(HttpRequest.newBuilder(uri("/v1/kv/" + key)).PUT(HttpRequest.BodyPublishers.ofByteArray(value)).build());
  }

  public void kvDelete(String key) {
    send(HttpRequest.newBuilder(uri("/v1/kv/" + key)).DELETE().build());
  }

  /** The JSON of the catalog entry of {@code service}, white space removed. */
  String catalog(String service) {
    return send(HttpRequest.newBuilder(uri("/v1/catalog/service/" + service)).GET().build()).replaceAll("\\s", "");
  }

  /** The JSON of {@code /v1/health/service/<service>?passing}, white space removed. */
  String health(String service) {
    return send(HttpRequest.newBuilder(uri("/v1/health/service/" + service + "?passing")).GET().build()).replaceAll("\\s", "");
  }

  /** The agent's CA roots, as {@code /v1/agent/connect/ca/roots} returns them. */
  @SuppressWarnings("deprecation")
  com.google.gson.JsonObject connectRoots() {
    return new com.google.gson.JsonParser().parse(send(HttpRequest.newBuilder(uri("/v1/agent/connect/ca/roots")).GET().build()))
        .getAsJsonObject();
  }

  /** The Connect trust domain, such as {@code <uuid>.consul}. */
  public String trustDomain() {
    return connectRoots().get("TrustDomain").getAsString();
  }

  /** The active root's certificate PEM. */
  String activeRootPem() {
    com.google.gson.JsonObject roots = connectRoots();
    String active = roots.get("ActiveRootID").getAsString();
    for (com.google.gson.JsonElement r : roots.getAsJsonArray("Roots")) {
      if (r.getAsJsonObject().get("ID").getAsString().equals(active)) {
        return r.getAsJsonObject().get("RootCert").getAsString();
      }
    }
    throw new IllegalStateException("no active root in " + roots);
  }

  /** {@code PUT /v1/connect/ca/configuration} with this JSON body. */
  void caConfiguration(String json) {
    put("/v1/connect/ca/configuration", json);
  }

  /** Deletes every intention. */
  public void deleteIntentions() {
    @SuppressWarnings("deprecation")
    com.google.gson.JsonElement all = new com.google.gson.JsonParser().parse(
        send(HttpRequest.newBuilder(uri("/v1/connect/intentions")).GET().build()));
    for (com.google.gson.JsonElement i : all.getAsJsonArray()) {
      send(HttpRequest.newBuilder(uri("/v1/connect/intentions/" + i.getAsJsonObject().get("ID").getAsString())).DELETE().build());
    }
  }

  /** Registers a service with a Connect sidecar proxy of the built-in kind, as {@code consul connect proxy -sidecar-for} reads it. */
  void registerJson(String json) {
    put("/v1/agent/service/register", json);
  }

  private void put(String path, String body) {
    send(HttpRequest.newBuilder(uri(path)).PUT(HttpRequest.BodyPublishers.ofString(body)).build());
  }

  private URI uri(String path) {
    return URI.create("http://" + address + path);
  }

  private String send(HttpRequest req) {
    if (token != null) {
      req = HttpRequest.newBuilder(req, (k, v) -> true).header("X-Consul-Token", token).build();
    }
    try {
      HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(req.method() + " " + req.uri() + ": " + r.statusCode() + " " + r.body());
      }
      return r.body();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
