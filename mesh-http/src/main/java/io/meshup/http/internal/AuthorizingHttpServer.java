package io.meshup.http.internal;

import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;

/**
 * A plaintext JDK {@link HttpServer} whose every context authorizes its exchanges first: each
 * context created is given a {@link JdkAuthorizingFilter}. Everything else is the JDK server's.
 */
final class AuthorizingHttpServer extends HttpServer {
  private final HttpServer delegate;
  private final JdkAuthorizingFilter filter;
  private final JdkContexts contexts;

  AuthorizingHttpServer(HttpServer delegate, JdkAuthorizingFilter filter) {
    this.delegate = delegate;
    this.filter = filter;
    this.contexts = filter.contexts();
  }

  @Override
  public void bind(InetSocketAddress addr, int backlog) throws IOException {
    delegate.bind(addr, backlog);
  }

  @Override
  public void start() {
    delegate.start();
  }

  @Override
  public void setExecutor(Executor executor) {
    delegate.setExecutor(executor);
  }

  @Override
  public Executor getExecutor() {
    return delegate.getExecutor();
  }

  @Override
  public void stop(int delay) {
    delegate.stop(delay);
  }

  @Override
  public HttpContext createContext(String path, HttpHandler handler) {
    HttpContext c = delegate.createContext(path, handler);
    c.getFilters().add(filter);
    contexts.add(c);
    return c;
  }

  @Override
  public HttpContext createContext(String path) {
    HttpContext c = delegate.createContext(path);
    c.getFilters().add(filter);
    contexts.add(c);
    return c;
  }

  @Override
  public void removeContext(String path) {
    delegate.removeContext(path);
    contexts.remove(path);
  }

  @Override
  public void removeContext(HttpContext context) {
    delegate.removeContext(context);
    contexts.remove(context);
  }

  @Override
  public InetSocketAddress getAddress() {
    return delegate.getAddress();
  }

  @Override
  public String toString() {
    return "MeshUp plaintext HTTP server on " + delegate.getAddress();
  }
}
