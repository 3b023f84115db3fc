package io.meshup.core.internal.tls;

import io.meshup.core.identity.SpiffeCertificates;
import io.meshup.core.identity.WorkloadIdentity;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The peer identity of a TLS session, read once per session from the leaf's URI SAN and kept in
 * the session, for the gRPC servers and the HTTP adapters. The chain was verified by
 * {@link MeshTrustManager} during the handshake. Stateless;
 * thread-safe.
 */
public final class TlsPeers {
  private static final String SESSION_KEY = "io.meshup.peer";

  private TlsPeers() {}

  private static final String NO_CERTIFICATE_KEY = "io.meshup.no-certificate";

  /**
   * Whether a server's TLS session is one whose client sent no certificate; the first time a
   * session is asked, it is counted as {@code mesh.tls.rejections{side=server,reason=no_certificate}}.
   * Servers accept such a handshake so that it can be seen and counted, then refuse the connection
   * or every call on it.
   */
  public static boolean refusedWithoutCertificate(SSLSession session, io.micrometer.core.instrument.MeterRegistry meters) {
    if (session == null) {
      return false;
    }
    try {
      session.getPeerCertificates();
      return false;
    } catch (SSLPeerUnverifiedException e) {
      synchronized (session) {
        if (session.getValue(NO_CERTIFICATE_KEY) == null) {
          try {
            session.putValue(NO_CERTIFICATE_KEY, Boolean.TRUE);
          } catch (UnsupportedOperationException readOnly) {
            // counted every time for such a view
          }
          MeshTrustManager.countNoCertificate(meters);
        }
      }
      return true;
    }
  }

  private static final String SNI_KEY = "io.meshup.sni";

  /** The server name the client asked for (SNI) in a server's {@code session}, or null; read once per session. */
  public static String serverName(SSLSession session) {
    if (!(session instanceof javax.net.ssl.ExtendedSSLSession ext)) {
      return null;
    }
    Object cached = session.getValue(SNI_KEY);
    if (cached instanceof String s) {
      return s.isEmpty() ? null : s;
    }
    String name = "";
    try {
      for (javax.net.ssl.SNIServerName n : ext.getRequestedServerNames()) {
        if (n instanceof javax.net.ssl.SNIHostName h) {
          name = h.getAsciiName();
          break;
        }
      }
    } catch (UnsupportedOperationException e) {
      // a provider that does not report it
    }
    try {
      session.putValue(SNI_KEY, name);
    } catch (UnsupportedOperationException e) {
      // read-only view
    }
    return name.isEmpty() ? null : name;
  }

  /** The peer's identity, or null when {@code session} is null or its peer presented no certificate. */
  public static WorkloadIdentity identityOf(SSLSession session) {
    if (session == null) {
      return null;
    }
    Object cached = session.getValue(SESSION_KEY);
    if (cached instanceof WorkloadIdentity id) {
      return id;
    }
    Certificate[] peer;
    try {
      peer = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
    if (peer.length == 0 || !(peer[0] instanceof X509Certificate leaf)) {
      return null;
    }
    WorkloadIdentity id = SpiffeCertificates.identityOf(leaf);
    try {
      session.putValue(SESSION_KEY, id);
    } catch (UnsupportedOperationException e) {
      // HttpResponse.sslSession() is a read-only view; such a caller asks once per response
    }
    return id;
  }
}
