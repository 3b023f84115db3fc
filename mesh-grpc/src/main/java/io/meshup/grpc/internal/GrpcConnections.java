package io.meshup.grpc.internal;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.meshup.core.Mesh;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.EndpointHandle;
import io.meshup.grpc.internal.tls.TlsContexts;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A mesh's gRPC connections: one HTTP/2 connection (a grpc-java channel) per endpoint, shared by
 * every mesh channel of the {@link Mesh}, opened on first use with mutual TLS or not per the
 * destination's {@code trafficPolicy.tls.mode}, and closed gracefully when the endpoint leaves the
 * registry (or its destination is released after an idle period). With TLS, a connection accepts
 * only a server whose SPIFFE ID is the endpoint's service: the service the attempt was routed to.
 *
 * <p>Connections ping their peer after {@link #KEEPALIVE_TIME} without reads while calls are
 * active, and close when a ping is not answered within {@link #KEEPALIVE_TIMEOUT}, so a frozen
 * endpoint fails its calls (and is ejected) instead of holding them forever; MeshUp's servers permit
 * such pings. Connectivity is reported to the balancers, which prefer ready connections.
 *
 * <p>When this workload's credentials rotate, TLS connections are retired: new calls handshake
 * afresh with the new credentials, calls in flight finish on the old connections.
 *
 * <p>One cached thread pool per mesh delivers the callbacks of calls that name no executor.
 * Thread-safe; one per mesh ({@link Mesh#component}).
 */
public final class GrpcConnections implements AutoCloseable {
  /** HTTP/2 keepalive ping interval on mesh connections with calls active. */
  public static final Duration KEEPALIVE_TIME = Duration.ofSeconds(10);
  /** How long a ping may go unanswered before the connection is closed. */
  public static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(10);

  private final Mesh mesh;
  private final ExecutorService executor;
  private final Map<EndpointHandle, ManagedChannel> plaintext = new ConcurrentHashMap<>();
  private final Map<EndpointHandle, ManagedChannel> secure = new ConcurrentHashMap<>();
  private final Map<String, SslContext> tls = new ConcurrentHashMap<>();
  /** Endpoints whose removal closes their connections here. */
  private final java.util.Set<EndpointHandle> hooked = ConcurrentHashMap.newKeySet();
  private volatile Consumer<NettyChannelBuilder> configurer = b -> {};
  private volatile boolean closed;
  private final io.meshup.core.spi.CertificateSource.Subscription rotations;

  private GrpcConnections(Mesh mesh) {
    this.mesh = mesh;
    AtomicInteger n = new AtomicInteger();
    // a cached pool whose idle threads go after 5 s (the JDK's keep them 60 s)
    this.executor = new java.util.concurrent.ThreadPoolExecutor(0, Integer.MAX_VALUE, 5, TimeUnit.SECONDS,
        new java.util.concurrent.SynchronousQueue<>(), r -> {
          Thread t = new Thread(r, "meshup-grpc-" + mesh.serviceName() + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    this.rotations = mesh.certificates().map(source -> source.subscribe(credentials -> retireSecure())).orElse(null);
  }

  /**
   * After a rotation of this workload's credentials (or trust bundle), moves every TLS connection
   * out of use: new calls open connections that handshake with the new credentials, while calls in
   * flight finish on the old ones, which then close. So a rotation (a root leaving the bundle
   * included) applies to every endpoint within one call, not when the connection happens to close.
   */
  private void retireSecure() {
    retire(false);
  }

  /**
   * Moves every connection out of use: new calls open new connections (and handshake afresh),
   * calls in flight finish on the old ones, which then close. For an operator who revoked trust
   * out of band, and for tests that need a new connection.
   */
  public void retireAll() {
    retire(true);
  }

  private void retire(boolean plaintextToo) {
    List<ManagedChannel> old;
    synchronized (this) {
      old = new ArrayList<>(secure.values());
      secure.clear();
      if (plaintextToo) {
        old.addAll(plaintext.values());
        plaintext.clear();
      }
    }
    for (ManagedChannel c : old) {
      c.shutdown();
    }
  }

  /** The mesh's connections, created on first use. */
  public static GrpcConnections of(Mesh mesh) {
    return mesh.component(GrpcConnections.class, () -> new GrpcConnections(mesh));
  }

  /** The executor for callbacks of calls that name none. */
  public ExecutorService executor() {
    return executor;
  }

  /** Applies {@code c} to every connection opened from now on, after MeshUp's own settings. */
  public void configure(Consumer<NettyChannelBuilder> c) {
    this.configurer = c;
  }

  /** Whether attempts with these settings use mutual TLS. */
  boolean usesTls(ConnectionSettings settings) {
    return settings.tls().usesTls(mesh.certificates().isPresent());
  }

  /**
   * The connection to {@code endpoint} with TLS or not per {@code settings}; when a policy update
   * changes that, the next call opens a new connection and the old one is shut down (calls in
   * flight on it finish).
   */
  ManagedChannel connection(EndpointHandle endpoint, ConnectionSettings settings) {
    boolean useTls = usesTls(settings);
    Map<EndpointHandle, ManagedChannel> mine = useTls ? secure : plaintext;
    ManagedChannel c = mine.get(endpoint);
    if (c != null) {
      return c;
    }
    if (closed) {
      throw new IllegalStateException("meshup: the mesh's gRPC connections are closed");
    }
    synchronized (this) {
      c = mine.get(endpoint);
      if (c != null) {
        return c;
      }
      ManagedChannel other = (useTls ? plaintext : secure).remove(endpoint);
      if (other != null) {
        other.shutdown();
      }
      c = open(endpoint, settings, useTls);
      mine.put(endpoint, c);
      if (hooked.add(endpoint)) {
        endpoint.onRemoved(() -> {
          hooked.remove(endpoint);
          for (Map<EndpointHandle, ManagedChannel> m : List.of(plaintext, secure)) {
            ManagedChannel gone = m.remove(endpoint);
            if (gone != null) {
              gone.shutdown();
            }
          }
        });
      }
      watch(endpoint, c, ConnectivityState.IDLE);
      return c;
    }
  }

  private ManagedChannel open(EndpointHandle endpoint, ConnectionSettings settings, boolean useTls) {
    // the engine replays and retries attempts itself: grpc-java's own retry layer (a RetriableStream
    // buffering every message of every call) would only add a second, unseen one
    NettyChannelBuilder b = NettyChannelBuilder.forAddress(endpoint.endpoint().host(), endpoint.endpoint().port())
        .executor(executor).disableRetry();
    if (useTls) {
      b.sslContext(tls.computeIfAbsent(endpoint.service(), service -> TlsContexts.client(
          mesh.certificates().orElseThrow(), mesh.clock(), service, mesh.meterRegistry())));
    } else {
      b.usePlaintext();
    }
    Duration keepalive = settings.keepaliveTime() != null ? settings.keepaliveTime() : KEEPALIVE_TIME;
    Duration keepaliveTimeout = settings.keepaliveTimeout() != null ? settings.keepaliveTimeout() : KEEPALIVE_TIMEOUT;
    b.keepAliveTime(keepalive.toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveTimeout(keepaliveTimeout.toNanos(), TimeUnit.NANOSECONDS);
    if (settings.connectTimeout() != null) {
      b.withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis()));
    }
    if (settings.idleTimeout() != null) {
      b.idleTimeout(settings.idleTimeout().toNanos(), TimeUnit.NANOSECONDS);
    }
    configurer.accept(b);
    return b.build();
  }

  /** Reports each connectivity change of {@code ch} to the endpoint, until the connection shuts down. */
  private void watch(EndpointHandle endpoint, ManagedChannel ch, ConnectivityState last) {
    ConnectivityState now = ch.getState(false);
    if (now == ConnectivityState.SHUTDOWN) {
      return;
    }
    endpoint.reportConnectivity(switch (now) {
      case CONNECTING -> EndpointHandle.Connectivity.CONNECTING;
      case READY -> EndpointHandle.Connectivity.READY;
      case TRANSIENT_FAILURE -> EndpointHandle.Connectivity.TRANSIENT_FAILURE;
      default -> EndpointHandle.Connectivity.IDLE;
    });
    ch.notifyWhenStateChanged(now, () -> watch(endpoint, ch, now));
  }

  /** Connections open now (for tests). */
  public int size() {
    return plaintext.size() + secure.size();
  }

  /** How long calls in flight get to finish when the mesh closes, before their connections are cut. */
  static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

  /**
   * Shuts every connection down: calls in flight get {@link #CLOSE_GRACE} to finish (the mesh has
   * drained and refuses new calls by now), then the connections are cut. Stops the executor.
   */
  @Override
  public void close() {
    closed = true;
    if (rotations != null) {
      rotations.close();
    }
    List<ManagedChannel> all;
    synchronized (this) {
      all = new ArrayList<>(plaintext.values());
      all.addAll(secure.values());
      plaintext.clear();
      secure.clear();
    }
    for (ManagedChannel c : all) {
      c.shutdown();
    }
    long deadline = System.nanoTime() + CLOSE_GRACE.toNanos();
    try {
      for (ManagedChannel c : all) {
        c.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (ManagedChannel c : all) {
      c.shutdownNow();
    }
    executor.shutdown();
  }

  @Override
  public String toString() {
    return "gRPC connections of mesh " + mesh.serviceName() + " (" + size() + " open)";
  }
}
