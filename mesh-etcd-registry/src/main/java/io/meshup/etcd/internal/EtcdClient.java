package io.meshup.etcd.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.meshup.core.MeshConfigException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One gRPC channel to an etcd cluster, for every watch, lease and read of a registry: the members
 * balanced round-robin, plaintext or TLS (with an optional client certificate), password
 * authentication when a user is set, and {@code hasleader: true} on every call, so that a member cut
 * off from the leader refuses calls (and ends its watch streams) rather than serving a stale view.
 *
 * <p>Threading: callbacks of every call run on this client's own daemon threads ({@link #executor()}),
 * never on a Netty event loop or the mesh's scheduler. Thread-safe.
 */
final class EtcdClient implements AutoCloseable {
  static final Metadata.Key<String> HAS_LEADER = Metadata.Key.of("hasleader", Metadata.ASCII_STRING_MARSHALLER);
  /** Generous: a page of endpoint keys or policy documents; etcd itself caps a request at 1.5 MiB. */
  private static final int MAX_INBOUND_BYTES = 64 * 1024 * 1024;
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final ExecutorService executor;
  private final ManagedChannel channel;
  private final AuthTokens tokens;
  private final Duration requestTimeout;
  private final String description;
  private final RequireLeader requireLeader = new RequireLeader();

  /**
   * Builds the channel (connections are made lazily by gRPC).
   *
   * @throws MeshConfigException when a TLS file cannot be read, naming the key
   */
  EtcdClient(EtcdSettings settings) {
    this.requestTimeout = settings.requestTimeout();
    this.description = (settings.tls() ? "https " : "http ") + settings.endpoints();
    this.executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "meshup-etcd-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    @SuppressWarnings("deprecation") // the only way to give one channel a fixed list of addresses without a global registry
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(MemberResolver.SCHEME + ":///etcd")
        .nameResolverFactory(MemberResolver.factory(settings.endpoints(), settings.serverName(), executor));
    b.defaultLoadBalancingPolicy("round_robin")
        .executor(executor)
        .offloadExecutor(executor)
        // a member that vanished without closing its connections is noticed within 15 s; etcd's
        // default --grpc-keepalive-min-time (5 s) permits this rate
        .keepAliveTime(10, TimeUnit.SECONDS)
        .keepAliveTimeout(5, TimeUnit.SECONDS)
        .maxInboundMessageSize(MAX_INBOUND_BYTES)
        .userAgent("meshup-etcd");
    if (settings.tls()) {
      b.sslContext(sslContext(settings)).useTransportSecurity();
    } else {
      b.usePlaintext();
    }
    ManagedChannel raw = b.build();
    this.tokens = settings.username().isEmpty() ? null
        : new AuthTokens(io.grpc.ClientInterceptors.intercept(raw, requireLeader), settings.username(),
            settings.password(), requestTimeout);
    this.channel = raw;
  }

  private static SslContext sslContext(EtcdSettings s) {
    try {
      SslContextBuilder b = GrpcSslContexts.forClient();
      if (s.caFile() != null) {
        b.trustManager(new File(s.caFile()));
      }
      if (s.certFile() != null) {
        b.keyManager(new File(s.certFile()), new File(s.keyFile()));
      }
      return b.build();
    } catch (Exception e) {
      // the message names files, never their contents
      throw new MeshConfigException("mesh.registry.etcd", "tls", "cannot use the TLS files (caFile " + s.caFile()
          + ", certFile " + s.certFile() + ", keyFile " + s.keyFile() + "): " + e.getMessage()
          + "; expected PEM certificates and a PKCS#8 PEM private key", e);
    }
  }

  /** The threads every callback of this client runs on; also the delegate of the serial executors. */
  ExecutorService executor() {
    return executor;
  }

  /** Calls a unary method with the request timeout as its deadline. */
  <Q, R> CompletableFuture<R> unary(MethodDescriptor<Q, R> method, Q request) {
    CompletableFuture<R> result = new CompletableFuture<>();
    ClientCalls.asyncUnaryCall(newCall(method, callOptions().withDeadlineAfter(requestTimeout.toMillis(),
        TimeUnit.MILLISECONDS)), request, new StreamObserver<R>() {
          @Override
          public void onNext(R value) {
            result.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            result.completeExceptionally(Status.INTERNAL.withDescription(method.getBareMethodName()
                + " returned no response").asRuntimeException());
          }
        });
    return result;
  }

  /**
   * Opens a bidirectional stream with no deadline; {@code responses} is called on this client's
   * threads, serialized. Returns the request side (thread-safe only as gRPC's observers are:
   * send from one thread at a time).
   */
  <Q, R> StreamObserver<Q> stream(MethodDescriptor<Q, R> method, StreamObserver<R> responses) {
    return ClientCalls.asyncBidiStreamingCall(newCall(method, callOptions()), responses);
  }

  private CallOptions callOptions() {
    return tokens == null ? CallOptions.DEFAULT : CallOptions.DEFAULT.withCallCredentials(tokens);
  }

  private <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
    return requireLeader.interceptCall(method, options, channel);
  }

  /**
   * Makes members that could not be reached be dialled again at once, rather than after gRPC's own
   * reconnect backoff (which grows to two minutes): the watches and the registration retry on their
   * own backoff (at most {@code backoff.max}), and each retry should find a connection if a member is
   * back.
   */
  void reconnectNow() {
    channel.resetConnectBackoff();
  }

  /** Drops the auth token (if any), so the next call authenticates again. */
  void authRejected() {
    if (tokens != null) {
      tokens.invalidate();
    }
  }

  /** The members, for log lines. */
  String description() {
    return description;
  }

  /** Closes the channel (ending every call) and its threads. Idempotent. */
  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    executor.shutdownNow();
  }

  /**
   * Adds {@code hasleader: true} to every call, and drops the auth token when etcd refuses a call
   * as unauthenticated (an expired token, or a member that restarted and forgot it).
   */
  private final class RequireLeader implements ClientInterceptor {
    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          headers.put(HAS_LEADER, "true");
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<R>(listener) {
            @Override
            public void onClose(Status status, Metadata trailers) {
              if (status.getCode() == Status.Code.UNAUTHENTICATED && tokens != null) {
                tokens.invalidate();
              }
              super.onClose(status, trailers);
            }
          }, headers);
        }
      };
    }
  }
}
