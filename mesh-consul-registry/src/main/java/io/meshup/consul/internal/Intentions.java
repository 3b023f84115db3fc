package io.meshup.consul.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decides Consul Connect intentions for this service as a Consul 1.8 agent decides them for
 * Connect-native services ({@code /v1/agent/connect/authorize}), and translates the outcome into
 * AuthorizationPolicy documents. Stateless.
 *
 * <p>Consul's rule: the intentions whose destination is this service or {@code *} are ranked by
 * precedence, destination exactness first, then source exactness (Consul's
 * {@code Intention.UpdatePrecedence}, namespaces being exact in OSS: exact destination and source
 * 9, exact destination and source {@code *} 8, destination {@code *} and exact source 6, both
 * {@code *} 5); the first one whose source matches the caller decides; when none matches, the
 * agent's default decides (allow when ACLs are off, else the ACL default policy). A source matches
 * a caller by namespace and service name of its SPIFFE ID; OSS intentions are all in namespace
 * {@code default}, so a caller of another namespace gets the default. A plaintext caller (no
 * identity) is decided as an unnamed source of the default namespace, so {@code * -> this deny}
 * refuses it too.
 *
 * <p>The outcome is one DENY policy {@value #DENY_POLICY} (none when nothing is denied): DENY, so
 * that it composes with the other AuthorizationPolicies in force as Consul's and Istio's layers
 * should, a call needing both to let it through (an ALLOW policy would instead be one more way
 * in). When unnamed callers are allowed it lists the denied sources; otherwise it denies every
 * caller of the namespace but the allowed sources, and plaintext callers. When the intentions
 * cannot be read or trusted, {@link #failClosed} gives a DENY policy {@value #CLOSED_POLICY} that
 * matches every call.
 */
final class Intentions {
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
  /** The name of the generated policies; the origin in errors and {@code Mesh.policyOrigins()}. */
  static final String DENY_POLICY = "consul-intentions-deny";
  static final String CLOSED_POLICY = "consul-intentions-unavailable";
  /** Consul OSS's only namespace. */
  static final String NAMESPACE = "default";
  static final String WILDCARD = "*";

  private Intentions() {}

  /** An answer that cannot be trusted to be the intentions in force. */
  static final class Untrusted extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Untrusted(String why) {
      super(why);
    }
  }

  /** One intention that applies to this service. */
  record Intention(String source, String destination, boolean allow) {
    /** Consul's precedence (OSS: namespaces exact). */
    int precedence() {
      int max = destination.equals(WILDCARD) ? 6 : 9;
      return source.equals(WILDCARD) ? max - 1 : max;
    }
  }

  /**
   * The intentions for {@code service} in an answer of {@code /v1/connect/intentions/match}
   * ({@code {"<service>": [...]}}) or of {@code /v1/connect/intentions} (a list), highest
   * precedence first.
   *
   * @throws Untrusted when the answer is not of that shape, or an intention is not readable
   */
  static List<Intention> parse(String service, JsonElement answer) {
    JsonArray list;
    if (answer != null && answer.isJsonObject()) {
      JsonElement l = answer.getAsJsonObject().get(service);
      if (l == null || !(l.isJsonArray() || l.isJsonNull())) {
        throw new Untrusted("the agent's answer holds no list of intentions for " + service);
      }
      // the agent answers {"<service>": null} when no intention matches
      list = l.isJsonNull() ? new JsonArray() : l.getAsJsonArray();
    } else if (answer != null && answer.isJsonArray()) {
      list = answer.getAsJsonArray();
    } else {
      throw new Untrusted("the agent answered " + (answer == null || answer.isJsonNull() ? "nothing" : "something else")
          + " where intentions were expected");
    }
    List<Intention> out = new ArrayList<>();
    for (JsonElement e : list) {
      if (!e.isJsonObject()) {
        throw new Untrusted("an intention is not a JSON object");
      }
      JsonObject i = e.getAsJsonObject();
      String destination = text(i, "DestinationName");
      String source = text(i, "SourceName");
      String action = text(i, "Action").toLowerCase(Locale.ROOT);
      String sourceNs = i.has("SourceNS") && !i.get("SourceNS").isJsonNull() ? text(i, "SourceNS") : NAMESPACE;
      if (!action.equals("allow") && !action.equals("deny")) {
        throw new Untrusted("intention " + source + " -> " + destination + " has action '" + cut(action) + "'");
      }
      if (i.has("Permissions") && i.get("Permissions").isJsonArray() && i.getAsJsonArray("Permissions").size() > 0) {
        // an L7 intention: Consul treats it as deny for Connect-native services
        action = "deny";
      }
      if (!sourceNs.equals(NAMESPACE) && !sourceNs.equals(WILDCARD)) {
        continue; // names callers of a namespace OSS never issues
      }
      if (destination.equals(service) || destination.equals(WILDCARD)) {
        out.add(new Intention(source, destination, action.equals("allow")));
      }
    }
    out.sort(Comparator.comparingInt(Intention::precedence).reversed());
    return out;
  }

  private static String text(JsonObject o, String key) {
    JsonElement v = o.get(key);
    if (v == null || !v.isJsonPrimitive()) {
      throw new Untrusted("an intention has no " + key);
    }
    return v.getAsString();
  }

  /**
   * The documents for {@code service}, one text per origin; empty when the intentions allow every
   * caller.
   *
   * @param defaultAllow what the agent decides when no intention matches
   */
  static Map<String, String> translate(String service, List<Intention> ranked, boolean defaultAllow) {
    // the first intention, in precedence order, that matches a named source or any source
    Map<String, Boolean> named = new TreeMap<>();
    for (Intention i : ranked) {
      if (!i.source().equals(WILDCARD)) {
        named.putIfAbsent(i.source(), null);
      }
    }
    for (String name : named.keySet()) {
      named.put(name, decide(ranked, name, defaultAllow));
    }
    boolean unnamed = decide(ranked, null, defaultAllow);
    JsonArray rules = new JsonArray();
    if (unnamed) {
      // allowed unless denied: deny each named source the intentions deny
      for (Map.Entry<String, Boolean> e : named.entrySet()) {
        if (!e.getValue()) {
          rules.add(rule(source("principals", List.of("*/svc/" + e.getKey()), "namespaces", List.of(NAMESPACE))));
        }
      }
    } else {
      // denied unless allowed: deny every caller of the namespace but the allowed ones, and plaintext callers
      List<String> allowed = new ArrayList<>();
      named.forEach((name, allow) -> {
        if (allow) {
          allowed.add("*/svc/" + name);
        }
      });
      rules.add(rule(allowed.isEmpty() ? source("namespaces", List.of(NAMESPACE), null, null)
          : source("notPrincipals", allowed, "namespaces", List.of(NAMESPACE))));
      rules.add(rule(source("notPrincipals", List.of(WILDCARD), null, null)));
    }
    if (!defaultAllow) {
      // TLS callers of other namespaces get the default
      rules.add(rule(source("principals", List.of(WILDCARD), "notNamespaces", List.of(NAMESPACE))));
    }
    Map<String, String> docs = new LinkedHashMap<>();
    if (rules.size() > 0) {
      docs.put("consul intentions for " + service, GSON.toJson(policy(DENY_POLICY, "DENY", rules)));
    }
    return docs;
  }

  /** As {@link #translate(String, List, boolean)} for an agent answer and an agent with ACLs off. */
  static Map<String, String> translate(String service, JsonElement answer) {
    return translate(service, parse(service, answer), true);
  }

  /** What the agent decides for a caller named {@code source} of the default namespace (null: unnamed). */
  static boolean decide(List<Intention> ranked, String source, boolean defaultAllow) {
    for (Intention i : ranked) {
      if (i.source().equals(WILDCARD) || i.source().equals(source)) {
        return i.allow();
      }
    }
    return defaultAllow;
  }

  /**
   * The document that refuses every caller while the intentions cannot be known: a DENY policy
   * that matches every call, so that no ALLOW policy of another source can let anyone in.
   */
  static Map<String, String> failClosed(String service) {
    JsonArray rules = new JsonArray();
    rules.add(new JsonObject());
    return Map.of("consul intentions for " + service + " (unavailable: every caller refused)",
        GSON.toJson(policy(CLOSED_POLICY, "DENY", rules)));
  }

  private static JsonObject source(String k1, List<String> v1, String k2, List<String> v2) {
    JsonObject source = new JsonObject();
    JsonArray a = new JsonArray();
    v1.forEach(a::add);
    source.add(k1, a);
    if (k2 != null) {
      JsonArray b = new JsonArray();
      v2.forEach(b::add);
      source.add(k2, b);
    }
    return source;
  }

  private static JsonObject rule(JsonObject source) {
    JsonObject from = new JsonObject();
    from.add("source", source);
    JsonArray froms = new JsonArray();
    froms.add(from);
    JsonObject rule = new JsonObject();
    rule.add("from", froms);
    return rule;
  }

  private static JsonObject policy(String name, String action, JsonArray rules) {
    JsonObject spec = new JsonObject();
    spec.addProperty("action", action);
    if (rules.size() > 0) {
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

  private static String cut(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}
