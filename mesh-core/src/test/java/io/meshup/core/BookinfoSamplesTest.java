package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.ServiceRouter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Istio's Bookinfo networking samples ({@code src/test/resources/istio/bookinfo}, verbatim, sources in
 * its SOURCES.md), each VirtualService sample with each DestinationRule sample that defines its subsets,
 * as separate policy sources in both orders: they load the same and split as Istio's task pages say
 * ("This will route 80% of traffic to reviews:v1 and 20% to reviews:v2", traffic-shifting task; "all
 * traffic from a user named Jason will be routed to the service reviews:v2", request-routing task).
 */
class BookinfoSamplesTest {
  private static final String[] DESTINATION_RULES = {
      "destination-rule-all.yaml", "destination-rule-all-mtls.yaml", "destination-rule-reviews.yaml"};

  /** A VirtualService sample, the services it routes, and the split (subset: share in %) for Jason and others. */
  record Sample(String file, String service, Map<String, Integer> others, Map<String, Integer> jason) {}

  private static final List<Sample> SAMPLES = List.of(
      new Sample("virtual-service-reviews-80-20.yaml", "reviews", Map.of("v1", 80, "v2", 20), Map.of("v1", 80, "v2", 20)),
      new Sample("virtual-service-reviews-90-10.yaml", "reviews", Map.of("v1", 90, "v2", 10), Map.of("v1", 90, "v2", 10)),
      new Sample("virtual-service-reviews-50-v3.yaml", "reviews", Map.of("v1", 50, "v3", 50), Map.of("v1", 50, "v3", 50)),
      new Sample("virtual-service-reviews-v2-v3.yaml", "reviews", Map.of("v2", 50, "v3", 50), Map.of("v2", 50, "v3", 50)),
      new Sample("virtual-service-reviews-v3.yaml", "reviews", Map.of("v3", 100), Map.of("v3", 100)),
      new Sample("virtual-service-reviews-test-v2.yaml", "reviews", Map.of("v1", 100), Map.of("v2", 100)),
      new Sample("virtual-service-reviews-jason-v2-v3.yaml", "reviews", Map.of("v3", 100), Map.of("v2", 100)),
      new Sample("virtual-service-all-v1.yaml", "details", Map.of("v1", 100), Map.of("v1", 100)),
      new Sample("virtual-service-details-v2.yaml", "details", Map.of("v2", 100), Map.of("v2", 100)),
      new Sample("virtual-service-ratings-db.yaml", "ratings", Map.of("v2", 100), Map.of("v2", 100)),
      new Sample("virtual-service-ratings-mysql.yaml", "ratings", Map.of("v2-mysql", 100), Map.of("v2-mysql", 100)),
      new Sample("virtual-service-ratings-mysql-vm.yaml", "ratings", Map.of("v2-mysql-vm", 100),
          Map.of("v2-mysql-vm", 100)),
      new Sample("virtual-service-ratings-test-delay.yaml", "ratings", Map.of("v1", 100), Map.of("v1", 100)),
      new Sample("virtual-service-ratings-test-abort.yaml", "ratings", Map.of("v1", 100), Map.of("v1", 100)));

  static String sample(String file) {
    try (InputStream in = BookinfoSamplesTest.class.getResourceAsStream("/istio/bookinfo/" + file)) {
      assertThat(in).as(file).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Stream<Arguments> pairs() {
    List<Arguments> out = new ArrayList<>();
    for (Sample s : SAMPLES) {
      for (String dr : DESTINATION_RULES) {
        boolean reviewsOnly = dr.equals("destination-rule-reviews.yaml");
        // the reviews-only rule defines no subsets of other services: only samples routing reviews alone
        if (reviewsOnly && sample(s.file()).matches("(?s).*host: (ratings|details|productpage).*")) {
          continue;
        }
        out.add(Arguments.of(s, dr, false));
        out.add(Arguments.of(s, dr, true));
      }
    }
    return out.stream();
  }

  record Req(Map<String, String> headers) implements RequestAttributes {
    @Override
    public String path() {
      return "/";
    }

    @Override
    public String method() {
      return "GET";
    }

    @Override
    public String header(String name) {
      return headers.get(name);
    }
  }

  private static Mesh mesh(List<String> sourcesInOrder, AtomicLong draws) {
    Mesh.Builder b = Mesh.builder().service("productpage").random((origin, bound) ->
        origin + Math.floorMod(draws.getAndIncrement() * 7919, bound - origin)); // every value of a cycle once
    for (String service : List.of("productpage", "reviews", "ratings", "details")) {
      List<Endpoint> eps = new ArrayList<>();
      int port = 9000;
      for (String v : List.of("v1", "v2", "v3", "v2-mysql", "v2-mysql-vm")) {
        eps.add(new Endpoint(service + "-" + v, "127.0.0.1", port++, Map.of("version", v), 1));
      }
      b.endpoints(service, eps);
    }
    for (String s : sourcesInOrder) {
      b.policies(s, sample(s));
    }
    return b.build();
  }

  /** Shares in % per subset over 100 picks with the cycling random (exact for Bookinfo's whole-percent weights). */
  private static Map<String, Integer> split(ServiceRouter router, Req req) {
    Map<String, Integer> shares = new TreeMap<>();
    for (int i = 0; i < 100; i++) {
      shares.merge(router.select(req).subset(), 1, Integer::sum);
    }
    return shares;
  }

  @ParameterizedTest(name = "{0} with {1}, rule first: {2}")
  @MethodSource("pairs")
  void loadsInEitherOrderAndSplitsAsIstio(Sample s, String rule, boolean ruleFirst) {
    List<String> order = new ArrayList<>(List.of(s.file(), rule));
    if (ruleFirst) {
      Collections.reverse(order);
    }
    try (Mesh mesh = mesh(order, new AtomicLong())) {
      assertThat(mesh.policyOrigins()).anyMatch(o -> o.startsWith(s.file() + ": VirtualService"));
      ServiceRouter router = mesh.router(s.service());
      assertThat(split(router, new Req(Map.of()))).isEqualTo(new TreeMap<>(s.others()));
      assertThat(split(router, new Req(Map.of("end-user", "jason")))).isEqualTo(new TreeMap<>(s.jason()));
    }
  }

  @Test
  void theWholeRequestRoutingTaskLoadsInEveryOrder() {
    // the request-routing task applies virtual-service-all-v1.yaml after destination-rule-all.yaml
    List<List<String>> orders = List.of(
        List.of("destination-rule-all.yaml", "virtual-service-all-v1.yaml"),
        List.of("virtual-service-all-v1.yaml", "destination-rule-all.yaml"));
    for (List<String> order : orders) {
      try (Mesh mesh = mesh(order, new AtomicLong())) {
        for (String service : List.of("productpage", "reviews", "ratings", "details")) {
          assertThat(split(mesh.router(service), new Req(Map.of()))).as(order + " " + service)
              .isEqualTo(Map.of("v1", 100));
        }
      }
    }
  }

  @Test
  void theSelfContainedSamplesLoad() {
    try (Mesh mesh = mesh(List.of("fault-injection-details-v1.yaml"), new AtomicLong())) {
      assertThat(mesh.policyOrigins()).containsExactly("fault-injection-details-v1.yaml: VirtualService details",
          "fault-injection-details-v1.yaml: DestinationRule details");
      assertThat(mesh.router("details").select(new Req(Map.of())).route().fault()).isNotNull();
    }
    try (Mesh mesh = mesh(List.of("egress-rule-google-apis.yaml"), new AtomicLong())) {
      assertThat(mesh.policyOrigins()).containsExactly("egress-rule-google-apis.yaml: ServiceEntry googleapis");
      assertThat(mesh.router("www.googleapis.com").select(new Req(Map.of())).service()).isEqualTo("www.googleapis.com");
    }
  }

  @Test
  void theIngressGatewaySampleIsRefusedWithTheReason() {
    assertThatThrownBy(() -> mesh(List.of("bookinfo-gateway.yaml"), new AtomicLong()).close())
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("bookinfo-gateway.yaml")
        .hasMessageContaining("kind: 'Gateway' is not supported by MeshUp: a Gateway configures a standalone ingress")
        .hasMessageContaining("The source holding it is refused whole, its other documents too (on an update the"
            + " last good policy keeps serving)");
  }

  @Test
  void aSourceWithAGatewayIsRefusedWholeAndTheLastGoodPolicyKeepsServing() {
    try (Mesh mesh = mesh(List.of("destination-rule-reviews.yaml", "virtual-service-reviews-v3.yaml"), new AtomicLong())) {
      // the gateway sample and a reviews split in one file: the message says the split does not load, and it does not
      String file = sample("bookinfo-gateway.yaml") + "\n---\n" + sample("virtual-service-reviews-80-20.yaml");
      assertThatThrownBy(() -> mesh.updatePolicies("virtual-service-reviews-v3.yaml", file))
          .isInstanceOf(MeshConfigException.class)
          .hasMessageContaining("'Gateway' is not supported by MeshUp")
          .hasMessageContaining("refused whole, its other documents too");
      assertThat(split(mesh.router("reviews"), new Req(Map.of()))).isEqualTo(Map.of("v3", 100));
      // without the Gateway, its VirtualService (bound to the gateway only) and the split load
      mesh.updatePolicies("virtual-service-reviews-v3.yaml", sample("bookinfo-gateway.yaml")
          .replaceFirst("(?s)apiVersion: networking.istio.io/v1\\w*\\nkind: Gateway.*?---\\n", "") + "\n---\n"
          + sample("virtual-service-reviews-80-20.yaml"));
      assertThat(split(mesh.router("reviews"), new Req(Map.of()))).isEqualTo(Map.of("v1", 80, "v2", 20));
    }
  }
}
