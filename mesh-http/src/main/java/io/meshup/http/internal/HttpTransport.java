package io.meshup.http.internal;

import io.meshup.core.Mesh;
import io.meshup.core.internal.tls.JdkTlsContexts;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.spi.CertificateSource;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * What a {@code MeshHttpClient} holds: the mesh, a router per destination (resolved once), and the
 * {@link HttpClient}s attempts are sent with: the one the application passed, or its own. Its own
 * are one per connect timeout in plaintext; with mutual TLS one per destination service and
 * connect timeout, because each verifies that the server is that service. Whether a destination
 * is reached with mutual TLS is decided per attempt from its DestinationRule's
 * {@code trafficPolicy.tls.mode} (by default: when the mesh has certificates), so a policy update
 * applies to the next attempt; plaintext and TLS attempts use different clients, hence different
 * connections. Thread-safe.
 *
 * <p>JDK 17's {@code HttpClient} has no {@code close()}: a client's selector thread ends once the
 * client is unreachable, so these clients end with the {@code MeshHttpClient} that holds them.
 */
public final class HttpTransport {
  private static final Duration NO_CONNECT_TIMEOUT = Duration.ZERO;

  private final Mesh mesh;
  private final HttpClient given;
  /** This workload's certificates, or null when the mesh has none (every attempt in plaintext). */
  private final CertificateSource certificates;
  private final Map<Duration, HttpClient> owned = new ConcurrentHashMap<>();
  private final Map<Duration, HttpClient> ownedH2 = new ConcurrentHashMap<>();
  private final Map<String, TlsClients> tlsClients = new ConcurrentHashMap<>();
  private final long idleNanos;
  private volatile long lastSweep;

  /**
   * @param httpClient the client to send every attempt with, or null to create clients per
   *     destination connect timeout (and per destination service with mutual TLS)
   * @throws IllegalArgumentException when a client is given but the mesh has certificates: that
   *     client could not present them nor verify the server's SPIFFE ID
   */
  public HttpTransport(Mesh mesh, HttpClient httpClient) {
    this.mesh = mesh;
    this.given = httpClient;
    this.certificates = mesh.certificates().orElse(null);
    this.idleNanos = mesh.idleTimeout().toNanos();
    if (httpClient != null && certificates != null) {
      throw new IllegalArgumentException("meshup: mesh " + mesh.serviceName() + " has certificates (mutual TLS), so"
          + " MeshHttp.client(mesh, httpClient) cannot be used: the given HttpClient would neither present this"
          + " workload's certificate nor verify each server's SPIFFE ID; use MeshHttp.client(mesh)");
    }
  }

  /**
   * Whether attempts to a destination with these settings use mutual TLS: its DestinationRule's
   * {@code trafficPolicy.tls.mode}, or by default whether the mesh has certificates.
   */
  boolean usesTls(ConnectionSettings settings) {
    return settings.tls().usesTls(certificates != null);
  }

  /**
   * Why attempts to a destination with these settings cannot be made, or null when they can: its
   * DestinationRule asks for mutual TLS and the mesh has no certificates.
   */
  String cannotSend(ConnectionSettings settings) {
    return certificates == null && usesTls(settings)
        ? "the DestinationRule sets trafficPolicy.tls.mode ISTIO_MUTUAL but this mesh has no certificates"
            + " (set mesh.tls.certificates)"
        : null;
  }

  /** {@code https://} when attempts with these settings use TLS (the mesh's, or originated), else {@code http://}. */
  String scheme(ConnectionSettings settings) {
    return usesTls(settings) || settings.origination() != null ? "https://" : "http://";
  }

  Mesh mesh() {
    return mesh;
  }

  /** Routes and sends one request without blocking; see {@code MeshHttpClient#sendAsync}. */
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    Exchange<T> exchange;
    try {
      exchange = exchange(request, handler, false);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
    return exchange.sendAsync();
  }

  /** Routes and sends one request on this thread; see {@code MeshHttpClient#send}. */
  public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    return exchange(request, handler, true).send();
  }

  private <T> Exchange<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler, boolean blocking)
      throws IOException {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(handler, "handler");
    String service = serviceOf(request.uri());
    try {
      return new Exchange<>(this, service, request, handler, blocking);
    } catch (IllegalStateException e) {
      if (mesh.callEngine().isShutdown()) {
        throw new IOException("meshup: the mesh is shut down; request to " + service + " not sent", e);
      }
      throw e;
    }
  }

  /**
   * The router of a destination. Not cached here: the mesh holds one per destination in use and
   * releases it when idle, so a client calling many names holds nothing for them.
   */
  ServiceRouter router(String service) {
    return mesh.router(service);
  }

  /**
   * The client for an attempt to {@code service} with these connection settings: with mutual TLS
   * or not per {@link #usesTls}. Call only when {@link #cannotSend} is null.
   */
  HttpClient client(String service, ConnectionSettings settings) {
    if (given != null) {
      return given;
    }
    Duration connect = settings.connectTimeout() != null ? settings.connectTimeout() : NO_CONNECT_TIMEOUT;
    if (settings.origination() != null && !usesTls(settings)) {
      return originating.computeIfAbsent(List.of(settings.origination(), service, connect), k -> {
        io.meshup.core.internal.tls.OriginationTls o = io.meshup.core.internal.tls.OriginationTls.load(
            settings.origination(), service);
        SSLContext context = o.jdkContext();
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2)
            .followRedirects(HttpClient.Redirect.NEVER).sslContext(context).sslParameters(o.jdkParameters(context));
        if (!connect.isZero()) {
          b.connectTimeout(connect);
        }
        return b.build();
      });
    }
    if (certificates != null && usesTls(settings)) {
      long now = mesh.clock().nanoTime();
      TlsClients t = tlsClients.get(service);
      if (t == null) {
        sweep(now);
        t = tlsClients.computeIfAbsent(service, this::newTlsClients);
      }
      t.lastUsed = now;
      return t.client(connect);
    }
    Map<Duration, HttpClient> clients = settings.h2Upgrade() ? ownedH2 : owned;
    HttpClient c = clients.get(connect);
    return c != null ? c : clients.computeIfAbsent(connect, timeout -> newClient(timeout, null, settings.h2Upgrade()));
  }

  /**
   * Drops the TLS clients of destinations no attempt used for the mesh's idle timeout (each JDK
   * client holds a selector thread), at most once per second of sweeping.
   */
  private void sweep(long now) {
    if (idleNanos <= 0 || now - lastSweep < 1_000_000_000L) {
      return;
    }
    lastSweep = now;
    tlsClients.entrySet().removeIf(e -> {
      if (now - e.getValue().lastUsed > idleNanos) {
        e.getValue().close();
        return true;
      }
      return false;
    });
  }

  private TlsClients newTlsClients(String service) {
    return new TlsClients(new NoResumptionSslContext(
        JdkTlsContexts.client(certificates, mesh.clock(), service, mesh.meterRegistry())));
  }

  /**
   * @param tls the TLS context for mutual TLS to one destination service, or null for plaintext
   */
  private static HttpClient newClient(Duration connectTimeout, SSLContext tls, boolean h2Upgrade) {
    // With TLS, HTTP/2 when the server offers it by ALPN, else HTTP/1.1. In plaintext HTTP/1.1
    // unless the DestinationRule says h2UpgradePolicy: UPGRADE: an h2c upgrade attempt on every new
    // connection buys nothing from most servers. Redirects are the caller's business: following one
    // could leave the mesh.
    HttpClient.Builder b = HttpClient.newBuilder()
        .version(tls != null || h2Upgrade ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER);
    if (!connectTimeout.isZero()) {
      b.connectTimeout(connectTimeout);
    }
    if (tls != null) {
      // The JDK client asks for endpoint identification ("HTTPS") on every engine, whatever these
      // parameters say; MeshTrustManager is an X509ExtendedTrustManager, and the JDK leaves the
      // host name check to such a trust manager, which checks the SPIFFE ID instead. No global
      // property (jdk.internal.httpclient.disableHostnameVerification) is needed.
      SSLParameters params = tls.getDefaultSSLParameters();
      params.setEndpointIdentificationAlgorithm(null);
      b.sslContext(tls).sslParameters(params);
    }
    return b.build();
  }

  /** Clients that originate TLS to destinations outside the mesh, by TLS settings, destination and connect timeout. */
  private final Map<List<Object>, HttpClient> originating = new ConcurrentHashMap<>();

  /** The clients to one destination service over mutual TLS: one TLS context, a client per connect timeout. */
  private static final class TlsClients {
    private final SSLContext context;
    private final Map<Duration, HttpClient> byConnectTimeout = new ConcurrentHashMap<>(2);
    volatile long lastUsed;

    TlsClients(SSLContext context) {
      this.context = context;
    }

    HttpClient client(Duration connectTimeout) {
      HttpClient c = byConnectTimeout.get(connectTimeout);
      return c != null ? c : byConnectTimeout.computeIfAbsent(connectTimeout, t -> newClient(t, context, false));
    }

    /** Closes the clients where the JDK can (21 and later); on 17 they end once unreachable. */
    void close() {
      for (HttpClient c : byConnectTimeout.values()) {
        if (c instanceof AutoCloseable closeable) {
          try {
            closeable.close();
          } catch (Exception e) {
            // nothing to do: the client is dropped either way
          }
        }
      }
    }
  }

  /** The service a mesh URI names, or an {@link IllegalArgumentException} saying what is wrong with it. */
  static String serviceOf(URI uri) {
    String scheme = uri.getScheme();
    if (scheme == null || !scheme.equalsIgnoreCase("http")) {
      throw new IllegalArgumentException("meshup: " + uri + ": only http://<service>/... URIs are routed"
          + " (the mesh itself chooses plaintext or mutual TLS to each endpoint; the scheme was " + scheme + ")");
    }
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("meshup: " + uri + " names no service; write the destination"
          + " service as the host, for example http://payments/charges/42");
    }
    return host;
  }

  @Override
  public String toString() {
    return "mesh " + mesh.serviceName() + (certificates != null ? ", with certificates" : "") + (given != null ? ", " + given : "");
  }
}
