package io.meshup.http;

import io.meshup.http.internal.HttpTransport;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;

/**
 * Sends {@code java.net.http} requests to logical services through the mesh. A request's URI
 * names the destination service as its host and has no port: {@code http://payments/charges/42}.
 * Each request is matched by path, method and headers against the service's VirtualService, sent
 * to a weighted subset through its circuit breaker and load balancer, rewritten to the picked
 * endpoint ({@code http://10.0.0.7:9001/charges/42}, path and query kept; {@code https} with mutual
 * TLS, see {@link MeshHttp#client(io.meshup.core.Mesh)}), bounded by the route
 * timeout (or the request's own {@link HttpRequest#timeout()} when earlier), and retried per the
 * route's policy within the destination's retry budget. The outcome of every attempt feeds the
 * breaker, the balancer, outlier detection and the {@code mesh.client.requests} timer.
 *
 * <p>Only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) are retried once a request
 * was sent; any request that failed to connect is replayed on another endpoint. Replays re-subscribe
 * the request's {@code BodyPublisher}: those of {@code HttpRequest.BodyPublishers} allow it.
 *
 * <p>Failures: {@link MeshUnavailableException} when the destination refuses before any endpoint
 * is tried (circuit open, concurrency limit, no endpoint), {@link MeshNoRouteException} when no
 * route matches, {@link java.net.http.HttpTimeoutException} when the route timeout or a per-try
 * timeout ends it, and the JDK's own {@code IOException}s (connection refused, reset...) when the
 * last attempt failed so. A response with any status, 5xx included, is returned, not thrown. A
 * route's injected abort returns a response with the configured status that never left the
 * process (see mesh-http's README).
 *
 * <p>Thread-safe; share one per application. {@link #sendAsync} never blocks: backoffs and injected
 * delays run on the mesh's scheduler.
 */
public final class MeshHttpClient {
  private final HttpTransport transport;

  MeshHttpClient(HttpTransport transport) {
    this.transport = transport;
  }

  /**
   * Sends a request and waits for its response, as {@link java.net.http.HttpClient#send}. Attempts
   * run on the calling thread (with the JDK client's blocking {@code send}), and so do backoffs.
   *
   * @throws IOException as described in the class documentation
   * @throws InterruptedException when interrupted while waiting; the request is then cancelled
   * @throws IllegalArgumentException when the URI is not {@code http://<service>/...} or the
   *     mesh's registry cannot have the service
   */
  public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    return transport.send(request, handler);
  }

  /**
   * Sends a request asynchronously, as {@link java.net.http.HttpClient#sendAsync}. The future
   * fails with the exceptions {@link #send} throws; cancelling it cancels the attempt in flight.
   *
   * @throws IllegalArgumentException when the URI is not {@code http://<service>/...} or the
   *     mesh's registry cannot have the service
   */
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    return transport.sendAsync(request, handler);
  }

  @Override
  public String toString() {
    return "MeshHttpClient[" + transport + "]";
  }
}
