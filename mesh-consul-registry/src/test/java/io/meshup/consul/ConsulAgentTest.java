package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.consul.testing.ConsulAgent;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Smoke test of the real Consul agent the tests run against: KV round trip, stop, restart. */
class ConsulAgentTest {

  @RegisterExtension static ConsulAgent consul = new ConsulAgent();

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(2))
          .build();

  @Test
  void kvRoundTripStopAndRestartOnTheSamePort() throws Exception {
    String address = consul.httpAddress();
    assertThat(address).matches("127\\.0\\.0\\.1:\\d+");

    assertThat(put("/v1/kv/meshup/smoke", "hello")).isEqualTo("true");
    assertThat(get("/v1/kv/meshup/smoke?raw").body()).isEqualTo("hello");

    consul.stop();
    assertThat(consul.isRunning()).isFalse();
    assertThatThrownBy(() -> connect(consul.httpPort())).isInstanceOf(ConnectException.class);

    consul.restart();
    assertThat(consul.httpAddress()).isEqualTo(address);
    HttpResponse<String> leader = get("/v1/status/leader");
    assertThat(leader.statusCode()).isEqualTo(200);
    assertThat(leader.body().trim()).matches("\"127\\.0\\.0\\.1:\\d+\"");
    // -dev keeps state in memory only: the restarted agent starts empty, and its API works.
    assertThat(get("/v1/kv/meshup/smoke?raw").statusCode()).isEqualTo(404);
    assertThat(put("/v1/kv/meshup/smoke", "again")).isEqualTo("true");
    assertThat(get("/v1/kv/meshup/smoke?raw").body()).isEqualTo("again");
  }

  private String put(String path, String body) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(uri(path))
        .timeout(Duration.ofSeconds(5))
        .PUT(HttpRequest.BodyPublishers.ofString(body))
        .build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as("PUT %s: %s", path, response.body()).isEqualTo(200);
    return response.body().trim();
  }

  private HttpResponse<String> get(String path) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(5)).GET().build();
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  private static URI uri(String path) {
    return consul.httpUri().resolve(path);
  }

  private static void connect(int port) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
    }
  }
}
