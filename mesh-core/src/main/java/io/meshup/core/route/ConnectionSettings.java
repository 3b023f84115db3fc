package io.meshup.core.route;

import java.time.Duration;

/**
 * Connection settings a transport applies when it opens connections to a destination's endpoints,
 * from the DestinationRule's {@code connectionPool} and {@code tls}. Null members mean the
 * transport's default.
 *
 * @param connectTimeout {@code tcp.connectTimeout}
 * @param idleTimeout {@code http.idleTimeout}: close a connection idle this long
 * @param tcpKeepalive {@code tcp.tcpKeepalive}: TCP keepalive socket options ({@code SO_KEEPALIVE}
 *     and the probe timing), or null for none
 * @param maxRequestsPerConnection {@code http.maxRequestsPerConnection}; 0 for no limit
 * @param tls {@code trafficPolicy.tls.mode}: whether connections use the mesh's mutual TLS; never null
 * @param origination for {@code tls.mode} SIMPLE or MUTUAL, the TLS to originate; null otherwise
 * @param h2Upgrade {@code http.h2UpgradePolicy: UPGRADE}: a plaintext HTTP client asks to upgrade
 *     to HTTP/2 (with TLS, HTTP/2 is negotiated by ALPN whatever this says)
 */
public record ConnectionSettings(Duration connectTimeout, Duration idleTimeout, TcpKeepalive tcpKeepalive,
    int maxRequestsPerConnection, ClientTls tls, TlsOrigination origination, boolean h2Upgrade) {
  /** The transport's defaults. */
  public static final ConnectionSettings DEFAULT = new ConnectionSettings(null, null, null, 0, ClientTls.AUTO, null, false);

  public ConnectionSettings {
    java.util.Objects.requireNonNull(tls, "tls");
  }

  /**
   * Istio's {@code tcpKeepalive}: {@code SO_KEEPALIVE} on, and when set, the idle time before the
   * first probe, the time between probes and how many go unanswered before the connection is dead
   * (null or 0: the operating system's).
   */
  public record TcpKeepalive(Duration time, Duration interval, int probes) {}
}
