package io.meshup.spring;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.meshup.core.Mesh;
import io.meshup.grpc.MeshServers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The application's gRPC server: every {@link BindableService} bean of the context, served by a
 * {@code MeshServers} server (mutual TLS per the mesh's mode, each call authorized against the
 * policy in force before the handler runs, {@code MeshServers.CALLER} set), with the context's
 * {@link ServerInterceptor} beans around each service. The starter makes one when the context has
 * {@code BindableService} beans ({@code meshup.grpc.server.*}).
 *
 * <p>It starts with the web server and stops in the phase of Spring's graceful shutdown
 * ({@code DEFAULT_PHASE - 1024}), after the mesh has deregistered and drained: new calls are
 * refused, calls in flight get the shutdown timeout to end, then the rest are cancelled.
 * Thread-safe.
 */
public final class MeshGrpcServer implements SmartLifecycle {
  /** The phase of Spring's graceful shutdown of the web server. */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1024;
  private static final Logger log = LoggerFactory.getLogger(MeshGrpcServer.class);

  private final Mesh mesh;
  private final InetSocketAddress address;
  private final List<BindableService> services;
  private final List<ServerInterceptor> interceptors;
  private final Duration shutdownTimeout;
  private volatile Server server;

  /**
   * @param address where to listen; port 0 lets the system choose ({@link #port()} tells which)
   * @param shutdownTimeout how long calls in flight may take to end at shutdown
   */
  public MeshGrpcServer(Mesh mesh, InetSocketAddress address, List<BindableService> services,
      List<ServerInterceptor> interceptors, Duration shutdownTimeout) {
    this.mesh = mesh;
    this.address = address;
    this.services = List.copyOf(services);
    this.interceptors = List.copyOf(interceptors);
    this.shutdownTimeout = shutdownTimeout;
  }

  @Override
  public synchronized void start() {
    if (server != null) {
      return;
    }
    NettyServerBuilder b = MeshServers.forAddress(mesh, address, mesh.mtlsMode());
    for (BindableService s : services) {
      b.addService(ServerInterceptors.intercept(s, interceptors));
    }
    try {
      server = b.build().start();
    } catch (IOException e) {
      throw new UncheckedIOException("meshup: the gRPC server of " + mesh.serviceName() + " cannot listen on "
          + address + " (meshup.grpc.server.port, meshup.grpc.server.address)", e);
    }
    log.info("meshup: gRPC server of {} on {} ({} services, mTLS {})", mesh.serviceName(), server.getListenSockets(),
        services.size(), mesh.mtlsMode());
  }

  @Override
  public void stop(Runnable callback) {
    Server s;
    synchronized (this) {
      s = server;
      server = null;
    }
    if (s == null) {
      callback.run();
      return;
    }
    s.shutdown();
    Thread t = new Thread(() -> {
      try {
        if (!s.awaitTermination(shutdownTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
          s.shutdownNow();
        }
      } catch (InterruptedException e) {
        s.shutdownNow();
        Thread.currentThread().interrupt();
      } finally {
        callback.run();
      }
    }, "meshup-grpc-server-shutdown");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public void stop() {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    stop(done::countDown);
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public boolean isRunning() {
    return server != null;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }

  /** The port the server listens on; -1 when it is not running. */
  public int port() {
    Server s = server;
    return s == null ? -1 : s.getPort();
  }
}
