package io.meshup.core.internal.jwt;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.JSONObjectUtils;
import io.meshup.core.MeshClock;
import io.meshup.core.internal.routing.Metrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JSON Web Key Sets of RequestAuthentication {@code jwksUri}s (and those found by OpenID
 * Connect Discovery from an issuer), fetched off the request path, cached and refreshed: every
 * {@link #DEFAULT_REFRESH} (Istio's default), sooner when a token names a key the set lacks (at
 * most once per {@link #MIN_REFETCH}), and retried with backoff after a failure while the last good
 * set keeps serving. A set never fetched leaves its tokens refused (fail closed). Thread-safe.
 */
public final class JwksCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JwksCache.class);
  /** How often a key set is fetched again: 20 minutes, as istiod's {@code PILOT_JWT_PUB_KEY_REFRESH_INTERVAL}. */
  public static final Duration DEFAULT_REFRESH = Duration.ofMinutes(20);
  /** The shortest time between two fetches of one set asked by unknown keys. */
  static final Duration MIN_REFETCH = Duration.ofSeconds(30);
  private static final Duration FIRST_RETRY = Duration.ofSeconds(1);

  /** Fetches the text at a URL; the default uses {@link HttpClient}. Implementations must not block the caller. */
  public interface Fetcher {
    CompletableFuture<String> fetch(URI uri, Duration timeout);
  }

  private final Fetcher fetcher;
  private final ScheduledExecutorService scheduler;
  private final MeshClock clock;
  private final Duration refresh;
  private final Counter fetched;
  private final Counter failed;
  private final Map<String, Remote> remotes = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public JwksCache(Fetcher fetcher, ScheduledExecutorService scheduler, MeshClock clock, Duration refresh,
      MeterRegistry meters) {
    this.fetcher = fetcher != null ? fetcher : new HttpFetcher();
    this.scheduler = scheduler;
    this.clock = clock;
    this.refresh = refresh;
    this.fetched = counter(meters, "success");
    this.failed = counter(meters, "failure");
  }

  private static Counter counter(MeterRegistry meters, String result) {
    return Counter.builder(Metrics.JWKS_FETCHES).description("Fetches of JSON Web Key Sets for RequestAuthentication")
        .baseUnit("fetches").tag("result", result).register(meters);
  }

  /** The source of the key set at {@code uri}, fetched now if it is new. */
  public KeySource uri(String uri, Duration timeout) {
    return remotes.computeIfAbsent("uri " + uri, k -> new Remote(URI.create(uri), false, timeout).start());
  }

  /**
   * The source of the key set of {@code issuer} by OpenID Connect Discovery
   * ({@code <issuer>/.well-known/openid-configuration}, then its {@code jwks_uri}); one that never
   * has keys when the issuer is not an http(s) URL.
   */
  public KeySource discovered(String issuer, Duration timeout) {
    if (!(issuer.startsWith("https://") || issuer.startsWith("http://"))) {
      return KeySource.none("issuer '" + issuer + "' is not a URL, so its keys cannot be discovered (set jwksUri or jwks)");
    }
    String base = issuer.endsWith("/") ? issuer.substring(0, issuer.length() - 1) : issuer;
    return remotes.computeIfAbsent("issuer " + issuer,
        k -> new Remote(URI.create(base + "/.well-known/openid-configuration"), true, timeout).start());
  }

  /** Stops refreshing the sets no policy in force uses any more; {@code inUse} are the sources compiled last. */
  public void retain(Set<KeySource> inUse) {
    remotes.values().removeIf(r -> {
      if (inUse.contains(r)) {
        return false;
      }
      r.stop();
      return true;
    });
  }

  @Override
  public void close() {
    closed = true;
    remotes.values().forEach(Remote::stop);
    remotes.clear();
  }

  /** One fetched set. */
  private final class Remote implements KeySource {
    private final URI uri;
    private final boolean discovery;
    private final Duration timeout;
    private volatile JWKSet keys;
    private volatile String reason = "the key set has not been fetched yet";
    private volatile long lastFetchNanos = Long.MIN_VALUE / 2;
    private volatile boolean inFlight;
    private volatile ScheduledFuture<?> next;
    private volatile boolean stopped;
    private Duration backoff = FIRST_RETRY;

    Remote(URI uri, boolean discovery, Duration timeout) {
      this.uri = uri;
      this.discovery = discovery;
      this.timeout = timeout;
    }

    Remote start() {
      fetchNow();
      return this;
    }

    @Override
    public JWKSet keys() {
      return keys;
    }

    @Override
    public String unavailableReason() {
      return reason;
    }

    @Override
    public void refreshSoon() {
      if (clock.nanoTime() - lastFetchNanos >= MIN_REFETCH.toNanos()) {
        fetchNow();
      }
    }

    void stop() {
      stopped = true;
      ScheduledFuture<?> n = next;
      if (n != null) {
        n.cancel(false);
      }
    }

    private synchronized void fetchNow() {
      if (inFlight || stopped || closed) {
        return;
      }
      inFlight = true;
      lastFetchNanos = clock.nanoTime();
      CompletableFuture<String> text;
      try {
        text = discovery ? fetcher.fetch(uri, timeout).thenCompose(this::jwksOfDiscovery) : fetcher.fetch(uri, timeout);
      } catch (RuntimeException e) {
        text = CompletableFuture.failedFuture(e);
      }
      text.whenComplete((body, error) -> done(body, error));
    }

    private CompletableFuture<String> jwksOfDiscovery(String json) {
      Object jwksUri;
      try {
        jwksUri = JSONObjectUtils.parse(json).get("jwks_uri");
      } catch (java.text.ParseException e) {
        return CompletableFuture.failedFuture(new IOException("the OpenID configuration at " + uri + " is not JSON"));
      }
      if (!(jwksUri instanceof String s) || !(s.startsWith("https://") || s.startsWith("http://"))) {
        return CompletableFuture.failedFuture(new IOException("the OpenID configuration at " + uri + " has no http(s) jwks_uri"));
      }
      return fetcher.fetch(URI.create(s), timeout);
    }

    private void done(String body, Throwable error) {
      long delayNanos;
      synchronized (this) {
        inFlight = false;
        if (error == null) {
          try {
            keys = KeySets.parse(body);
            reason = "";
            backoff = FIRST_RETRY;
            fetched.increment();
            delayNanos = refresh.toNanos();
          } catch (IllegalArgumentException e) {
            error = e;
            delayNanos = 0;
          }
        } else {
          delayNanos = 0;
        }
        if (error != null) {
          failed.increment();
          Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
          reason = "the key set at " + uri + " could not be read (" + cause.getMessage() + ")";
          log.warn("RequestAuthentication: {}; {}", reason, keys == null
              ? "tokens of this issuer are refused until it is read" : "the last key set read keeps serving");
          delayNanos = Math.min(backoff.toNanos(), refresh.toNanos());
          backoff = backoff.multipliedBy(2);
        }
      }
      if (!stopped && !closed) {
        try {
          next = scheduler.schedule(this::fetchNow, delayNanos, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // the mesh is closing
        }
      }
    }
  }

  /** Fetches with the JDK's HTTP client, reading at most {@link KeySets#MAX_CHARS} bytes. */
  static final class HttpFetcher implements Fetcher {
    private volatile HttpClient client;

    private HttpClient client() {
      HttpClient c = client;
      if (c == null) {
        synchronized (this) {
          if (client == null) {
            client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
          }
          c = client;
        }
      }
      return c;
    }

    @Override
    public CompletableFuture<String> fetch(URI uri, Duration timeout) {
      HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).header("Accept", "application/json").GET().build();
      return client().sendAsync(request, HttpResponse.BodyHandlers.ofInputStream()).thenApply(r -> {
        try (InputStream in = r.body()) {
          if (r.statusCode() != 200) {
            throw new java.io.UncheckedIOException(new IOException("HTTP " + r.statusCode()));
          }
          byte[] bytes = in.readNBytes(KeySets.MAX_CHARS + 1);
          if (bytes.length > KeySets.MAX_CHARS) {
            throw new java.io.UncheckedIOException(new IOException("the answer is longer than " + KeySets.MAX_CHARS + " bytes"));
          }
          return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
    }
  }
}
