package io.meshup.http.internal;

import io.meshup.core.Mesh;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.ServiceRouter;
import io.meshup.http.MeshNoRouteException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a {@code MeshHttpClient} holds: the mesh, a router per destination (resolved once), and the
 * {@link HttpClient}s attempts are sent with, either the one the application passed or one of its
 * own per connect timeout. Thread-safe.
 */
public final class HttpTransport {
  private static final Duration NO_CONNECT_TIMEOUT = Duration.ZERO;

  private final Mesh mesh;
  private final HttpClient given;
  private final Map<Duration, HttpClient> owned = new ConcurrentHashMap<>();
  private final Map<String, ServiceRouter> routers = new ConcurrentHashMap<>();

  /**
   * @param httpClient the client to send every attempt with, or null to create clients per
   *     destination connect timeout
   */
  public HttpTransport(Mesh mesh, HttpClient httpClient) {
    this.mesh = mesh;
    this.given = httpClient;
  }

  Mesh mesh() {
    return mesh;
  }

  /** Routes and sends one request without blocking; see {@code MeshHttpClient#sendAsync}. */
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    Exchange<T> exchange = exchange(request, handler);
    RouteTarget target = router(exchange.service()).select(exchange);
    if (target == null) {
      return CompletableFuture.failedFuture(noRoute(exchange));
    }
    return exchange.sendAsync(target);
  }

  /** Routes and sends one request on this thread; see {@code MeshHttpClient#send}. */
  public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    Exchange<T> exchange = exchange(request, handler);
    RouteTarget target = router(exchange.service()).select(exchange);
    if (target == null) {
      throw noRoute(exchange);
    }
    return exchange.send(target);
  }

  private <T> Exchange<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(handler, "handler");
    return new Exchange<>(this, request, handler);
  }

  private static MeshNoRouteException noRoute(Exchange<?> exchange) {
    return new MeshNoRouteException(exchange.service(), exchange.method(), exchange.path());
  }

  private ServiceRouter router(String service) {
    ServiceRouter r = routers.get(service);
    return r != null ? r : routers.computeIfAbsent(service, mesh::router);
  }

  /** The client for an attempt to a destination with these connection settings. */
  HttpClient client(ConnectionSettings settings) {
    if (given != null) {
      return given;
    }
    Duration connect = settings.connectTimeout() != null ? settings.connectTimeout() : NO_CONNECT_TIMEOUT;
    HttpClient c = owned.get(connect);
    return c != null ? c : owned.computeIfAbsent(connect, HttpTransport::newClient);
  }

  private static HttpClient newClient(Duration connectTimeout) {
    // HTTP/1.1: endpoints are plaintext, and an h2c upgrade attempt on every new connection buys
    // nothing from most servers. Redirects are the caller's business: following one could leave the mesh.
    HttpClient.Builder b = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER);
    if (!connectTimeout.isZero()) {
      b.connectTimeout(connectTimeout);
    }
    return b.build();
  }

  /** The service a mesh URI names, or an {@link IllegalArgumentException} saying what is wrong with it. */
  static String serviceOf(URI uri) {
    String scheme = uri.getScheme();
    if (scheme == null || !scheme.equalsIgnoreCase("http")) {
      throw new IllegalArgumentException("meshup: " + uri + ": only http://<service>/... URIs are routed"
          + " (endpoints are reached in plaintext; the scheme was " + scheme + ")");
    }
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("meshup: " + uri + " names no service; write the destination"
          + " service as the host, for example http://payments/charges/42");
    }
    if (uri.getPort() != -1) {
      throw new IllegalArgumentException("meshup: " + uri + ": drop the port " + uri.getPort()
          + "; the host names service '" + host + "' and each endpoint's port comes from the registry");
    }
    return host;
  }

  @Override
  public String toString() {
    return "mesh " + mesh.serviceName() + (given != null ? ", " + given : "");
  }
}
