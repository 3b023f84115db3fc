package io.meshup.core.route;

import java.time.Duration;

/**
 * Connection settings a transport applies when it opens connections to a destination's endpoints,
 * from the DestinationRule's {@code connectionPool}. Null members mean the transport's default.
 *
 * @param connectTimeout {@code tcp.connectTimeout}
 * @param idleTimeout {@code http.idleTimeout}: close a connection idle this long
 * @param keepaliveTime {@code tcp.tcpKeepalive.time}: ping a connection this long without reads
 * @param keepaliveTimeout {@code tcp.tcpKeepalive.interval} times {@code probes}: close it when a
 *     ping goes unanswered this long
 * @param maxRequestsPerConnection {@code http.maxRequestsPerConnection}; 0 for no limit (HTTP/1 only)
 * @param tls {@code trafficPolicy.tls.mode}: whether connections use the mesh's mutual TLS; never null
 * @param h2Upgrade {@code http.h2UpgradePolicy: UPGRADE}: a plaintext HTTP client asks to upgrade
 *     to HTTP/2 (with TLS, HTTP/2 is negotiated by ALPN whatever this says)
 */
public record ConnectionSettings(Duration connectTimeout, Duration idleTimeout, Duration keepaliveTime,
    Duration keepaliveTimeout, int maxRequestsPerConnection, ClientTls tls, boolean h2Upgrade) {
  /** The transport's defaults. */
  public static final ConnectionSettings DEFAULT = new ConnectionSettings(null, null, null, null, 0, ClientTls.AUTO, false);

  public ConnectionSettings {
    java.util.Objects.requireNonNull(tls, "tls");
  }
}
