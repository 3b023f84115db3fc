package io.meshup.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * A real Prometheus server for tests, on a free loopback port with its own data directory under
 * {@code target/prometheus/}, scraping the targets it is given every {@code scrapeInterval} and
 * evaluating the rule files it is given; queried through its HTTP API.
 *
 * <pre>{@code
 * try (PrometheusServer p = PrometheusServer.start(Map.of("checkout", mesh.adminAddress().get()), Duration.ofSeconds(1),
 *     List.of(Path.of("monitoring/prometheus/meshup-alerts.yml")))) {
 *   p.awaitScrapes(3);
 *   List<PrometheusServer.Sample> r = p.query("sum(rate(mesh_client_requests_seconds_count[10s]))");
 * }
 * }</pre>
 *
 * <p>The binary is found as {@code scripts/prometheus.sh install} finds it (and ConsulAgent and
 * EtcdCluster theirs): {@code $PROMETHEUS_BIN} if set and executable, else {@code prometheus} on
 * {@code PATH}, else {@code .tools/prometheus/usr/bin/prometheus} under the repository root; if none
 * exists, it runs {@code scripts/prometheus.sh install}, which extracts Debian's {@code prometheus}
 * package into {@code .tools/}. {@link #promtool()} is the {@code promtool} beside it.
 */
public final class PrometheusServer implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  /** One series of an instant query's result: its labels and its value. */
  public record Sample(Map<String, String> labels, double value) {}

  private final Process process;
  private final Path binary;
  private final Path dir;
  private final Path log;
  private final int port;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private PrometheusServer(Process process, Path binary, Path dir, Path log, int port) {
    this.process = process;
    this.binary = binary;
    this.dir = dir;
    this.log = log;
    this.port = port;
  }

  /**
   * Starts Prometheus scraping {@code /metrics} of each target (one job per entry, named by its key)
   * every {@code scrapeInterval}, and evaluating {@code ruleFiles} as often; returns once it
   * answers {@code /-/ready}.
   */
  public static PrometheusServer start(Map<String, InetSocketAddress> jobs, Duration scrapeInterval, List<Path> ruleFiles) {
    Path binary = findBinary();
    try {
      Path dir = Files.createTempDirectory(Files.createDirectories(Paths.get("target", "prometheus").toAbsolutePath()), "run");
      int port = freePort();
      StringBuilder config = new StringBuilder()
          .append("global:\n")
          .append("  scrape_interval: ").append(scrapeInterval.toMillis()).append("ms\n")
          .append("  scrape_timeout: ").append(scrapeInterval.toMillis()).append("ms\n")
          .append("  evaluation_interval: ").append(scrapeInterval.toMillis()).append("ms\n")
          .append("rule_files:\n");
      for (Path r : ruleFiles) {
        config.append("  - '").append(r.toAbsolutePath()).append("'\n");
      }
      if (ruleFiles.isEmpty()) {
        config.append("  []\n");
      }
      config.append("scrape_configs:\n");
      for (Map.Entry<String, InetSocketAddress> j : jobs.entrySet()) {
        config.append("  - job_name: '").append(j.getKey()).append("'\n    static_configs:\n      - targets: ['127.0.0.1:")
            .append(j.getValue().getPort()).append("']\n");
      }
      Path file = dir.resolve("prometheus.yml");
      Files.writeString(file, config);
      Path log = dir.resolve("prometheus.log");
      Process p = new ProcessBuilder(binary.toString(), "--config.file=" + file, "--storage.tsdb.path=" + dir.resolve("data"),
          "--web.listen-address=127.0.0.1:" + port, "--storage.tsdb.retention.time=1h")
          .redirectErrorStream(true).redirectOutput(log.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(nullFile())).start();
      PrometheusServer server = new PrometheusServer(p, binary, dir, log, port);
      server.awaitReady();
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + binary, e);
    }
  }

  private void awaitReady() {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() - deadline < 0) {
      if (!process.isAlive()) {
        throw new IllegalStateException("prometheus exited with " + process.exitValue() + System.lineSeparator() + tail());
      }
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/-/ready")).timeout(Duration.ofSeconds(2)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
      try {
        process.waitFor(100, TimeUnit.MILLISECONDS); // returns early only if it exits
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
    close();
    throw new IllegalStateException("prometheus was not ready within " + START_TIMEOUT + System.lineSeparator() + tail());
  }

  /** The server's base address, {@code http://127.0.0.1:PORT}. */
  public URI address() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** The {@code promtool} binary beside the server's. */
  public Path promtool() {
    return binary.resolveSibling("promtool");
  }

  private URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + port + pathAndQuery);
  }

  /** GETs an API path and returns its {@code data}, failing on any status but success. */
  @SuppressWarnings("unchecked")
  public Object api(String pathAndQuery) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(30)).build(),
          HttpResponse.BodyHandlers.ofString());
      Map<String, Object> body = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(r.body());
      if (r.statusCode() != 200 || !"success".equals(body.get("status"))) {
        throw new IllegalStateException("prometheus answered " + r.statusCode() + " to " + pathAndQuery + ": " + r.body());
      }
      return body.get("data");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot reach prometheus at " + address(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Runs an instant PromQL query now; its series (a scalar result is one series with no labels). */
  @SuppressWarnings("unchecked")
  public List<Sample> query(String promql) {
    Map<String, Object> data = (Map<String, Object>) api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    List<Sample> out = new ArrayList<>();
    Object result = data.get("result");
    if ("scalar".equals(data.get("resultType"))) {
      out.add(new Sample(Map.of(), Double.parseDouble(String.valueOf(((List<Object>) result).get(1)))));
      return out;
    }
    for (Map<String, Object> series : (List<Map<String, Object>>) result) {
      List<Object> value = (List<Object>) series.get("value");
      out.add(new Sample(Map.copyOf((Map<String, String>) series.get("metric")), Double.parseDouble(String.valueOf(value.get(1)))));
    }
    return out;
  }

  /** Waits until every target was scraped successfully at least {@code n} times since the server started. */
  public void awaitScrapes(int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Sample> up = query("count_over_time(up[1h])");
      List<Sample> down = query("up == 0");
      if (!up.isEmpty() && down.isEmpty() && up.stream().allMatch(s -> s.value() >= n)) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("targets not scraped " + n + " times within " + timeout + ": up " + up
            + ", down " + down + System.lineSeparator() + tail());
      }
      try {
        process.waitFor(200, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
  }

  /** The end of the server's log, for failure messages. */
  public String tail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join(System.lineSeparator(), lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops the server and deletes its data. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> files = Files.walk(dir.resolve("data"))) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // left for mvn clean
    }
  }

  // ---------------------------------------------------------------- finding the binary

  /** $PROMETHEUS_BIN, PATH, .tools/prometheus/usr/bin/prometheus, else {@code scripts/prometheus.sh install}. */
  public static Path findBinary() {
    return ServerBinaries.find("prometheus", "PROMETHEUS_BIN", "prometheus", "prometheus.sh");
  }

  /** The nearest directory at or above the working directory that holds {@code .ci/} or {@code mvnw}. */
  public static Path repositoryRoot() {
    return ServerBinaries.repositoryRoot();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static java.io.File nullFile() {
    return new java.io.File(System.getProperty("os.name").startsWith("Windows") ? "NUL" : "/dev/null");
  }
}
