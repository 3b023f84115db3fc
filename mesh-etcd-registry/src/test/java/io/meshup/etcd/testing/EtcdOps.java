package io.meshup.etcd.testing;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;

/**
 * What tests do to etcd from the outside, through its JSON gateway ({@code /v3/...}), independent
 * of the module's own client: writes, reads, leases, compaction, users and roles. Asks the first
 * running member that answers (on its plaintext port, beside a TLS one). Thread-safe.
 */
public final class EtcdOps {
  private final EtcdCluster cluster;
  private final String token;

  /** Operations on {@code cluster} with no authentication. */
  public EtcdOps(EtcdCluster cluster) {
    this(cluster, null);
  }

  private EtcdOps(EtcdCluster cluster, String token) {
    this.cluster = cluster;
    this.token = token;
  }

  /** Operations as {@code user} (after {@link #enableAuth}). */
  public EtcdOps as(String user, String password) {
    JsonObject r = call("/v3/auth/authenticate", obj("name", user, "password", password));
    return new EtcdOps(cluster, r.get("token").getAsString());
  }

  /** Writes {@code key}; returns the revision of the write. */
  public long put(String key, String value) {
    return put(key, value, 0);
  }

  /** Writes {@code key} attached to {@code lease} (0 for none); returns the revision of the write. */
  public long put(String key, String value, long lease) {
    return put(key, value.getBytes(StandardCharsets.UTF_8), lease);
  }

  /** Writes raw bytes to {@code key}, attached to {@code lease} (0 for none); returns the revision. */
  public long put(String key, byte[] value, long lease) {
    JsonObject req = new JsonObject();
    req.addProperty("key", b64(key));
    req.addProperty("value", Base64.getEncoder().encodeToString(value));
    if (lease != 0) {
      req.addProperty("lease", Long.toString(lease));
    }
    return revision(call("/v3/kv/put", req));
  }

  /** Deletes {@code key}; returns the revision of the deletion. */
  public long delete(String key) {
    JsonObject req = new JsonObject();
    req.addProperty("key", b64(key));
    return revision(call("/v3/kv/deleterange", req));
  }

  /** The value of {@code key}, or null. */
  public String get(String key) {
    Map<String, String> m = range(key, key + "\0");
    return m.get(key);
  }

  /** The keys and values under {@code prefix}. */
  public Map<String, String> prefix(String prefix) {
    byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
    end[end.length - 1]++;
    return range(prefix, new String(end, StandardCharsets.UTF_8));
  }

  private Map<String, String> range(String key, String end) {
    JsonObject req = new JsonObject();
    req.addProperty("key", b64(key));
    req.addProperty("range_end", b64(end));
    JsonObject r = call("/v3/kv/range", req);
    Map<String, String> out = new TreeMap<>();
    JsonArray kvs = r.has("kvs") ? r.getAsJsonArray("kvs") : new JsonArray();
    for (JsonElement e : kvs) {
      JsonObject kv = e.getAsJsonObject();
      out.put(unb64(kv.get("key").getAsString()), kv.has("value") ? unb64(kv.get("value").getAsString()) : "");
    }
    return out;
  }

  /** The store's current revision. */
  public long revision() {
    JsonObject req = new JsonObject();
    req.addProperty("key", b64("\0"));
    req.addProperty("count_only", true);
    return revision(call("/v3/kv/range", req));
  }

  /** Compacts the history up to {@code revision}, waiting until it is physically applied. */
  public void compact(long revision) {
    JsonObject req = new JsonObject();
    req.addProperty("revision", Long.toString(revision));
    req.addProperty("physical", true);
    call("/v3/kv/compaction", req);
  }

  /** Grants a lease of {@code ttlSeconds}; returns its id. */
  public long grant(long ttlSeconds) {
    JsonObject req = new JsonObject();
    req.addProperty("TTL", Long.toString(ttlSeconds));
    return call("/v3/lease/grant", req).get("ID").getAsLong();
  }

  /** Revokes a lease, deleting its keys. */
  public void revoke(long lease) {
    JsonObject req = new JsonObject();
    req.addProperty("ID", Long.toString(lease));
    call("/v3/lease/revoke", req);
  }

  /** The lease of {@code key}, or 0. */
  public long leaseOf(String key) {
    JsonObject req = new JsonObject();
    req.addProperty("key", b64(key));
    JsonObject r = call("/v3/kv/range", req);
    if (!r.has("kvs")) {
      return 0;
    }
    JsonObject kv = r.getAsJsonArray("kvs").get(0).getAsJsonObject();
    return kv.has("lease") ? kv.get("lease").getAsLong() : 0;
  }

  /** Adds a user with a password. */
  public void addUser(String user, String password) {
    call("/v3/auth/user/add", obj("name", user, "password", password));
  }

  /** Adds a user that can only authenticate with a client certificate whose CN is its name. */
  public void addCertificateUser(String user) {
    JsonObject req = obj("name", user);
    JsonObject options = new JsonObject();
    options.addProperty("no_password", true);
    req.add("options", options);
    call("/v3/auth/user/add", req);
  }

  /** Adds a role allowed {@code READ}, {@code WRITE} or {@code READWRITE} on the keys under {@code prefix}. */
  public void addRole(String role, String permission, String prefix) {
    call("/v3/auth/role/add", obj("name", role));
    byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
    end[end.length - 1]++;
    JsonObject perm = new JsonObject();
    perm.addProperty("permType", permission);
    perm.addProperty("key", b64(prefix));
    perm.addProperty("range_end", Base64.getEncoder().encodeToString(end));
    JsonObject req = obj("name", role);
    req.add("perm", perm);
    call("/v3/auth/role/grant", req);
  }

  /** Grants {@code role} to {@code user}. */
  public void grantRole(String user, String role) {
    call("/v3/auth/user/grant", obj("user", user, "role", role));
  }

  /** Adds the root user with the root role and turns authentication on. */
  public void enableAuth(String rootPassword) {
    addUser("root", rootPassword);
    grantRole("root", "root");
    call("/v3/auth/enable", new JsonObject());
  }

  private JsonObject call(String path, JsonObject body) {
    IllegalStateException last = null;
    for (int i = 0; i < cluster.size(); i++) {
      if (!cluster.isRunning(i)) {
        continue;
      }
      try {
        String r = cluster.post(i, path, body.toString(), token);
        if (r != null) {
          @SuppressWarnings("deprecation")
          JsonElement json = new JsonParser().parse(r);
          return json.getAsJsonObject();
        }
      } catch (IllegalStateException e) {
        last = e;
      }
    }
    throw last != null ? last : new IllegalStateException("no etcd member answers " + path);
  }

  private static long revision(JsonObject r) {
    return r.getAsJsonObject("header").get("revision").getAsLong();
  }

  private static JsonObject obj(String... kv) {
    JsonObject o = new JsonObject();
    for (int i = 0; i < kv.length; i += 2) {
      o.addProperty(kv[i], kv[i + 1]);
    }
    return o;
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static String unb64(String s) {
    return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
  }
}
