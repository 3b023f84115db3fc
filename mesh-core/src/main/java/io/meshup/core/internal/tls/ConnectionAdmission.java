package io.meshup.core.internal.tls;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.route.InboundAuthorizer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, as an inbound connection opens, whether the mutual TLS mode in force accepts its
 * transport: the mode of a PeerAuthentication in force
 * ({@link InboundAuthorizer#peerAuthenticationMode()}), else the mode the server was built with.
 * STRICT refuses plaintext, DISABLE refuses TLS, PERMISSIVE takes both. Refusals are logged at
 * debug and counted in {@code mesh.server.connections.refused{mode, transport}}. Shared by the
 * gRPC servers and the HTTP adapters; one per server; thread-safe, allocation-free.
 */
public final class ConnectionAdmission {
  private static final Logger log = LoggerFactory.getLogger(ConnectionAdmission.class);

  private final MtlsMode configured;
  private final InboundAuthorizer authorizer;
  private final Counter plaintextRefused;
  private final Counter tlsRefused;

  public ConnectionAdmission(MtlsMode configured, InboundAuthorizer authorizer, MeterRegistry meters) {
    this.configured = configured;
    this.authorizer = authorizer;
    this.plaintextRefused = counter(meters, MtlsMode.STRICT, "plaintext");
    this.tlsRefused = counter(meters, MtlsMode.DISABLE, "tls");
  }

  private static Counter counter(MeterRegistry meters, MtlsMode mode, String transport) {
    return Counter.builder(Metrics.CONNECTIONS_REFUSED)
        .description("Inbound connections closed because the mutual TLS mode in force does not accept their transport")
        .baseUnit("connections")
        .tag("mode", mode.name())
        .tag("transport", transport)
        .register(meters);
  }

  /** The mode a connection opening now to {@code localPort} must follow. */
  private MtlsMode modeInForce(int localPort) {
    MtlsMode peer = authorizer.peerAuthenticationMode(localPort);
    return peer != null ? peer : configured;
  }

  /**
   * Whether a connection that opened with TLS ({@code tls}) or in plaintext may go on; a refusal
   * is counted and logged with {@code remote}.
   */
  public boolean admits(boolean tls, Object remote) {
    return admits(tls, remote, null);
  }

  /**
   * As {@link #admits(boolean, Object)}, for a connection to {@code local} (the server's address:
   * a PeerAuthentication's {@code portLevelMtls} may set the mode of its port).
   */
  public boolean admits(boolean tls, Object remote, java.net.SocketAddress local) {
    MtlsMode mode = modeInForce(local instanceof java.net.InetSocketAddress a ? a.getPort() : 0);
    if (tls ? mode != MtlsMode.DISABLE : mode != MtlsMode.STRICT) {
      return true;
    }
    (tls ? tlsRefused : plaintextRefused).increment();
    log.debug("Closed a {} connection from {}: mutual TLS mode {} is in force", tls ? "TLS" : "plaintext", remote, mode);
    return false;
  }
}
