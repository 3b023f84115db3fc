package io.meshup.consul.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.meshup.core.MeshConfigException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Translates Consul's L7 config entries ({@code service-router}, {@code service-splitter},
 * {@code service-resolver}) into the same Istio-style documents the rest of MeshUp reads, so a
 * Java service follows the traffic rules Consul gives its Envoy sidecars. Stateless.
 *
 * <p>What maps where, as Consul compiles its discovery chain (router, then splitter, then
 * resolver): each router route becomes a VirtualService route in order; a route whose
 * destination has no subset goes through that service's splitter, else its resolver's default
 * subset; the final catch-all route is the service's own splitter or default subset. Resolver
 * subsets become DestinationRule subsets: their filters must be conjunctions of
 * {@code Service.Meta.<key> == <value>} and {@code Service.Tags contains <tag>}. Split weights
 * (Consul allows hundredths) are rounded to whole percent by largest remainder. Fields MeshUp
 * cannot honour (redirects, failover, rewrites, query matches) are rejected by name.
 */
final class ConfigEntries {
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
  private static final Pattern META = Pattern.compile("Service\\.Meta\\.([A-Za-z0-9_.\\-]+)\\s*==\\s*\"?([^\"\\s]+)\"?");
  private static final Pattern TAG = Pattern.compile("Service\\.Tags\\s+contains\\s+\"?([^\"\\s]+)\"?");

  /** The entries of each kind, by service name. */
  record Entries(Map<String, JsonObject> routers, Map<String, JsonObject> splitters, Map<String, JsonObject> resolvers) {}

  private ConfigEntries() {}

  /** Indexes a list as Consul returns it from {@code /v1/config/<kind>}. */
  static Map<String, JsonObject> byName(JsonElement list) {
    Map<String, JsonObject> out = new TreeMap<>();
    if (list != null && list.isJsonArray()) {
      for (JsonElement e : list.getAsJsonArray()) {
        out.put(e.getAsJsonObject().get("Name").getAsString(), e.getAsJsonObject());
      }
    }
    return out;
  }

  /**
   * The documents, one text per origin ({@code consul config service-splitter/web}...).
   *
   * @throws MeshConfigException naming the entry and field that cannot be translated
   */
  static Map<String, String> translate(Entries e) {
    Map<String, String> docs = new LinkedHashMap<>();
    Set<String> services = new java.util.TreeSet<>();
    services.addAll(e.routers().keySet());
    services.addAll(e.splitters().keySet());
    services.addAll(e.resolvers().keySet());
    for (String s : services) {
      JsonObject resolver = e.resolvers().get(s);
      if (resolver != null) {
        docs.put(origin("service-resolver", s), GSON.toJson(destinationRule(s, resolver)));
      }
      JsonObject vs = virtualService(s, e);
      if (vs != null) {
        String kind = e.routers().containsKey(s) ? "service-router" : e.splitters().containsKey(s) ? "service-splitter" : "service-resolver";
        docs.put(origin(kind, s) + " (routes)", GSON.toJson(vs));
      }
    }
    return docs;
  }

  static String origin(String kind, String name) {
    return "consul config " + kind + "/" + name;
  }

  // ---- resolver -> DestinationRule ------------------------------------------------------

  private static JsonObject destinationRule(String service, JsonObject r) {
    String where = origin("service-resolver", service);
    for (String unsupported : List.of("Redirect", "Failover", "LoadBalancer")) {
      if (r.has(unsupported) && !r.get(unsupported).isJsonNull()) {
        throw new MeshConfigException(where, unsupported, "is not supported by MeshUp: it routes within the service's own instances");
      }
    }
    JsonObject spec = new JsonObject();
    spec.addProperty("host", service);
    JsonArray subsets = new JsonArray();
    if (r.has("Subsets") && r.get("Subsets").isJsonObject()) {
      for (Map.Entry<String, JsonElement> sub : r.getAsJsonObject("Subsets").entrySet()) {
        JsonObject def = sub.getValue().getAsJsonObject();
        JsonObject subset = new JsonObject();
        subset.addProperty("name", sub.getKey());
        subset.add("labels", labels(where, "Subsets." + sub.getKey() + ".Filter",
            def.has("Filter") ? def.get("Filter").getAsString() : ""));
        subsets.add(subset);
      }
    }
    spec.add("subsets", subsets);
    if (r.has("ConnectTimeout") && !r.get("ConnectTimeout").isJsonNull()) {
      JsonObject tcp = new JsonObject();
      tcp.addProperty("connectTimeout", duration(r.get("ConnectTimeout")));
      JsonObject pool = new JsonObject();
      pool.add("tcp", tcp);
      JsonObject tp = new JsonObject();
      tp.add("connectionPool", pool);
      spec.add("trafficPolicy", tp);
    }
    return document("DestinationRule", service, spec);
  }

  /** A filter as labels: a conjunction of meta equalities and tag memberships. */
  static JsonObject labels(String where, String field, String filter) {
    JsonObject labels = new JsonObject();
    if (filter.isBlank()) {
      return labels;
    }
    for (String term : filter.split("\\s+and\\s+")) {
      String t = term.trim();
      Matcher m = META.matcher(t);
      Matcher g = TAG.matcher(t);
      if (m.matches()) {
        labels.addProperty(m.group(1), m.group(2));
      } else if (g.matches()) {
        labels.addProperty(g.group(1), "true");
      } else {
        throw new MeshConfigException(where, field, "'" + t + "' is not supported; MeshUp subsets take "
            + "'Service.Meta.<key> == <value>' and 'Service.Tags contains <tag>' joined by 'and'");
      }
    }
    return labels;
  }

  // ---- router + splitter -> VirtualService ----------------------------------------------

  private static JsonObject virtualService(String service, Entries e) {
    JsonArray http = new JsonArray();
    JsonObject router = e.routers().get(service);
    if (router != null && router.has("Routes") && router.get("Routes").isJsonArray()) {
      JsonArray routes = router.getAsJsonArray("Routes");
      for (int i = 0; i < routes.size(); i++) {
        http.add(routerRoute(service, i, routes.get(i).getAsJsonObject(), e));
      }
    }
    JsonArray fallback = destinations(service, "", e);
    if (fallback == null) {
      if (http.size() == 0) {
        return null;
      }
      fallback = new JsonArray();
      fallback.add(destination(service, "", 100));
    }
    JsonObject last = new JsonObject();
    last.addProperty("name", "default");
    last.add("route", fallback);
    http.add(last);
    JsonObject spec = new JsonObject();
    JsonArray hosts = new JsonArray();
    hosts.add(service);
    spec.add("hosts", hosts);
    spec.add("http", http);
    return document("VirtualService", service, spec);
  }

  private static JsonObject routerRoute(String service, int i, JsonObject route, Entries e) {
    String where = origin("service-router", service);
    String at = "Routes[" + i + "]";
    JsonObject out = new JsonObject();
    out.addProperty("name", "route-" + i);
    JsonObject match = new JsonObject();
    JsonObject httpMatch = route.has("Match") && route.getAsJsonObject("Match").has("HTTP")
        ? route.getAsJsonObject("Match").getAsJsonObject("HTTP") : new JsonObject();
    if (httpMatch.has("QueryParam") && httpMatch.getAsJsonArray("QueryParam").size() > 0) {
      throw new MeshConfigException(where, at + ".Match.HTTP.QueryParam", "query parameter matching is not supported by MeshUp");
    }
    if (httpMatch.has("PathExact")) {
      match.add("uri", stringMatch("exact", httpMatch.get("PathExact").getAsString()));
    } else if (httpMatch.has("PathPrefix")) {
      match.add("uri", stringMatch("prefix", httpMatch.get("PathPrefix").getAsString()));
    } else if (httpMatch.has("PathRegex")) {
      match.add("uri", stringMatch("regex", httpMatch.get("PathRegex").getAsString()));
    }
    if (httpMatch.has("Methods") && httpMatch.getAsJsonArray("Methods").size() > 0) {
      List<String> methods = new ArrayList<>();
      httpMatch.getAsJsonArray("Methods").forEach(m -> methods.add(Pattern.quote(m.getAsString())));
      match.add("method", stringMatch("regex", String.join("|", methods)));
    }
    if (httpMatch.has("Header")) {
      JsonObject headers = new JsonObject();
      JsonObject without = new JsonObject();
      JsonArray hs = httpMatch.getAsJsonArray("Header");
      for (int h = 0; h < hs.size(); h++) {
        JsonObject hm = hs.get(h).getAsJsonObject();
        String name = hm.get("Name").getAsString().toLowerCase(java.util.Locale.ROOT);
        JsonObject sm;
        if (hm.has("Exact")) {
          sm = stringMatch("exact", hm.get("Exact").getAsString());
        } else if (hm.has("Prefix")) {
          sm = stringMatch("prefix", hm.get("Prefix").getAsString());
        } else if (hm.has("Suffix")) {
          sm = stringMatch("regex", ".*" + Pattern.quote(hm.get("Suffix").getAsString()));
        } else if (hm.has("Regex")) {
          sm = stringMatch("regex", hm.get("Regex").getAsString());
        } else if (hm.has("Present") && hm.get("Present").getAsBoolean()) {
          sm = stringMatch("regex", ".*");
        } else {
          throw new MeshConfigException(where, at + ".Match.HTTP.Header[" + h + "]", "needs Exact, Prefix, Suffix, Regex or Present");
        }
        boolean invert = hm.has("Invert") && hm.get("Invert").getAsBoolean();
        (invert ? without : headers).add(name, sm);
      }
      if (headers.size() > 0) {
        match.add("headers", headers);
      }
      if (without.size() > 0) {
        match.add("withoutHeaders", without);
      }
    }
    if (match.size() > 0) {
      JsonArray matches = new JsonArray();
      matches.add(match);
      out.add("match", matches);
    }
    JsonObject dest = route.has("Destination") ? route.getAsJsonObject("Destination") : new JsonObject();
    if (dest.has("PrefixRewrite") && !dest.get("PrefixRewrite").getAsString().isEmpty()) {
      throw new MeshConfigException(where, at + ".Destination.PrefixRewrite", "rewrites are not supported by MeshUp");
    }
    String target = dest.has("Service") && !dest.get("Service").getAsString().isEmpty() ? dest.get("Service").getAsString() : service;
    String subset = dest.has("ServiceSubset") ? dest.get("ServiceSubset").getAsString() : "";
    JsonArray routeTo = destinations(target, subset, e);
    if (routeTo == null) {
      routeTo = new JsonArray();
      routeTo.add(destination(target, subset, 100));
    }
    out.add("route", routeTo);
    if (dest.has("RequestTimeout") && !dest.get("RequestTimeout").isJsonNull()) {
      out.addProperty("timeout", duration(dest.get("RequestTimeout")));
    }
    int retries = dest.has("NumRetries") ? dest.get("NumRetries").getAsInt() : 0;
    if (retries > 0) {
      Set<String> on = new LinkedHashSet<>(List.of("connect-failure", "refused-stream", "unavailable"));
      if (dest.has("RetryOnStatusCodes") && dest.getAsJsonArray("RetryOnStatusCodes").size() > 0) {
        on.add("5xx");
      }
      JsonObject r = new JsonObject();
      r.addProperty("attempts", Math.min(retries, 10));
      r.addProperty("retryOn", String.join(",", on));
      out.add("retries", r);
    }
    return out;
  }

  /**
   * Where traffic for {@code service} (with an explicit subset or none) goes: the splitter's
   * weighted destinations, the resolver's default subset, or null for all endpoints.
   */
  private static JsonArray destinations(String service, String subset, Entries e) {
    if (!subset.isEmpty()) {
      JsonArray one = new JsonArray();
      one.add(destination(service, subset, 100));
      return one;
    }
    JsonObject splitter = e.splitters().get(service);
    if (splitter != null && splitter.has("Splits")) {
      JsonArray splits = splitter.getAsJsonArray("Splits");
      double[] weights = new double[splits.size()];
      for (int i = 0; i < splits.size(); i++) {
        weights[i] = splits.get(i).getAsJsonObject().get("Weight").getAsDouble();
      }
      int[] rounded = largestRemainder(weights);
      JsonArray out = new JsonArray();
      for (int i = 0; i < splits.size(); i++) {
        JsonObject sp = splits.get(i).getAsJsonObject();
        String to = sp.has("Service") && !sp.get("Service").getAsString().isEmpty() ? sp.get("Service").getAsString() : service;
        String sub = sp.has("ServiceSubset") ? sp.get("ServiceSubset").getAsString() : "";
        if (sub.isEmpty() && !to.equals(service)) {
          sub = defaultSubset(to, e);
        } else if (sub.isEmpty()) {
          sub = defaultSubset(service, e);
        }
        out.add(destination(to, sub, rounded[i]));
      }
      return out;
    }
    String def = defaultSubset(service, e);
    if (!def.isEmpty()) {
      JsonArray one = new JsonArray();
      one.add(destination(service, def, 100));
      return one;
    }
    return null;
  }

  private static String defaultSubset(String service, Entries e) {
    JsonObject r = e.resolvers().get(service);
    return r != null && r.has("DefaultSubset") ? r.get("DefaultSubset").getAsString() : "";
  }

  /** Rounds weights summing to 100 into whole numbers summing to 100. */
  static int[] largestRemainder(double[] w) {
    int[] out = new int[w.length];
    double[] rest = new double[w.length];
    int sum = 0;
    for (int i = 0; i < w.length; i++) {
      out[i] = (int) Math.floor(w[i]);
      rest[i] = w[i] - out[i];
      sum += out[i];
    }
    while (sum < 100) {
      int best = 0;
      for (int i = 1; i < w.length; i++) {
        if (rest[i] > rest[best]) {
          best = i;
        }
      }
      out[best]++;
      rest[best] = -1;
      sum++;
    }
    return out;
  }

  private static JsonObject destination(String host, String subset, int weight) {
    JsonObject d = new JsonObject();
    d.addProperty("host", host);
    if (!subset.isEmpty()) {
      d.addProperty("subset", subset);
    }
    JsonObject out = new JsonObject();
    out.add("destination", d);
    out.addProperty("weight", weight);
    return out;
  }

  private static JsonObject stringMatch(String kind, String value) {
    JsonObject o = new JsonObject();
    o.addProperty(kind, value);
    return o;
  }

  /** Consul durations are Go durations ("15s") or nanoseconds as a number. */
  private static String duration(JsonElement d) {
    if (d.getAsJsonPrimitive().isNumber()) {
      return d.getAsLong() / 1_000_000 + "ms";
    }
    return d.getAsString();
  }

  private static JsonObject document(String kind, String name, JsonObject spec) {
    JsonObject doc = new JsonObject();
    doc.addProperty("apiVersion", "networking.istio.io/v1");
    doc.addProperty("kind", kind);
    JsonObject meta = new JsonObject();
    meta.addProperty("name", name);
    doc.add("metadata", meta);
    doc.add("spec", spec);
    return doc;
  }
}
