package io.meshup.grpc.internal;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.meshup.core.Mesh;
import io.meshup.core.call.CallEngine;
import io.meshup.core.call.ReplayBudget;
import io.meshup.core.route.ServiceRouter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * A channel for one logical service. Each call is a {@link MeshClientCall} run by the mesh's call
 * engine; the connections to endpoints belong to the mesh ({@link GrpcConnections}) and are shared
 * with its other channels, so this class holds only the calls in flight (for shutdown), the replay
 * budget of its calls, and caches that keep the call path free of avoidable allocation (request
 * paths and metadata keys). Thread-safe.
 */
public final class MeshManagedChannel extends ManagedChannel {
  private final Mesh mesh;
  private final ServiceRouter router;
  private final GrpcConnections connections;
  private final Executor executor;
  private final String authority;
  private final int maxInboundMessageSize;
  private final ReplayBudget replayBudget = new ReplayBudget();
  private final Map<String, String> paths = new ConcurrentHashMap<>();
  private final Map<String, Metadata.Key<String>> keys = new ConcurrentHashMap<>();
  /** Calls in flight, an intrusive list guarded by {@code this}. */
  private MeshClientCall<?, ?> calls;
  private int active;
  private volatile boolean shutdown;

  /**
   * @param executor for the callbacks of calls that name no executor; null for the mesh's
   * @param authority the authority calls carry ({@code :authority}); null for the service name
   * @param maxInboundMessageSize the limit for calls that set none; 0 for grpc-java's default
   */
  public MeshManagedChannel(Mesh mesh, ServiceRouter router, Executor executor, String authority,
      int maxInboundMessageSize) {
    this.mesh = mesh;
    this.router = router;
    this.connections = GrpcConnections.of(mesh);
    this.executor = executor;
    this.authority = authority != null ? authority : router.service();
    this.maxInboundMessageSize = maxInboundMessageSize;
  }

  CallEngine engine() {
    return mesh.callEngine();
  }

  ServiceRouter router() {
    return router;
  }

  String service() {
    return router.service();
  }

  GrpcConnections connections() {
    return connections;
  }

  ReplayBudget replayBudget() {
    return replayBudget;
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

  /** Adds a starting call to the calls in flight; false when the channel is shut down. */
  synchronized boolean callStarted(MeshClientCall<?, ?> call) {
    if (shutdown) {
      return false;
    }
    call.next = calls;
    if (calls != null) {
      calls.prev = call;
    }
    calls = call;
    active++;
    return true;
  }

  /** Removes an ended call. */
  synchronized void callFinished(MeshClientCall<?, ?> call) {
    if (call.prev == null && calls != call) {
      return; // never added, or removed already
    }
    if (call.prev != null) {
      call.prev.next = call.next;
    } else {
      calls = call.next;
    }
    if (call.next != null) {
      call.next.prev = call.prev;
    }
    call.prev = null;
    call.next = null;
    active--;
    if (active == 0 && shutdown) {
      notifyAll();
    }
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method, CallOptions callOptions) {
    CallOptions options = callOptions;
    Executor callExecutor = options.getExecutor();
    if (callExecutor == null) {
      callExecutor = executor != null ? executor : connections.executor();
      if (executor != null) {
        options = options.withExecutor(executor);
      }
    }
    if (maxInboundMessageSize > 0 && options.getMaxInboundMessageSize() == null) {
      options = options.withMaxInboundMessageSize(maxInboundMessageSize);
    }
    if (options.getAuthority() == null && !authority.equals(router.service())) {
      options = options.withAuthority(authority);
    }
    return new MeshClientCall<>(this, method, options, callExecutor);
  }

  @Override
  public String authority() {
    return authority;
  }

  /** Refuses new calls; calls in flight finish. The mesh's connections stay open for its other channels. */
  @Override
  public ManagedChannel shutdown() {
    synchronized (this) {
      shutdown = true;
      if (active == 0) {
        notifyAll();
      }
    }
    return this;
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public synchronized boolean isTerminated() {
    return shutdown && active == 0;
  }

  /** Refuses new calls and cancels those in flight. */
  @Override
  public ManagedChannel shutdownNow() {
    shutdown();
    java.util.List<MeshClientCall<?, ?>> inFlight = new java.util.ArrayList<>();
    synchronized (this) {
      for (MeshClientCall<?, ?> c = calls; c != null; c = c.next) {
        inFlight.add(c);
      }
    }
    for (MeshClientCall<?, ?> c : inFlight) {
      c.cancel("meshup: channel shutdownNow", null);
    }
    return this;
  }

  @Override
  public synchronized boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    while (!(shutdown && active == 0)) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  @Override
  public String toString() {
    return "MeshManagedChannel[" + router.service() + "]";
  }
}
