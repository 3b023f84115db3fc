package io.meshup.jmh;

import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost MeshUp's HTTP client adds to a request: the same GET to the same loopback JDK
 * HttpServer, through a plain {@link HttpClient} (the baseline) and through {@link MeshHttpClient}
 * (one endpoint, a VirtualService with one route), in the same run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-Dsun.net.httpserver.nodelay=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class HttpClientOverheadBenchmark {
  static final String VS = """
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: payments }
      spec:
        hosts: [payments]
        http: [{ name: all, route: [{ destination: { host: payments } }] }]
      """;

  HttpServer server;
  ExecutorService serverPool;
  Mesh mesh;
  HttpClient plain;
  MeshHttpClient meshed;
  HttpRequest direct;
  HttpRequest routed;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    serverPool = Executors.newFixedThreadPool(2);
    server.setExecutor(serverPool);
    byte[] ok = "ok".getBytes(StandardCharsets.UTF_8);
    server.createContext("/", ex -> {
      try (ex) {
        ex.getRequestBody().readAllBytes();
        ex.sendResponseHeaders(200, ok.length);
        ex.getResponseBody().write(ok);
      }
    });
    server.start();
    int port = server.getAddress().getPort();
    mesh = Mesh.builder().service("bench")
        .endpoints("payments", List.of(Endpoint.of("127.0.0.1", port, Map.of()))).policies("bench", VS).build();
    plain = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    meshed = MeshHttp.client(mesh);
    direct = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/charges/42")).build();
    routed = HttpRequest.newBuilder(URI.create("http://payments/charges/42")).build();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    mesh.close();
    server.stop(0);
    serverPool.shutdownNow();
  }

  @Benchmark
  public HttpResponse<String> plainSend() throws Exception {
    return plain.send(direct, HttpResponse.BodyHandlers.ofString());
  }

  @Benchmark
  public HttpResponse<String> meshSend() throws Exception {
    return meshed.send(routed, HttpResponse.BodyHandlers.ofString());
  }
}
