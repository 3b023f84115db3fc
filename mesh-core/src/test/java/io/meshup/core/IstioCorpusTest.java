package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The conformance corpus: Istio's documented examples for VirtualService, DestinationRule and
 * ServiceEntry ({@code src/test/resources/istio/corpus}, verbatim, sources in its SOURCES.md), each
 * loaded on its own (with the example its page calls "the associated DestinationRule" or
 * ServiceEntry, where it has one). Every example either loads or is refused with a message naming
 * the file, the document and the field with the reason; none may fail any other way. The refused
 * ones are listed here, so that any change in what loads shows; the figures are printed and written
 * to {@code target/istio-corpus-report.txt}.
 */
class IstioCorpusTest {
  /** Examples and the examples their page pairs them with. */
  private static final Map<String, List<String>> COMPANIONS = Map.of(
      "vs01-reviews-route-v1alpha3.yaml", List.of("vs03-reviews-destination-v1alpha3.yaml"),
      "vs02-reviews-route-v1beta1.yaml", List.of("vs04-reviews-destination-v1beta1.yaml"),
      "vs05-reviews-route-foo-v1alpha3.yaml", List.of("vs07-reviews-destination-foo-v1alpha3.yaml"),
      "vs06-reviews-route-foo-v1beta1.yaml", List.of("vs08-reviews-destination-foo-v1beta1.yaml"),
      "vs27-reviews-25-75-v1alpha3.yaml", List.of("vs29-reviews-destination-v1alpha3.yaml"),
      "vs28-reviews-25-75-v1beta1.yaml", List.of("vs30-reviews-destination-v1beta1.yaml"),
      "vs16-delegate-root.yaml", List.of("vs17-delegate-productpage.yaml", "vs18-delegate-reviews.yaml"),
      "se03-mtls-mongocluster.yaml", List.of("se02-external-svc-mongocluster.yaml"),
      "se05-tls-routing.yaml", List.of("se04-external-svc-redirect.yaml"),
      "se08-gateway-routing.yaml", List.of("se06-external-svc-httpbin.yaml"));

  /**
   * The services the examples call, as the cluster of Istio's pages has them (registry names: a
   * service of another namespace is {@code name.namespace}), each with endpoints of versions v1 to v3.
   */
  private static final List<String> CLUSTER = List.of("ratings.prod", "reviews.prod", "productpage.prod",
      "myredissrv.prod", "mydbserver.prod", "reviews.foo", "istio-egressgateway.istio-system", "reviews.com",
      "dev.reviews.com", "productpage-v1.nsA", "productpage.nsA", "reviews.nsB");

  /** What MeshUp refuses today, by file: the finding each refusal is. */
  private static final List<String> REFUSED = List.of(
      // out of reach in-process, refused with the reason: TLS (SNI) and TCP routes, Gateway, WorkloadEntry,
      // a ServiceEntry's workloadSelector, unix domain sockets, a Kubernetes secret (credentialName)
      "se05-tls-routing.yaml", "vs21-bookinfo-sni-v1alpha3.yaml", "vs22-bookinfo-sni-v1beta1.yaml",
      "vs23-bookinfo-mongo-v1alpha3.yaml", "vs24-bookinfo-mongo-v1beta1.yaml", "se07-istio-egressgateway.yaml",
      "se13-workload-entries.yaml", "se14-details-svc-workload-selector.yaml", "se10-unix-domain-socket-example.yaml",
      "dr04-workloadselector.yaml",
      // not valid YAML as the page prints it (two documents without '---'; a '...' line)
      "vs11-wikipedia-v1alpha3.yaml", "vs12-wikipedia-v1beta1.yaml", "vs33-redirect-v1alpha3.yaml",
      "vs34-redirect-v1beta1.yaml",
      // rate_limit: in this proto's comments, not in a released Istio API
      "vs13-rate-limit-1.yaml", "vs14-rate-limit-2.yaml", "vs15-rate-limit-3.yaml");

  static Path corpus() throws URISyntaxException {
    return Path.of(IstioCorpusTest.class.getResource("/istio/corpus/SOURCES.md").toURI()).getParent();
  }

  @Test
  void everyExampleLoadsOrIsRefusedByName() throws Exception {
    Path dir = corpus();
    List<String> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).sorted().forEach(files::add);
    }
    assertThat(files).hasSizeGreaterThanOrEqualTo(60);
    Map<String, String> refused = new LinkedHashMap<>();
    List<String> accepted = new ArrayList<>();
    for (String f : files) {
      Mesh.Builder b = Mesh.builder().service("corpus-client");
      int port = 9000;
      for (String service : CLUSTER) {
        List<Endpoint> eps = new ArrayList<>();
        for (String v : List.of("v1", "v2", "v3")) {
          eps.add(new Endpoint(service + "-" + v, "127.0.0.1", port++, Map.of("version", v), 1));
        }
        b.endpoints(service, eps);
      }
      b.policies(f, read(dir, f));
      for (String c : COMPANIONS.getOrDefault(f, List.of())) {
        b.policies(c, read(dir, c));
      }
      try (Mesh mesh = b.build()) {
        accepted.add(f);
      } catch (MeshConfigException e) {
        refused.put(f, e.getMessage());
        assertThat(e.getMessage()).as(f).startsWith(f);
        assertThat(e.getMessage()).as("%s names the field or line", f).containsAnyOf("spec.", "kind", "apiVersion",
            "metadata", "line ");
      }
    }
    StringBuilder report = new StringBuilder();
    report.append(String.format("Istio corpus: %d examples, %d accepted, %d refused (%.1f %% accepted)%n",
        files.size(), accepted.size(), refused.size(), 100.0 * accepted.size() / files.size()));
    refused.forEach((f, m) -> report.append("REFUSED ").append(m.replace('\n', ' ')).append('\n'));
    System.out.print(report);
    Path out = Path.of("target", "istio-corpus-report.txt");
    if (Files.isDirectory(out.getParent())) {
      Files.writeString(out, report);
    }
    assertThat(refused.keySet()).containsExactlyInAnyOrderElementsOf(REFUSED);
  }

  private static String read(Path dir, String f) throws IOException {
    return Files.readString(dir.resolve(f), StandardCharsets.UTF_8);
  }
}
