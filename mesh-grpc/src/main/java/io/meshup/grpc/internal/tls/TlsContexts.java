package io.meshup.grpc.internal.tls;

import io.grpc.netty.GrpcSslContexts;
import io.meshup.core.MeshClock;
import io.meshup.core.internal.tls.MeshKeyManager;
import io.meshup.core.internal.tls.MeshTrustManager;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import javax.net.ssl.SSLException;

/**
 * Netty TLS contexts whose key and trust managers read a {@link CertificateSource} at every
 * handshake. A context is built once (per destination service, or per server) and follows
 * rotations by itself. Stateless.
 */
public final class TlsContexts {
  /**
   * How long a server lets a TLS session be resumed, in seconds. MeshUp's clients never resume
   * ({@link NoResumptionSslContext}); other clients may, and a resumed session skips the key and
   * trust managers, keeping the identity and trust of its first handshake. This bounds that (the
   * JDK's default is 24 hours).
   */
  static final long SESSION_TIMEOUT_SECONDS = io.meshup.core.internal.tls.JdkTlsContexts.SESSION_TIMEOUT_SECONDS;

  private TlsContexts() {}

  /**
   * For connections to {@code service}: presents this workload's certificate and accepts only a
   * server whose SPIFFE ID is {@code service} in this workload's trust domain. Sessions are never
   * resumed, so every connection handshakes with the current credentials.
   */
  public static SslContext client(CertificateSource source, MeshClock clock, String service, MeterRegistry meters) {
    try {
      return new NoResumptionSslContext(GrpcSslContexts.configure(SslContextBuilder.forClient()
          .keyManager(new MeshKeyManager(source))
          .trustManager(new MeshTrustManager(source, clock, service, meters))
          .sessionTimeout(SESSION_TIMEOUT_SECONDS))
          .build());
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build the TLS client context for " + service, e);
    }
  }

  /**
   * For TLS originated to a destination outside the mesh (DestinationRule {@code tls} SIMPLE or
   * MUTUAL): the client certificate of the files (MUTUAL) and the server verified by
   * {@code origination}'s trust manager.
   */
  public static SslContext originating(io.meshup.core.internal.tls.OriginationTls origination) {
    try {
      SslContextBuilder b = SslContextBuilder.forClient().trustManager(origination.trustManager());
      javax.net.ssl.KeyManager[] kms = origination.keyManagers();
      if (kms != null) {
        b.keyManager(kms[0]);
      }
      return GrpcSslContexts.configure(b).build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build the TLS context to originate TLS", e);
    }
  }

  /**
   * For a server: presents this workload's certificate and verifies callers of its trust domain;
   * {@code requireClientCertificate} false lets callers without a certificate in (their identity is
   * then unknown).
   */
  public static SslContext server(CertificateSource source, MeshClock clock, boolean requireClientCertificate,
      MeterRegistry meters) {
    return server(source, clock, requireClientCertificate, java.util.Set.of(), meters);
  }

  /** As above, also accepting callers of the trust domains {@code trustDomainAliases}. */
  public static SslContext server(CertificateSource source, MeshClock clock, boolean requireClientCertificate,
      java.util.Set<String> trustDomainAliases, MeterRegistry meters) {
    try {
      return GrpcSslContexts.configure(SslContextBuilder.forServer(new MeshKeyManager(source))
          .trustManager(new MeshTrustManager(source, clock, null, trustDomainAliases, meters))
          .clientAuth(requireClientCertificate ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL)
          .sessionTimeout(SESSION_TIMEOUT_SECONDS))
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build the TLS server context", e);
    }
  }
}
