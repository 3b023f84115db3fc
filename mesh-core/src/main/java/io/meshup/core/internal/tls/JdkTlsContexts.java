package io.meshup.core.internal.tls;

import io.meshup.core.MeshClock;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.GeneralSecurityException;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * JDK {@link SSLContext}s (for {@code java.net.http.HttpClient}, {@code HttpsServer}, plain
 * sockets) whose key and trust managers read a {@link CertificateSource} at every handshake. The
 * Netty contexts of the gRPC transport are built from the same two managers. Stateless.
 */
public final class JdkTlsContexts {
  /** How long a session may be resumed, in seconds; see the gRPC transport's TlsContexts. */
  public static final int SESSION_TIMEOUT_SECONDS = 300;

  private JdkTlsContexts() {}

  /**
   * For connections to {@code service}: presents this workload's certificate and accepts only a
   * server whose SPIFFE ID is {@code service} in this workload's trust domain.
   */
  public static SSLContext client(CertificateSource source, MeshClock clock, String service, MeterRegistry meters) {
    return build(new MeshKeyManager(source), new MeshTrustManager(source, clock, service, meters), "client for " + service);
  }

  /** For a server: presents this workload's certificate and verifies callers of its trust domain. */
  public static SSLContext server(CertificateSource source, MeshClock clock, MeterRegistry meters) {
    return server(source, clock, java.util.Set.of(), meters);
  }

  /** As above, also accepting callers of the trust domains {@code trustDomainAliases}. */
  public static SSLContext server(CertificateSource source, MeshClock clock, java.util.Set<String> trustDomainAliases,
      MeterRegistry meters) {
    return build(new MeshKeyManager(source), new MeshTrustManager(source, clock, null, trustDomainAliases, meters),
        "server");
  }

  private static SSLContext build(KeyManager km, TrustManager tm, String what) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {km}, new TrustManager[] {tm}, null);
      context.getClientSessionContext().setSessionTimeout(SESSION_TIMEOUT_SECONDS);
      context.getServerSessionContext().setSessionTimeout(SESSION_TIMEOUT_SECONDS);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot build the TLS " + what + " context", e);
    }
  }
}
