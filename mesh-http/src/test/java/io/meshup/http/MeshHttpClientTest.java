package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.core.Mesh;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The shared tests through the blocking {@link MeshHttpClient#send}, plus its own. */
class MeshHttpClientTest extends MeshHttpClientContract {
  @Override
  HttpResponse<String> send(MeshHttpClient client, HttpRequest request) throws IOException, InterruptedException {
    return client.send(request, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void interruptingSendCancelsTheAttemptAndCountsItCancelled() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    v2.hold.set(hold);
    Mesh mesh = mesh(PREDICTABLE + split(0, 100, ""));
    MeshHttpClient client = MeshHttp.client(mesh);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread caller = new Thread(() -> {
      try {
        send(client, get("http://payments/charges/42"));
      } catch (Throwable t) {
        thrown.set(t);
      }
    });
    caller.start();
    await().until(() -> v2.calls.get() == 1);
    caller.interrupt();
    caller.join();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(count(mesh, "mesh.client.requests", "outcome", "cancelled")).isEqualTo(1);
    hold.countDown();
  }

  @Test
  void streamingBodyHandedOverIsLeftAloneByTheDeadline() throws Exception {
    CountDownLatch rest = new CountDownLatch(1);
    v1a.holdBody.set(rest);
    v1b.holdBody.set(rest);
    Mesh mesh = mesh(PREDICTABLE + split(100, 0, "timeout: 10s"));
    HttpResponse<InputStream> r = MeshHttp.client(mesh).send(get("http://payments/charges/42"), HttpResponse.BodyHandlers.ofInputStream());
    rest.countDown();
    try (InputStream in = r.body()) {
      assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).as("the body ends after send returned").isIn("v1a", "v1b");
    }
  }
}
