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
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClientBuilder;
import org.apache.http.ssl.SSLContextBuilder;

/** The HTTP client every Consul component uses: timeouts fit for blocking queries, HTTPS from the settings. */
final class ConsulHttp {
  private ConsulHttp() {}

  /**
   * A client whose socket timeout outlasts a blocking query of {@code wait} (Consul adds up to
   * wait/16 of jitter); past that the agent hangs. No automatic retries: the watches retry
   * themselves, with backoff.
   *
   * @param section the settings section, such as {@code mesh.registry.consul}, for errors
   * @throws MeshConfigException when a key or trust store cannot be loaded
   */
  static CloseableHttpClient client(ConsulSettings.Tls tls, Duration wait, String section) {
    long waitMs = wait.toMillis();
    return HttpClientBuilder.create()
        .setDefaultRequestConfig(RequestConfig.custom()
            .setConnectTimeout(2_000)
            .setConnectionRequestTimeout(2_000)
            .setSocketTimeout((int) Math.min(Integer.MAX_VALUE, waitMs + waitMs / 16 + 5_000))
            .build())
        .disableAutomaticRetries()
        .setMaxConnPerRoute(1_000)
        .setMaxConnTotal(1_000)
        .setSSLContext(sslContext(tls, section))
        .build();
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
