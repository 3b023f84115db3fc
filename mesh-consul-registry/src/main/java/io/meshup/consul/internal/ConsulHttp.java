package io.meshup.consul.internal;

import io.meshup.core.MeshConfigException;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.socket.PlainConnectionSocketFactory;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClientBuilder;
import org.apache.http.ssl.SSLContextBuilder;

/** The HTTP client every Consul component uses: timeouts fit for blocking queries, HTTPS from the settings. */
final class ConsulHttp {
  private ConsulHttp() {}

  /**
   * Refuses to send a request whose URL carries a {@code token} parameter: the ACL token goes in
   * the {@code X-Consul-Token} header only, and a URL lands in access logs. A guard against a
   * regression; no MeshUp request does it.
   */
  static final org.apache.http.HttpRequestInterceptor NO_TOKEN_IN_URL = (request, context) -> {
    String uri = request.getRequestLine().getUri();
    int q = uri.indexOf('?');
    if (q >= 0 && ("&" + uri.substring(q + 1)).contains("&token=")) {
      throw new org.apache.http.HttpException("meshup: refusing to send a Consul ACL token in a URL ("
          + uri.substring(0, q) + "); it goes in the X-Consul-Token header");
    }
  };

  /** At most this many connections to the agent per client: the blocking queries, the readers, registration. */
  static final int MAX_CONNECTIONS = 16;

  /**
   * A client whose socket timeout outlasts a blocking query of {@code wait} (Consul adds up to
   * wait/16 of jitter); past that the agent hangs. No automatic retries: the watches retry
   * themselves, with backoff.
   *
   * @param section the settings section, such as {@code mesh.registry.consul}, for errors
   * @throws MeshConfigException when a key or trust store cannot be loaded
   */
  static CloseableHttpClient client(ConsulSettings.Tls tls, Duration wait, String section) {
    return pooled(tls, wait, section).http();
  }

  /** A client and its connection pool, for a caller that closes idle connections itself. */
  record Pooled(CloseableHttpClient http, PoolingHttpClientConnectionManager pool) {}

  /**
   * As {@link #client}, with at most {@link #MAX_CONNECTIONS} connections to the agent (Consul's
   * default limit per client address is 200, shared with the application and other processes),
   * kept alive and reused; a connection idle for more than 2 s is checked before it is used again.
   */
  static Pooled pooled(ConsulSettings.Tls tls, Duration wait, String section) {
    long waitMs = wait.toMillis();
    SSLContext ssl = sslContext(tls, section);
    PoolingHttpClientConnectionManager pool = new PoolingHttpClientConnectionManager(
        RegistryBuilder.<ConnectionSocketFactory>create()
            .register("http", PlainConnectionSocketFactory.getSocketFactory())
            .register("https", ssl == null ? SSLConnectionSocketFactory.getSocketFactory() : new SSLConnectionSocketFactory(ssl))
            .build());
    pool.setMaxTotal(MAX_CONNECTIONS);
    pool.setDefaultMaxPerRoute(MAX_CONNECTIONS);
    pool.setValidateAfterInactivity(2_000);
    CloseableHttpClient http = HttpClientBuilder.create()
        .setConnectionManager(pool)
        .setDefaultRequestConfig(RequestConfig.custom()
            .setConnectTimeout(2_000)
            .setConnectionRequestTimeout(2_000)
            .setSocketTimeout((int) Math.min(Integer.MAX_VALUE, waitMs + waitMs / 16 + 5_000))
            .build())
        .disableAutomaticRetries()
        .addInterceptorLast(NO_TOKEN_IN_URL)
        .build();
    return new Pooled(http, pool);
  }

  private static SSLContext sslContext(ConsulSettings.Tls tls, String section) {
    if (tls == null) {
      return null;
    }
    try {
      SSLContextBuilder b = SSLContextBuilder.create();
      if (tls.trustStore() != null) {
        b.loadTrustMaterial(load(tls.trustStore(), tls.trustStorePassword(), tls.storeType()), null);
      }
      if (tls.keyStore() != null) {
        char[] pw = tls.keyStorePassword().toCharArray();
        b.loadKeyMaterial(load(tls.keyStore(), tls.keyStorePassword(), tls.storeType()), pw);
      }
      return b.build();
    } catch (GeneralSecurityException | IOException e) {
      throw new MeshConfigException(section, "tls", "cannot load the key or trust store: " + e.getMessage(), e);
    }
  }

  private static KeyStore load(String path, String password, String type) throws GeneralSecurityException, IOException {
    KeyStore ks = KeyStore.getInstance(Objects.requireNonNull(type));
    try (InputStream in = new FileInputStream(path)) {
      ks.load(in, password.toCharArray());
    }
    return ks;
  }
}
