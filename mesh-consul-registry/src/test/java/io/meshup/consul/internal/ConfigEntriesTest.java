package io.meshup.consul.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RouteTarget;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Consul config entries translate to the routing model as Consul's discovery chain would route. */
class ConfigEntriesTest {
  @SuppressWarnings("deprecation")
  static Map<String, JsonObject> one(String json) {
    JsonObject o = new JsonParser().parse(json).getAsJsonObject();
    return Map.of(o.get("Name").getAsString(), o);
  }

  static final String RESOLVER = """
      {"Kind":"service-resolver","Name":"web","DefaultSubset":"v1","ConnectTimeout":"250ms",
       "Subsets":{"v1":{"Filter":"Service.Meta.version == v1"},
                  "v2":{"Filter":"Service.Meta.version == \\"v2\\" and Service.Tags contains canary"}}}""";
  static final String SPLITTER = """
      {"Kind":"service-splitter","Name":"web","Splits":[{"Weight":66.67,"ServiceSubset":"v1"},{"Weight":33.33,"ServiceSubset":"v2"}]}""";
  static final String ROUTER = """
      {"Kind":"service-router","Name":"web","Routes":[
        {"Match":{"HTTP":{"PathPrefix":"/admin","Methods":["GET","DELETE"]}},
         "Destination":{"ServiceSubset":"v2","RequestTimeout":"5s","NumRetries":2,"RetryOnConnectFailure":true}},
        {"Match":{"HTTP":{"Header":[{"Name":"X-Debug","Present":true},{"Name":"x-env","Exact":"prod","Invert":true}]}},
         "Destination":{"ServiceSubset":"v2"}}]}""";

  record Req(String path, String method, Map<String, String> headers) implements RequestAttributes {
    @Override
    public String header(String name) {
      return headers.get(name);
    }
  }

  Mesh mesh(Map<String, String> docs) {
    return Mesh.builder().service("caller")
        .endpoints("web", List.of(
            new Endpoint("a", "127.0.0.1", 9001, Map.of("version", "v1"), 1),
            new Endpoint("b", "127.0.0.1", 9002, Map.of("version", "v2", "canary", "true"), 1)))
        .build();
  }

  @Test
  void routerSplitterAndResolverRouteAsConsulWould() {
    Map<String, String> docs = ConfigEntries.translate(new ConfigEntries.Entries(one(ROUTER), one(SPLITTER), one(RESOLVER)));
    assertThat(docs).containsOnlyKeys("consul config service-resolver/web", "consul config service-router/web (routes)");
    try (Mesh mesh = mesh(docs)) {
      mesh.updatePolicies(ConsulRegistry.ENTRIES_SOURCE, docs);
      RouteTarget admin = mesh.router("web").select(new Req("/admin/users", "DELETE", Map.of()));
      assertThat(admin.subset()).isEqualTo("v2");
      assertThat(admin.route().timeoutNanos()).isEqualTo(5_000_000_000L);
      assertThat(admin.route().retries().attempts()).isEqualTo(2);
      assertThat(admin.route().retries().retriesOn("connect-failure")).isTrue();
      assertThat(mesh.router("web").select(new Req("/x", "GET", Map.of("x-debug", "1", "x-env", "dev"))).subset())
          .isEqualTo("v2");
      // Invert becomes Envoy's invert_match, which fails on a header the request lacks (Envoy's
      // HeaderUtility::matchHeaders; Consul configures the same matcher): the default route
      assertThat(mesh.router("web").select(new Req("/x", "GET", Map.of("x-debug", "1"))).route().name())
          .isEqualTo("default");
      assertThat(mesh.router("web").select(new Req("/x", "GET", Map.of("x-debug", "1", "x-env", "prod"))).route().name())
          .isEqualTo("default");
      Map<String, Integer> split = new HashMap<>();
      for (int i = 0; i < 10_000; i++) {
        split.merge(mesh.router("web").select(new Req("/pay", "POST", Map.of())).subset(), 1, Integer::sum);
      }
      assertThat(split.get("v2") / 100.0).as("33.33 rounds to 33").isBetween(31.0, 35.0);
      assertThat(mesh.endpoints("web")).hasSize(2);
      assertThat(((io.meshup.core.internal.routing.Target) admin).pick(null).endpoint().id()).as("v2 = version v2 and tag canary").isEqualTo("b");
    }
  }

  @Test
  void resolverDefaultSubsetAloneRoutesEverythingThere() {
    Map<String, String> docs = ConfigEntries.translate(new ConfigEntries.Entries(Map.of(), Map.of(), one(RESOLVER)));
    try (Mesh mesh = mesh(docs)) {
      mesh.updatePolicies(ConsulRegistry.ENTRIES_SOURCE, docs);
      assertThat(mesh.router("web").select(new Req("/", "GET", Map.of())).subset()).isEqualTo("v1");
    }
  }

  @Test
  void unsupportedFilterIsRejectedNamingTheEntryAndField() {
    String bad = RESOLVER.replace("Service.Meta.version == v1", "Service.Meta.version != v1");
    assertThatThrownBy(() -> ConfigEntries.translate(new ConfigEntries.Entries(Map.of(), Map.of(), one(bad))))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("consul config service-resolver/web, Subsets.v1.Filter: 'Service.Meta.version != v1' is not supported");
  }

  @Test
  void failoverIsRejectedByName() {
    String bad = RESOLVER.replace("\"DefaultSubset\"", "\"Failover\":{\"*\":{\"Datacenters\":[\"dc2\"]}},\"DefaultSubset\"");
    assertThatThrownBy(() -> ConfigEntries.translate(new ConfigEntries.Entries(Map.of(), Map.of(), one(bad))))
        .hasMessageContaining("consul config service-resolver/web, Failover: is not supported");
  }

  @Test
  void splitWeightsRoundToWholePercentSummingTo100() {
    assertThat(ConfigEntries.largestRemainder(new double[] {33.33, 33.33, 33.34})).containsExactly(33, 33, 34);
    assertThat(ConfigEntries.largestRemainder(new double[] {66.67, 33.33})).containsExactly(67, 33);
  }
}
