package io.meshup.http.internal;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;
import com.sun.net.httpserver.HttpsExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import javax.net.ssl.SSLSession;

/**
 * An exchange as the handler must see it after normalization: its request URI is the normalized
 * path (and the original query) that was authorized, its context the one that path belongs to.
 * Its request headers may be replaced (a verified JWT removed, an external authorizer's added).
 * Everything else is the JDK's exchange. Made only for requests whose path or headers changed.
 */
final class NormalizedExchange {
  private NormalizedExchange() {}

  static HttpExchange of(HttpExchange e, URI uri, HttpContext context) {
    return of(e, uri, context, null);
  }

  /** As above, with {@code headers} (null: the exchange's own) as the request's headers. */
  static HttpExchange of(HttpExchange e, URI uri, HttpContext context, Headers headers) {
    return e instanceof HttpsExchange https ? new Https(https, uri, context, headers) : new Plain(e, uri, context, headers);
  }

  private static final class Plain extends HttpExchange {
    private final HttpExchange e;
    private final URI uri;
    private final HttpContext context;
    private final Headers headers;

    Plain(HttpExchange e, URI uri, HttpContext context, Headers headers) {
      this.e = e;
      this.uri = uri;
      this.context = context;
      this.headers = headers;
    }

    @Override public Headers getRequestHeaders() { return headers != null ? headers : e.getRequestHeaders(); }
    @Override public Headers getResponseHeaders() { return e.getResponseHeaders(); }
    @Override public URI getRequestURI() { return uri; }
    @Override public String getRequestMethod() { return e.getRequestMethod(); }
    @Override public HttpContext getHttpContext() { return context; }
    @Override public void close() { e.close(); }
    @Override public InputStream getRequestBody() { return e.getRequestBody(); }
    @Override public OutputStream getResponseBody() { return e.getResponseBody(); }
    @Override public void sendResponseHeaders(int rCode, long responseLength) throws IOException { e.sendResponseHeaders(rCode, responseLength); }
    @Override public InetSocketAddress getRemoteAddress() { return e.getRemoteAddress(); }
    @Override public int getResponseCode() { return e.getResponseCode(); }
    @Override public InetSocketAddress getLocalAddress() { return e.getLocalAddress(); }
    @Override public String getProtocol() { return e.getProtocol(); }
    @Override public Object getAttribute(String name) { return e.getAttribute(name); }
    @Override public void setAttribute(String name, Object value) { e.setAttribute(name, value); }
    @Override public void setStreams(InputStream i, OutputStream o) { e.setStreams(i, o); }
    @Override public HttpPrincipal getPrincipal() { return e.getPrincipal(); }
  }

  private static final class Https extends HttpsExchange {
    private final HttpsExchange e;
    private final URI uri;
    private final HttpContext context;
    private final Headers headers;

    Https(HttpsExchange e, URI uri, HttpContext context, Headers headers) {
      this.e = e;
      this.uri = uri;
      this.context = context;
      this.headers = headers;
    }

    @Override public SSLSession getSSLSession() { return e.getSSLSession(); }
    @Override public Headers getRequestHeaders() { return headers != null ? headers : e.getRequestHeaders(); }
    @Override public Headers getResponseHeaders() { return e.getResponseHeaders(); }
    @Override public URI getRequestURI() { return uri; }
    @Override public String getRequestMethod() { return e.getRequestMethod(); }
    @Override public HttpContext getHttpContext() { return context; }
    @Override public void close() { e.close(); }
    @Override public InputStream getRequestBody() { return e.getRequestBody(); }
    @Override public OutputStream getResponseBody() { return e.getResponseBody(); }
    @Override public void sendResponseHeaders(int rCode, long responseLength) throws IOException { e.sendResponseHeaders(rCode, responseLength); }
    @Override public InetSocketAddress getRemoteAddress() { return e.getRemoteAddress(); }
    @Override public int getResponseCode() { return e.getResponseCode(); }
    @Override public InetSocketAddress getLocalAddress() { return e.getLocalAddress(); }
    @Override public String getProtocol() { return e.getProtocol(); }
    @Override public Object getAttribute(String name) { return e.getAttribute(name); }
    @Override public void setAttribute(String name, Object value) { e.setAttribute(name, value); }
    @Override public void setStreams(InputStream i, OutputStream o) { e.setStreams(i, o); }
    @Override public HttpPrincipal getPrincipal() { return e.getPrincipal(); }
  }
}
