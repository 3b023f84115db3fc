package io.meshup.consul.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Translates Consul Connect intentions into AuthorizationPolicy documents for this service, with
 * Consul's precedence: for a source, an intention naming this service beats one for destination
 * {@code *}; a named source beats source {@code *}; source {@code *} sets the default (allow when
 * no intention says otherwise, as an agent whose ACL default policy is allow).
 *
 * <p>Default allow becomes one DENY policy listing the sources denied; default deny becomes one
 * ALLOW policy listing the sources allowed (no rules at all when none is: nothing is allowed).
 * Sources are matched by the service part of their SPIFFE ID ({@code *}{@code /svc/<name>}), in any
 * trust domain, namespace and datacenter. Stateless.
 */
final class Intentions {
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
  /** The name of the generated policy; the origin in errors and {@code Mesh.policyOrigins()}. */
  static final String DENY_POLICY = "consul-intentions-deny";
  static final String ALLOW_POLICY = "consul-intentions-allow";

  private Intentions() {}

  /** The documents for {@code service}, one text per origin; empty when intentions allow everything. */
  static Map<String, String> translate(String service, JsonElement list) {
    Map<String, String> exact = new TreeMap<>();
    Map<String, String> wildcardDestination = new TreeMap<>();
    if (list != null && list.isJsonArray()) {
      for (JsonElement e : list.getAsJsonArray()) {
        JsonObject i = e.getAsJsonObject();
        String destination = i.get("DestinationName").getAsString();
        String source = i.get("SourceName").getAsString();
        String action = i.get("Action").getAsString().toLowerCase(java.util.Locale.ROOT);
        if (destination.equals(service)) {
          exact.put(source, action);
        } else if (destination.equals("*")) {
          wildcardDestination.put(source, action);
        }
      }
    }
    Map<String, String> effective = new TreeMap<>(wildcardDestination);
    effective.putAll(exact);
    String fallback = effective.getOrDefault("*", "allow");
    effective.remove("*");
    JsonArray principals = new JsonArray();
    String want = fallback.equals("deny") ? "allow" : "deny";
    for (Map.Entry<String, String> e : effective.entrySet()) {
      if (e.getValue().equals(want)) {
        principals.add("*/svc/" + e.getKey());
      }
    }
    Map<String, String> docs = new LinkedHashMap<>();
    if (fallback.equals("deny")) {
      docs.put("consul intentions for " + service, GSON.toJson(policy(ALLOW_POLICY, "ALLOW", principals)));
    } else if (principals.size() > 0) {
      docs.put("consul intentions for " + service, GSON.toJson(policy(DENY_POLICY, "DENY", principals)));
    }
    return docs;
  }

  private static JsonObject policy(String name, String action, JsonArray principals) {
    JsonObject spec = new JsonObject();
    spec.addProperty("action", action);
    if (principals.size() > 0) {
      JsonObject source = new JsonObject();
      source.add("principals", principals);
      JsonObject from = new JsonObject();
      from.add("source", source);
      JsonArray froms = new JsonArray();
      froms.add(from);
      JsonObject rule = new JsonObject();
      rule.add("from", froms);
      JsonArray rules = new JsonArray();
      rules.add(rule);
      spec.add("rules", rules);
    }
    JsonObject meta = new JsonObject();
    meta.addProperty("name", name);
    JsonObject doc = new JsonObject();
    doc.addProperty("apiVersion", "security.istio.io/v1");
    doc.addProperty("kind", "AuthorizationPolicy");
    doc.add("metadata", meta);
    doc.add("spec", spec);
    return doc;
  }
}
