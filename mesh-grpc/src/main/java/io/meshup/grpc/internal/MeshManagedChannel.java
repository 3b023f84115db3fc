package io.meshup.grpc.internal;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.netty.NettyChannelBuilder;
import io.meshup.core.Mesh;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.ServiceRouter;
import io.meshup.grpc.internal.tls.TlsContexts;
import io.netty.handler.ssl.SslContext;
import io.netty.channel.ChannelOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A channel for one logical service. Each call is a {@link MeshClientCall} that routes itself;
 * this class owns the per-endpoint connections and the caches that keep the call path free of
 * avoidable allocation (request paths and metadata keys).
 */
public final class MeshManagedChannel extends ManagedChannel {
  private final Mesh mesh;
  private final ServiceRouter router;
  private final Consumer<NettyChannelBuilder> configurer;
  /** Mutual TLS to this service's endpoints; null when the mesh has no certificates. */
  private final SslContext sslContext;
  private final Map<EndpointHandle, Connection> endpointChannels = new ConcurrentHashMap<>();
  private final Map<String, String> paths = new ConcurrentHashMap<>();
  private final Map<String, Metadata.Key<String>> keys = new ConcurrentHashMap<>();
  private final ExecutorService callbackExecutor;
  private final AtomicInteger activeCalls = new AtomicInteger();
  private final Object terminationLock = new Object();
  private volatile boolean shutdown;

  public MeshManagedChannel(Mesh mesh, ServiceRouter router, Consumer<NettyChannelBuilder> configurer) {
    this.mesh = mesh;
    this.router = router;
    this.configurer = configurer;
    this.sslContext = mesh.certificates()
        .map(source -> TlsContexts.client(source, mesh.clock(), router.service(), mesh.meterRegistry()))
        .orElse(null);
    this.callbackExecutor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "meshup-grpc-" + router.service());
      t.setDaemon(true);
      return t;
    });
  }

  Mesh mesh() {
    return mesh;
  }

  ServiceRouter router() {
    return router;
  }

  ExecutorService callbackExecutor() {
    return callbackExecutor;
  }

  /** {@code /package.Service/Method}, cached per method. */
  String path(MethodDescriptor<?, ?> method) {
    String full = method.getFullMethodName();
    String p = paths.get(full);
    if (p == null) {
      p = "/" + full;
      paths.putIfAbsent(full, p);
    }
    return p;
  }

  Metadata.Key<String> key(String lowerCaseName) {
    Metadata.Key<String> k = keys.get(lowerCaseName);
    if (k == null) {
      k = Metadata.Key.of(lowerCaseName, Metadata.ASCII_STRING_MARSHALLER);
      keys.putIfAbsent(lowerCaseName, k);
    }
    return k;
  }

  /**
   * The connection to an endpoint, opened on first use with TLS or not per {@code settings.tls()};
   * when a policy update changes that, the next call opens a new connection and the old one is
   * shut down (calls in flight on it finish).
   *
   * @return null when the settings ask for mutual TLS and the mesh has no certificates
   */
  ManagedChannel channelFor(EndpointHandle endpoint, ConnectionSettings settings) {
    boolean tls = settings.tls().usesTls(sslContext != null);
    Connection c = endpointChannels.get(endpoint);
    if (c != null && c.tls == tls) {
      return c.channel;
    }
    if (tls && sslContext == null) {
      return null;
    }
    synchronized (endpointChannels) {
      c = endpointChannels.get(endpoint);
      if (c != null && c.tls == tls) {
        return c.channel;
      }
      if (c != null) {
        c.channel.shutdown();
      }
      sweepRemoved();
      NettyChannelBuilder b = NettyChannelBuilder.forAddress(endpoint.endpoint().host(), endpoint.endpoint().port());
      if (tls) {
        b.sslContext(sslContext);
      } else {
        b.usePlaintext();
      }
      if (settings.connectTimeout() != null) {
        b.withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis()));
      }
      if (settings.idleTimeout() != null) {
        b.idleTimeout(settings.idleTimeout().toNanos(), TimeUnit.NANOSECONDS);
      }
      if (settings.keepaliveTime() != null) {
        b.keepAliveTime(settings.keepaliveTime().toNanos(), TimeUnit.NANOSECONDS);
      }
      configurer.accept(b);
      ManagedChannel ch = b.build();
      endpointChannels.put(endpoint, new Connection(ch, tls));
      return ch;
    }
  }

  /** One endpoint's connection and whether it uses TLS. */
  private record Connection(ManagedChannel channel, boolean tls) {}

  /** Closes connections of endpoints that left the registry; calls in flight on them finish. */
  private void sweepRemoved() {
    endpointChannels.entrySet().removeIf(e -> {
      if (e.getKey().isRemoved()) {
        e.getValue().channel().shutdown();
        return true;
      }
      return false;
    });
  }

  boolean callStarted() {
    activeCalls.incrementAndGet();
    if (shutdown) {
      callFinished();
      return false;
    }
    return true;
  }

  void callFinished() {
    if (activeCalls.decrementAndGet() == 0 && shutdown) {
      synchronized (terminationLock) {
        terminationLock.notifyAll();
      }
    }
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method, CallOptions callOptions) {
    return new MeshClientCall<>(this, method, callOptions);
  }

  @Override
  public String authority() {
    return router.service();
  }

  @Override
  public ManagedChannel shutdown() {
    shutdown = true;
    for (Connection c : endpointChannels.values()) {
      ManagedChannel ch = c.channel();
      ch.shutdown();
    }
    callbackExecutor.shutdown();
    return this;
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    if (!shutdown || activeCalls.get() > 0) {
      return false;
    }
    for (Connection c : endpointChannels.values()) {
      ManagedChannel ch = c.channel();
      if (!ch.isTerminated()) {
        return false;
      }
    }
    return callbackExecutor.isTerminated();
  }

  @Override
  public ManagedChannel shutdownNow() {
    shutdown = true;
    for (Connection c : endpointChannels.values()) {
      ManagedChannel ch = c.channel();
      ch.shutdownNow();
    }
    callbackExecutor.shutdownNow();
    return this;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    synchronized (terminationLock) {
      while (activeCalls.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(terminationLock, left);
      }
    }
    for (Connection c : endpointChannels.values()) {
      ManagedChannel ch = c.channel();
      long left = deadline - System.nanoTime();
      if (!ch.awaitTermination(Math.max(left, 0), TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return callbackExecutor.awaitTermination(Math.max(deadline - System.nanoTime(), 0), TimeUnit.NANOSECONDS);
  }
}
