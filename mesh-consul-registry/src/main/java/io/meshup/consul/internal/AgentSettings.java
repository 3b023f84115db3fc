package io.meshup.consul.internal;

import io.meshup.core.spi.Settings;
import java.net.URI;
import java.util.function.Function;

/**
 * How to reach a Consul agent: the {@code address}, {@code token} and {@code tls} keys, read the
 * same way in {@code mesh.registry.consul} and {@code mesh.tls.consul-connect}. The address falls
 * back to {@code CONSUL_HTTP_ADDR}, then {@code 127.0.0.1:8500}; the token to
 * {@code CONSUL_HTTP_TOKEN}.
 *
 * @param scheme {@code http} or {@code https}
 * @param host agent host
 * @param port agent HTTP(S) port
 * @param token ACL token, or empty
 * @param tls key and trust stores for HTTPS to the agent, or null
 */
public record AgentSettings(String scheme, String host, int port, String token, ConsulSettings.Tls tls) {
  /** Reads {@code address}, {@code token} and {@code tls} of {@code s}; the caller checks the other keys. */
  public static AgentSettings read(Settings s, Function<String, String> env) {
    String fallbackAddress = env.apply("CONSUL_HTTP_ADDR");
    String address = s.string("address", fallbackAddress == null || fallbackAddress.isBlank() ? "127.0.0.1:8500" : fallbackAddress).trim();
    if (!address.contains("://")) {
      address = "http://" + address;
    }
    URI uri;
    try {
      uri = URI.create(address);
    } catch (IllegalArgumentException e) {
      throw s.error("address", "'" + address + "' is not an address; expected host:port or http(s)://host:port");
    }
    if (uri.getHost() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
      throw s.error("address", "'" + address + "' is not an address; expected host:port or http(s)://host:port");
    }
    int port = uri.getPort() > 0 ? uri.getPort() : (uri.getScheme().equals("https") ? 8501 : 8500);
    String token = s.string("token", "");
    if (token.isBlank()) {
      String t = env.apply("CONSUL_HTTP_TOKEN");
      token = t == null ? "" : t.trim();
    }
    ConsulSettings.Tls tls = null;
    if (s.has("tls")) {
      Settings t = s.section("tls");
      t.allowOnly("trustStore", "trustStorePassword", "keyStore", "keyStorePassword", "storeType");
      tls = new ConsulSettings.Tls(t.string("trustStore", null), t.string("trustStorePassword", ""), t.string("keyStore", null),
          t.string("keyStorePassword", ""), t.string("storeType", "PKCS12"));
    }
    return new AgentSettings(uri.getScheme(), uri.getHost(), port, token, tls);
  }

  /** The settings with the token left out, so that no log line or message can carry it. */
  @Override
  public String toString() {
    return "AgentSettings[" + url() + ", token " + (token.isEmpty() ? "none" : "set (not shown)") + ", tls " + (tls != null) + "]";
  }

  /** The agent's base URL, such as {@code http://127.0.0.1:8500}, for messages. */
  public String url() {
    return scheme + "://" + host + ":" + port;
  }
}
