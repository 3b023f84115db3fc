package io.meshup.http;

import io.meshup.core.Mesh;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A throwaway measurement, not a test: the cost MeshHttpClient adds to a sequential GET over a
 * plain JDK HttpClient, both against one JDK HttpServer on loopback in this process (static
 * registry, one endpoint, a VirtualService with one route). Prints the median microseconds per
 * request of each over alternating rounds, for {@code send} and for {@code sendAsync(..).get()}.
 *
 * <p>Arguments: requests per round (20000), rounds (5), warmup requests per client (20000).
 */
public final class HttpOverheadMain {
  private HttpOverheadMain() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 20_000;
    try (TestServers servers = new TestServers()) {
      TestServers.Instance server = servers.start("p1", Map.of("version", "v1"));
      String vs = """
          apiVersion: networking.istio.io/v1
          kind: VirtualService
          metadata: { name: payments }
          spec:
            hosts: [payments]
            http:
              - name: all
                route: [{ destination: { host: payments } }]
          """;
      try (Mesh mesh = Mesh.builder().service("bench").endpoints("payments", List.of(server.endpoint()))
          .policies("bench", vs).build()) {
        HttpClient plain = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        MeshHttpClient meshed = MeshHttp.client(mesh);
        HttpRequest direct = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/charges/42")).build();
        HttpRequest routed = HttpRequest.newBuilder(URI.create("http://payments/charges/42")).build();
        Sender plainSend = () -> plain.send(direct, HttpResponse.BodyHandlers.ofString());
        Sender meshSend = () -> meshed.send(routed, HttpResponse.BodyHandlers.ofString());
        Sender plainAsync = () -> plain.sendAsync(direct, HttpResponse.BodyHandlers.ofString()).get();
        Sender meshAsync = () -> meshed.sendAsync(routed, HttpResponse.BodyHandlers.ofString()).get();
        Sender[] senders = {plainSend, meshSend, plainAsync, meshAsync};
        String[] names = {"plain send", "mesh send", "plain sendAsync().get()", "mesh sendAsync().get()"};

        for (Sender s : senders) {
          run(s, warmup);
        }
        double[][] us = new double[senders.length][rounds];
        for (int r = 0; r < rounds; r++) {
          StringBuilder line = new StringBuilder("round " + (r + 1) + ":");
          for (int i = 0; i < senders.length; i++) {
            us[i][r] = run(senders[i], n);
            line.append(String.format("  %s %.1f", names[i], us[i][r]));
          }
          System.out.println(line.append(" us/req"));
        }
        System.out.printf("N=%d sequential GETs x %d rounds, alternating, after %d warmup each; median us/req:%n", n, rounds, warmup);
        for (int i = 0; i < senders.length; i += 2) {
          double p = median(us[i]);
          double m = median(us[i + 1]);
          System.out.printf("  %-24s %7.1f | %-24s %7.1f | added %6.1f us/req (%+.1f %%)%n",
              names[i], p, names[i + 1], m, m - p, (m - p) / p * 100);
        }
        System.out.printf("server calls: %d%n", server.calls.get());
      }
    }
  }

  /** One request, whatever the client. */
  private interface Sender {
    HttpResponse<String> send() throws Exception;
  }

  /** Sends {@code n} requests one after another; returns microseconds per request. */
  private static double run(Sender s, int n) throws Exception {
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      HttpResponse<String> r = s.send();
      if (r.statusCode() != 200) {
        throw new IllegalStateException("status " + r.statusCode());
      }
    }
    return (System.nanoTime() - start) / 1e3 / n;
  }

  private static double median(double[] xs) {
    double[] c = xs.clone();
    Arrays.sort(c);
    return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
  }
}
