package io.meshup.http.security;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * HTTP/1.1 written by hand on a plain socket, so that no client normalizes the request line or
 * the headers: what is sent is exactly what the server reads.
 */
final class RawHttp {
  private RawHttp() {}

  /** What came back: the status (0 when the server closed without an answer) and the body. */
  record Answer(int status, String body) {}

  static Answer send(int port, String requestLine, String... headers) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      s.setSoTimeout(10_000);
      StringBuilder req = new StringBuilder(requestLine).append("\r\nHost: payments\r\n");
      for (String h : headers) {
        req.append(h).append("\r\n");
      }
      req.append("Content-Length: 0\r\nConnection: close\r\n\r\n");
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return read(s.getInputStream());
    }
  }

  private static Answer read(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    byte[] b = new byte[4096];
    try {
      for (int n; (n = in.read(b)) >= 0; ) {
        buf.write(b, 0, n);
      }
    } catch (SocketTimeoutException | java.net.SocketException e) {
      // a server that closed abruptly, or never answered: what arrived is the answer
    }
    String text = buf.toString(StandardCharsets.ISO_8859_1);
    if (!text.startsWith("HTTP/1.")) {
      return new Answer(0, text);
    }
    int status = Integer.parseInt(text.substring(9, 12));
    int bodyAt = text.indexOf("\r\n\r\n");
    String body = bodyAt < 0 ? "" : text.substring(bodyAt + 4);
    if (text.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked")) {
      body = dechunk(body);
    }
    return new Answer(status, body);
  }

  private static String dechunk(String s) {
    StringBuilder out = new StringBuilder();
    int at = 0;
    while (at < s.length()) {
      int eol = s.indexOf("\r\n", at);
      if (eol < 0) {
        break;
      }
      int len = Integer.parseInt(s.substring(at, eol).trim(), 16);
      if (len == 0) {
        break;
      }
      out.append(s, eol + 2, Math.min(s.length(), eol + 2 + len));
      at = eol + 2 + len + 2;
    }
    return out.toString();
  }
}
