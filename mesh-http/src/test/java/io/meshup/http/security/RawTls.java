package io.meshup.http.security;

import io.meshup.core.identity.HostileCertificates;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/** A TLS client written by hand that presents any chain (or none) and trusts any server. */
final class RawTls {
  private RawTls() {}

  /** Sends one request; the status line's code, or 0 when the handshake or the connection failed. */
  static RawHttp.Answer send(int port, HostileCertificates.Minted client, String requestLine) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(client == null ? new javax.net.ssl.KeyManager[0] : new javax.net.ssl.KeyManager[] {new Presenting(client)},
          new TrustManager[] {new TrustAll()}, null);
      try (Socket plain = new Socket()) {
        plain.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        plain.setSoTimeout(10_000);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, "127.0.0.1", port, true)) {
          s.startHandshake();
          s.getOutputStream().write((requestLine + "\r\nHost: payments\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
          s.getOutputStream().flush();
          ByteArrayOutputStream buf = new ByteArrayOutputStream();
          InputStream in = s.getInputStream();
          byte[] b = new byte[4096];
          for (int n; (n = in.read(b)) >= 0; ) {
            buf.write(b, 0, n);
          }
          String text = buf.toString(StandardCharsets.ISO_8859_1);
          if (!text.startsWith("HTTP/1.")) {
            return new RawHttp.Answer(0, text);
          }
          int bodyAt = text.indexOf("\r\n\r\n");
          return new RawHttp.Answer(Integer.parseInt(text.substring(9, 12)), bodyAt < 0 ? "" : text.substring(bodyAt + 4));
        }
      }
    } catch (IOException e) {
      return new RawHttp.Answer(0, e.toString());
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final class Presenting extends X509ExtendedKeyManager {
    private final HostileCertificates.Minted m;

    Presenting(HostileCertificates.Minted m) {
      this.m = m;
    }

    @Override public String[] getClientAliases(String keyType, Principal[] issuers) { return new String[] {"c"}; }
    @Override public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) { return "c"; }
    @Override public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) { return "c"; }
    @Override public String[] getServerAliases(String keyType, Principal[] issuers) { return null; }
    @Override public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) { return null; }
    @Override public X509Certificate[] getCertificateChain(String alias) { return m.chain(); }
    @Override public PrivateKey getPrivateKey(String alias) { return m.key(); }
  }

  private static final class TrustAll extends X509ExtendedTrustManager {
    @Override public void checkClientTrusted(X509Certificate[] c, String a, Socket s) {}
    @Override public void checkServerTrusted(X509Certificate[] c, String a, Socket s) {}
    @Override public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) {}
    @Override public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e) {}
    @Override public void checkClientTrusted(X509Certificate[] c, String a) {}
    @Override public void checkServerTrusted(X509Certificate[] c, String a) {}
    @Override public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
  }
}
