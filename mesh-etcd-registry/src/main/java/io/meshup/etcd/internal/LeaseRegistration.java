package io.meshup.etcd.internal;

import com.google.protobuf.ByteString;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshup.core.MeshConfigException;
import io.meshup.etcd.internal.proto.KeyValue;
import io.meshup.etcd.internal.proto.LeaseGrantRequest;
import io.meshup.etcd.internal.proto.LeaseKeepAliveRequest;
import io.meshup.etcd.internal.proto.LeaseKeepAliveResponse;
import io.meshup.etcd.internal.proto.LeaseRevokeRequest;
import io.meshup.etcd.internal.proto.PutRequest;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This service's key in etcd, attached to a lease kept alive: granted with the configured TTL, the
 * key written with it, then a keep-alive sent every third of the TTL on one stream. If the process
 * dies, or is cut off from etcd for longer than the TTL, the lease expires and etcd deletes the key.
 * When the lease is found lost (a keep-alive answered with TTL 0, or the key deleted while the lease
 * was thought alive, which a watch on the key reports at once), a new lease is granted and the key
 * written again. {@link #deregister()} revokes the lease, which deletes the key.
 *
 * <p>Meters: {@code mesh.registry.watch.errors{watch=registration:<service>,kind}} with
 * {@code request_failed} (a grant, write or keep-alive stream that failed) and {@code lease_lost}.
 *
 * <p>Threading: state is touched on one serial executor over the client's threads; timers run on the
 * mesh's scheduler and only hand work to it. Only {@link #awaitFirst} and {@link #deregister()} block
 * their caller, which is the thread starting or closing the mesh.
 */
final class LeaseRegistration {
  private static final Logger log = LoggerFactory.getLogger(LeaseRegistration.class);

  private final EtcdClient client;
  private final ScheduledExecutorService scheduler;
  private final SerialExecutor serial;
  private final Backoff backoff;
  private final EtcdSettings.Registration reg;
  private final String keyText;
  private final ByteString key;
  private final ByteString value;
  private final Duration requestTimeout;
  private final Counter failures;
  private final Counter leaseLost;
  private final PrefixWatch keyWatch;
  private final CompletableFuture<Void> first = new CompletableFuture<>();

  private volatile boolean closed;
  private volatile long leaseId;
  // owned by the serial executor
  private int generation;
  private boolean registered;
  private long registeredRevision;
  private ClientCallStreamObserver<LeaseKeepAliveRequest> keepAlive;
  private ScheduledFuture<?> tick;
  private ScheduledFuture<?> retry;

  LeaseRegistration(EtcdSettings.Registration reg, String discoveryPrefix, EtcdClient client,
      ScheduledExecutorService scheduler, Backoff backoff, Backoff keyWatchBackoff, MeterRegistry meters,
      Duration requestTimeout) {
    this.reg = reg;
    this.client = client;
    this.scheduler = scheduler;
    this.backoff = backoff;
    this.requestTimeout = requestTimeout;
    this.keyText = discoveryPrefix + reg.name() + "/" + reg.id();
    this.key = ByteString.copyFromUtf8(keyText);
    this.value = ByteString.copyFrom(GoEndpoints.value(reg.address(), reg.port(), reg.metadata()));
    this.serial = new SerialExecutor(client.executor(), "registration " + keyText);
    String watch = "registration:" + reg.name();
    this.failures = PrefixWatch.counter(meters, watch, "request_failed");
    this.leaseLost = PrefixWatch.counter(meters, watch, "lease_lost");
    this.keyWatch = new PrefixWatch("key:" + reg.name(), key, key.concat(ByteString.copyFrom(new byte[] {0})), client,
        scheduler, keyWatchBackoff, meters, new PrefixWatch.Listener() {
          @Override
          public void onChange(Map<String, KeyValue> kvs, long revision) {
            serial.execute(() -> keyChanged(kvs.get(keyText), revision));
          }
        });
  }

  /** The key this service is registered under. */
  String key() {
    return keyText;
  }

  /** Registers, then keeps the registration, in the background. */
  void start() {
    serial.execute(this::register);
    keyWatch.start();
  }

  /**
   * Waits up to {@code timeout} for the first registration. etcd refusing it (bad credentials, no
   * permission on the key) stops the start with an error naming the key; etcd being unreachable does
   * not: the registration goes on trying, logged.
   *
   * @throws MeshConfigException when etcd refused the registration
   */
  void awaitFirst(Duration timeout) {
    try {
      first.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (EtcdErrors.isRefusal(e.getCause())) {
        throw new MeshConfigException("mesh.registry.etcd", "registration", "etcd refused the registration of "
            + reg.name() + " under key " + keyText + ": " + EtcdErrors.describe(e.getCause())
            + "; check username and password (or the client certificate) and the user's permissions", e.getCause());
      }
      log.warn("Could not register {} in etcd yet ({}); going on trying in the background", keyText,
          EtcdErrors.describe(e.getCause()));
    } catch (TimeoutException e) {
      log.warn("Registering {} in etcd is taking longer than {} ms; going on trying in the background", keyText,
          timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private boolean stale(int gen) {
    return closed || gen != generation;
  }

  private void register() {
    if (closed) {
      return;
    }
    int gen = ++generation;
    registered = false;
    stopKeepAlive();
    long ttl = reg.ttl().toSeconds();
    client.unary(EtcdMethods.LEASE_GRANT, LeaseGrantRequest.newBuilder().setTTL(ttl).build())
        .whenCompleteAsync((granted, error) -> {
          if (stale(gen)) {
            if (error == null) {
              revokeQuietly(granted.getID());
            }
            return;
          }
          if (error == null && !granted.getError().isEmpty()) {
            error = new IllegalStateException("etcd refused the lease: " + granted.getError());
          }
          if (error != null) {
            failed("grant a lease", error);
            return;
          }
          long id = granted.getID();
          leaseId = id;
          client.unary(EtcdMethods.PUT, PutRequest.newBuilder().setKey(key).setValue(value).setLease(id).build())
              .whenCompleteAsync((put, putError) -> {
                if (stale(gen)) {
                  revokeQuietly(id);
                  return;
                }
                if (putError != null) {
                  leaseId = 0;
                  revokeQuietly(id);
                  failed("write the key", putError);
                  return;
                }
                registered = true;
                registeredRevision = put.getHeader().getRevision();
                if (backoff.failures() > 0) {
                  log.info("Registered {} in etcd again after {} failures", keyText, backoff.failures());
                }
                backoff.reset();
                log.info("Registered {} in etcd as {} -> {}:{} (lease {}, ttl {} s)", reg.name(), keyText, reg.address(),
                    reg.port(), Long.toHexString(id), granted.getTTL());
                first.complete(null);
                openKeepAlive(gen, id, granted.getTTL());
              }, serial);
        }, serial);
  }

  private void openKeepAlive(int gen, long id, long ttlSeconds) {
    StreamObserver<LeaseKeepAliveResponse> responses = new StreamObserver<>() {
      @Override
      public void onNext(LeaseKeepAliveResponse r) {
        serial.execute(() -> {
          if (stale(gen)) {
            return;
          }
          if (r.getTTL() <= 0) {
            leaseLost.increment();
            log.info("etcd no longer has lease {} of {}; registering again", Long.toHexString(id), keyText);
            register();
          }
        });
      }

      @Override
      public void onError(Throwable t) {
        serial.execute(() -> keepAliveBroke(gen, id, ttlSeconds, t));
      }

      @Override
      public void onCompleted() {
        serial.execute(() -> keepAliveBroke(gen, id, ttlSeconds,
            io.grpc.Status.UNAVAILABLE.withDescription("etcd ended the keep-alive stream").asRuntimeException()));
      }
    };
    keepAlive = (ClientCallStreamObserver<LeaseKeepAliveRequest>) client.stream(EtcdMethods.LEASE_KEEP_ALIVE, responses);
    long period = Math.max(TimeUnit.SECONDS.toMillis(ttlSeconds) / 3, 500);
    LeaseKeepAliveRequest ping = LeaseKeepAliveRequest.newBuilder().setID(id).build();
    Runnable send = () -> serial.execute(() -> {
      if (!stale(gen) && keepAlive != null) {
        try {
          keepAlive.onNext(ping);
        } catch (RuntimeException e) {
          // the stream has just ended; its onError or onCompleted, queued behind this, reopens it
        }
      }
    });
    send.run();
    try {
      tick = scheduler.scheduleAtFixedRate(send, period, period, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // the mesh is closing
    }
  }

  /** The stream broke; the lease may well be alive: open a new stream, whose first answer tells. */
  private void keepAliveBroke(int gen, long id, long ttlSeconds, Throwable t) {
    if (stale(gen)) {
      return;
    }
    stopKeepAlive();
    failures.increment();
    long delay = backoff.nextDelayNanos();
    int n = backoff.failures();
    if (n == 1 || n % 10 == 0) {
      log.warn("etcd keep-alive of {} failed ({} in a row); retrying in {} ms; the key lives until its lease expires: {}",
          keyText, n, TimeUnit.NANOSECONDS.toMillis(delay), EtcdErrors.describe(t));
    }
    schedule(() -> {
      if (!stale(gen)) {
        openKeepAlive(gen, id, ttlSeconds);
      }
    }, delay);
  }

  /** The key as the watch on it sees it; gone while registered means the lease was lost. */
  private void keyChanged(KeyValue kv, long revision) {
    if (closed || !registered || revision < registeredRevision) {
      return;
    }
    if (kv == null) {
      leaseLost.increment();
      log.info("The key {} was deleted from etcd (its lease expired or was revoked); registering again", keyText);
      register();
    } else if (kv.getLease() != leaseId) {
      log.warn("The key {} now carries another lease ({}): another process registers under the same id; "
          + "give each instance its own registration.id", keyText, Long.toHexString(kv.getLease()));
    }
  }

  private void failed(String what, Throwable error) {
    first.completeExceptionally(error);
    failures.increment();
    long delay = backoff.nextDelayNanos();
    int n = backoff.failures();
    if (n == 1 || n % 10 == 0) {
      log.warn("Could not {} for {} in etcd ({} in a row); retrying in {} ms: {}", what, keyText, n,
          TimeUnit.NANOSECONDS.toMillis(delay), EtcdErrors.describe(error));
    }
    int gen = generation;
    schedule(() -> {
      if (!stale(gen)) {
        register();
      }
    }, delay);
  }

  private void schedule(Runnable task, long delayNanos) {
    if (closed) {
      return;
    }
    try {
      retry = scheduler.schedule(() -> serial.execute(() -> {
        client.reconnectNow();
        task.run();
      }), delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // the mesh is closing
    }
  }

  private void stopKeepAlive() {
    if (tick != null) {
      tick.cancel(false);
      tick = null;
    }
    if (keepAlive != null) {
      try {
        keepAlive.cancel("keep-alive stopped", null);
      } catch (RuntimeException ignored) {
        // already closed
      }
      keepAlive = null;
    }
  }

  private void revoke(long id) throws ExecutionException, TimeoutException, InterruptedException {
    client.unary(EtcdMethods.LEASE_REVOKE, LeaseRevokeRequest.newBuilder().setID(id).build())
        .get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void revokeQuietly(long id) {
    client.unary(EtcdMethods.LEASE_REVOKE, LeaseRevokeRequest.newBuilder().setID(id).build());
  }

  /**
   * Stops the keep-alive and revokes the lease, which deletes the key; returns the drain time, or
   * zero when etcd could not be told (the key then goes when its lease expires). Blocks the caller
   * for at most the request timeout. Idempotent: later calls return zero.
   */
  Duration deregister() {
    if (closed) {
      return Duration.ZERO;
    }
    closed = true;
    keyWatch.close();
    serial.execute(() -> {
      generation++;
      stopKeepAlive();
      if (retry != null) {
        retry.cancel(false);
      }
    });
    long id = leaseId;
    if (id == 0) {
      return Duration.ZERO;
    }
    try {
      try {
        revoke(id);
      } catch (ExecutionException e) {
        if (EtcdErrors.status(e.getCause()).getCode() != io.grpc.Status.Code.UNAUTHENTICATED) {
          throw e;
        }
        revoke(id); // the token had expired: the client has dropped it, and authenticates again
      }
      log.info("Deregistered {} from etcd (lease {} revoked); draining for {} ms", keyText, Long.toHexString(id),
          reg.drainTime().toMillis());
      return reg.drainTime();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Duration.ZERO;
    } catch (ExecutionException | TimeoutException e) {
      log.warn("Could not revoke the lease of {} in etcd; the key goes when the lease expires, within {} s: {}",
          keyText, reg.ttl().toSeconds(), e instanceof ExecutionException ? EtcdErrors.describe(e.getCause()) : "timed out");
      return Duration.ZERO;
    }
  }
}
