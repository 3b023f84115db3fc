package io.meshup.core.testing.security;

import io.meshup.core.identity.Credentials;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * HTTP/1.1 written by hand, over plaintext or over mutual TLS with a caller's credentials (the
 * server verified against the CA's root, never its host name), so that exactly the request line
 * and headers of a table row reach the server.
 */
public final class RawClient {
  private RawClient() {}

  /** What came back: the status (0 when the connection closed without an answer), headers (lower-case names) and body. */
  public record Answer(int status, Map<String, String> headers, String body) {}

  /**
   * Sends one request with {@code Connection: close}.
   *
   * @param caller the credentials to present, or null for plaintext
   * @param sni the server name to ask for, or null
   */
  public static Answer send(int port, Credentials caller, List<X509Certificate> roots, String sni, String method,
      String target, String host, List<Map.Entry<String, String>> headers) {
    StringBuilder req = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: ")
        .append(host).append("\r\n");
    for (Map.Entry<String, String> h : headers) {
      req.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
    }
    req.append("Content-Length: 0\r\nConnection: close\r\n\r\n");
    try (Socket plain = new Socket()) {
      plain.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      plain.setSoTimeout(15_000);
      Socket s = plain;
      if (caller != null) {
        SSLSocket tls = (SSLSocket) context(caller, roots).getSocketFactory().createSocket(plain, "127.0.0.1", port, true);
        if (sni != null) {
          SSLParameters p = tls.getSSLParameters();
          p.setServerNames(List.of(new SNIHostName(sni)));
          tls.setSSLParameters(p);
        }
        tls.startHandshake();
        s = tls;
      }
      s.getOutputStream().write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      return read(s.getInputStream());
    } catch (IOException e) {
      return new Answer(0, Map.of(), e.toString());
    }
  }

  private static SSLContext context(Credentials c, List<X509Certificate> roots) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("c", c.privateKey(), new char[0], c.chain().toArray(new X509Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, new char[0]);
      KeyStore ts = KeyStore.getInstance("PKCS12");
      ts.load(null, null);
      for (int i = 0; i < roots.size(); i++) {
        ts.setCertificateEntry("r" + i, roots.get(i));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ts);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Answer read(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    byte[] b = new byte[4096];
    try {
      for (int n; (n = in.read(b)) >= 0; ) {
        buf.write(b, 0, n);
      }
    } catch (SocketTimeoutException | java.net.SocketException | javax.net.ssl.SSLException e) {
      // a server that closed abruptly: what arrived is the answer
    }
    String text = buf.toString(StandardCharsets.ISO_8859_1);
    if (!text.startsWith("HTTP/1.")) {
      return new Answer(0, Map.of(), text);
    }
    int status = Integer.parseInt(text.substring(9, 12));
    int bodyAt = text.indexOf("\r\n\r\n");
    Map<String, String> headers = new java.util.LinkedHashMap<>();
    for (String line : text.substring(0, bodyAt < 0 ? text.length() : bodyAt).split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        headers.merge(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim(),
            (a, c) -> a + "," + c);
      }
    }
    String body = bodyAt < 0 ? "" : text.substring(bodyAt + 4);
    if (headers.getOrDefault("transfer-encoding", "").contains("chunked")) {
      body = dechunk(body);
    }
    return new Answer(status, headers, body);
  }

  private static String dechunk(String s) {
    StringBuilder out = new StringBuilder();
    int at = 0;
    while (at < s.length()) {
      int eol = s.indexOf("\r\n", at);
      if (eol < 0) {
        break;
      }
      int size = Integer.parseInt(s.substring(at, eol).trim(), 16);
      if (size == 0) {
        break;
      }
      out.append(s, eol + 2, Math.min(s.length(), eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    return out.toString();
  }
}
