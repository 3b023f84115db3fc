package io.meshup.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.core.Mesh;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** The shared tests through {@link MeshHttpClient#sendAsync}, plus its own. */
class MeshHttpClientAsyncTest extends MeshHttpClientContract {
  static final int IN_FLIGHT = 32;

  @Override
  HttpResponse<String> send(MeshHttpClient client, HttpRequest request) throws IOException, InterruptedException {
    try {
      return client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException) {
        throw (IOException) cause;
      }
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      throw new AssertionError(cause);
    }
  }

  /** Keeps {@value #IN_FLIGHT} requests in flight at a time. */
  @Override
  Map<String, Integer> send(MeshHttpClient client, HttpRequest request, int n) throws Exception {
    Map<String, Integer> byInstance = new HashMap<>();
    for (int sent = 0; sent < n; ) {
      List<CompletableFuture<HttpResponse<String>>> window = new ArrayList<>();
      for (int i = 0; i < IN_FLIGHT && sent < n; i++, sent++) {
        window.add(client.sendAsync(request, HttpResponse.BodyHandlers.ofString()));
      }
      for (CompletableFuture<HttpResponse<String>> f : window) {
        HttpResponse<String> r = f.get();
        assertThat(r.statusCode()).isEqualTo(200);
        byInstance.merge(r.body(), 1, Integer::sum);
      }
    }
    return byInstance;
  }

  @Test
  void cancellingTheFutureCancelsTheAttemptAndCountsItCancelled() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    v2.hold.set(hold);
    Mesh mesh = mesh(PREDICTABLE + split(0, 100, ""));
    CompletableFuture<HttpResponse<String>> f =
        MeshHttp.client(mesh).sendAsync(get("http://payments/charges/42"), HttpResponse.BodyHandlers.ofString());
    assertThat(f).as("sendAsync does not wait for the answer").isNotDone();
    await().until(() -> v2.calls.get() == 1);
    f.cancel(true);
    await().untilAsserted(() -> assertThat(count(mesh, "mesh.client.requests", "outcome", "cancelled")).isEqualTo(1));
    hold.countDown();
  }
}
