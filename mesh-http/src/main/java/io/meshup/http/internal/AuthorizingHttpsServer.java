package io.meshup.http.internal;

import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;

/**
 * A JDK {@link HttpsServer} (mutual TLS) whose every context authorizes its exchanges first: each
 * context created is given a {@link JdkAuthorizingFilter}. Everything else is the JDK server's.
 */
final class AuthorizingHttpsServer extends HttpsServer {
  private final HttpsServer delegate;
  private final JdkAuthorizingFilter filter;
  private final JdkContexts contexts;

  AuthorizingHttpsServer(HttpsServer delegate, JdkAuthorizingFilter filter) {
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
  public void setHttpsConfigurator(HttpsConfigurator config) {
    delegate.setHttpsConfigurator(config);
  }

  @Override
  public HttpsConfigurator getHttpsConfigurator() {
    return delegate.getHttpsConfigurator();
  }

  @Override
  public String toString() {
    return "MeshUp mutual TLS HTTP server on " + delegate.getAddress();
  }
}
