package io.meshup.consul.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.impl.client.CloseableHttpClient;
import org.junit.jupiter.api.Test;

/** The ACL token goes in a header only: never in a URL, never in a settings' text. */
class SecretsTest {
  @Test
  void aRequestWhoseUrlCarriesATokenIsNeverSent() throws Exception {
    try (CloseableHttpClient http = ConsulHttp.client(null, Duration.ofSeconds(1), "mesh.registry.consul")) {
      assertThatThrownBy(() -> http.execute(new HttpGet("http://127.0.0.1:1/v1/kv/x?recurse&token=s3cr3t")))
          .hasRootCauseMessage("meshup: refusing to send a Consul ACL token in a URL (/v1/kv/x); it goes in the X-Consul-Token header");
    }
  }

  @Test
  void settingsNeverShowTheTokenOrPasswords() {
    ConsulSettings s = new ConsulSettings("http", "127.0.0.1", 8500, "s3cr3t-token", "", Duration.ofSeconds(5),
        new ConsulSettings.Tls("t.p12", "pw1", "k.p12", "pw2", "PKCS12"), null, "meshup/", true, true,
        ConsulSettings.Consistency.STALE, Duration.ofSeconds(5), false, Duration.ofSeconds(5), ConsulSettings.Backoff.DEFAULT);
    assertThat(s.toString()).doesNotContain("s3cr3t").doesNotContain("pw1").doesNotContain("pw2").contains("token set (not shown)");
    AgentSettings a = new AgentSettings("http", "127.0.0.1", 8500, "s3cr3t-token", null);
    assertThat(a.toString()).doesNotContain("s3cr3t");
  }
}
