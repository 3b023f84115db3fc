package io.meshup.etcd.internal;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshup.etcd.internal.proto.Event;
import io.meshup.etcd.internal.proto.KeyValue;
import io.meshup.etcd.internal.proto.RangeRequest;
import io.meshup.etcd.internal.proto.RangeResponse;
import io.meshup.etcd.internal.proto.ResponseHeader;
import io.meshup.etcd.internal.proto.WatchCreateRequest;
import io.meshup.etcd.internal.proto.WatchRequest;
import io.meshup.etcd.internal.proto.WatchResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A live copy of the keys in one range (a prefix, or one key), kept by an etcd v3 watch, never by
 * polling: the range is read in full (in pages, all at one revision), then watched from the next
 * revision; each change is applied and the whole copy handed to the listener.
 *
 * <ul>
 *   <li>After a failure (a member lost, no leader, a refused call) the last copy stays in force, and
 *       the watch is opened again after a backoff with jitter, from the revision after the last
 *       one applied, so no change in between is lost.
 *   <li>When that revision has been compacted away, the range is read again in full and watching
 *       resumes from there ({@code kind=compacted}).
 *   <li>When the cluster answers with a revision older than one already applied, or another cluster
 *       id (a cluster rebuilt or restored from an old backup), the range is read again in full
 *       ({@code kind=revision_reset}).
 * </ul>
 *
 * <p>Meters: {@code mesh.registry.watch.errors{watch,kind}} counts failures, and
 * {@code mesh.registry.watch.connected{watch}} is 1 while the watch stream is established.
 *
 * <p>Threading: all state is touched on one serial executor, over the client's threads; listener
 * calls are serialized and none starts after {@link #close()} returns. Timers run on the mesh's
 * scheduler and only hand work to the serial executor. Nothing here blocks.
 */
final class PrefixWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PrefixWatch.class);
  static final int PAGE_SIZE = 500;

  /** Receives the range's contents. */
  interface Listener {
    /**
     * The keys in the range now, by key (UTF-8), as of {@code revision}; an unmodifiable sorted
     * map. Called first once the range has been read, then after every change.
     */
    void onChange(Map<String, KeyValue> kvs, long revision);

    /**
     * The watch failed and will retry; the last contents stay in force. Called on the first failure
     * of a streak and on every tenth after it.
     */
    default void onFailure(Throwable error) {}
  }

  private final String name;
  private final ByteString key;
  private final ByteString rangeEnd;
  private final EtcdClient client;
  private final ScheduledExecutorService scheduler;
  private final SerialExecutor serial;
  private final Backoff backoff;
  private final Listener listener;
  private final MeterRegistry meters;
  private final Counter requestFailed;
  private final Counter compacted;
  private final Counter revisionReset;
  private final Gauge connectedGauge;

  private volatile boolean closed;
  private volatile boolean connected;
  private volatile int fragmentsReceived;
  // owned by the serial executor
  private TreeMap<String, KeyValue> kvs = new TreeMap<>();
  private boolean deliveredOnce;
  private long nextRevision; // 0: read the range in full first
  private long clusterId;
  private int generation;
  private int quickRestarts;
  private ClientCallStreamObserver<WatchRequest> stream;
  private final List<Event> fragments = new ArrayList<>();
  private ScheduledFuture<?> retry;

  /**
   * @param name the {@code watch} tag, such as {@code service:payments}
   * @param key the first key of the range
   * @param rangeEnd the key after the range: {@link #prefixEnd} of a prefix, or {@code key + "\0"} for one key
   */
  PrefixWatch(String name, ByteString key, ByteString rangeEnd, EtcdClient client, ScheduledExecutorService scheduler,
      Backoff backoff, MeterRegistry meters, Listener listener) {
    this.name = name;
    this.key = key;
    this.rangeEnd = rangeEnd;
    this.client = client;
    this.scheduler = scheduler;
    this.serial = new SerialExecutor(client.executor(), "watch " + name);
    this.backoff = backoff;
    this.listener = listener;
    this.meters = meters;
    this.requestFailed = counter(meters, name, "request_failed");
    this.compacted = counter(meters, name, "compacted");
    this.revisionReset = counter(meters, name, "revision_reset");
    this.connectedGauge = Gauge.builder("mesh.registry.watch.connected", this, w -> w.connected ? 1 : 0)
        .description("1 while the registry watch is established").tags("watch", name).register(meters);
  }

  static Counter counter(MeterRegistry meters, String watch, String kind) {
    return Counter.builder("mesh.registry.watch.errors").description("Registry watch failures, by kind")
        .tags("watch", watch, "kind", kind).register(meters);
  }

  /** The key after every key that starts with {@code prefix} (etcd's prefix range end). */
  static ByteString prefixEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return ByteString.copyFrom(end, 0, i + 1);
      }
    }
    return ByteString.copyFrom(new byte[] {0}); // all keys >= prefix
  }

  /** Starts reading and watching. */
  void start() {
    serial.execute(this::connect);
  }

  /** Whether the watch stream is established now. */
  boolean connected() {
    return connected;
  }

  String name() {
    return name;
  }

  /** How many responses marked as fragments of a bigger one arrived; for tests. */
  int fragmentsReceived() {
    return fragmentsReceived;
  }

  private void connect() {
    if (closed) {
      return;
    }
    retry = null;
    if (backoff.failures() > 0) {
      client.reconnectNow();
    }
    int gen = ++generation;
    if (nextRevision == 0) {
      readPage(gen, key, 0, new TreeMap<>());
    } else {
      openWatch(gen);
    }
  }

  private boolean stale(int gen) {
    return closed || gen != generation;
  }

  // ---- full read ------------------------------------------------------------------------------

  private void readPage(int gen, ByteString from, long revision, TreeMap<String, KeyValue> acc) {
    RangeRequest request = RangeRequest.newBuilder().setKey(from).setRangeEnd(rangeEnd).setLimit(PAGE_SIZE)
        .setRevision(revision).build();
    client.unary(EtcdMethods.RANGE, request).whenCompleteAsync((r, error) -> {
      if (stale(gen)) {
        return;
      }
      if (error != null) {
        if (revision != 0 && EtcdErrors.isCompacted(error)) {
          // compacted between two pages: start over at the newest revision
          compacted.increment();
          readPage(gen, key, 0, new TreeMap<>());
        } else {
          failed(error);
        }
        return;
      }
      pageRead(gen, r, revision, acc);
    }, serial);
  }

  private void pageRead(int gen, RangeResponse r, long revision, TreeMap<String, KeyValue> acc) {
    long at = revision != 0 ? revision : r.getHeader().getRevision();
    if (revision == 0 && otherCluster(r.getHeader())) {
      resetForNewCluster(r.getHeader());
    }
    for (KeyValue kv : r.getKvsList()) {
      acc.put(kv.getKey().toStringUtf8(), kv);
    }
    if (r.getMore() && r.getKvsCount() > 0) {
      ByteString last = r.getKvs(r.getKvsCount() - 1).getKey();
      readPage(gen, last.concat(ByteString.copyFrom(new byte[] {0})), at, acc);
      return;
    }
    clusterId = r.getHeader().getClusterId();
    nextRevision = at + 1;
    if (!deliveredOnce || !acc.equals(kvs)) {
      kvs = acc;
      deliver(at);
    }
    openWatch(gen);
  }

  // ---- watching -------------------------------------------------------------------------------

  private void openWatch(int gen) {
    StreamObserver<WatchResponse> responses = new StreamObserver<>() {
      @Override
      public void onNext(WatchResponse r) {
        serial.execute(() -> onResponse(gen, r));
      }

      @Override
      public void onError(Throwable t) {
        serial.execute(() -> {
          if (!stale(gen)) {
            failed(t);
          }
        });
      }

      @Override
      public void onCompleted() {
        serial.execute(() -> {
          if (!stale(gen)) {
            failed(Status.UNAVAILABLE.withDescription("etcd ended the watch stream").asRuntimeException());
          }
        });
      }
    };
    stream = (ClientCallStreamObserver<WatchRequest>) client.stream(EtcdMethods.WATCH, responses);
    stream.onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder().setKey(key)
        .setRangeEnd(rangeEnd).setStartRevision(nextRevision).setProgressNotify(true).setFragment(true)).build());
  }

  private void onResponse(int gen, WatchResponse r) {
    if (stale(gen)) {
      return;
    }
    if (r.getCanceled()) {
      if (r.getCompactRevision() > 0) {
        compacted.increment();
        log.info("etcd watch {}: revision {} was compacted (the oldest kept is {}); reading the keys again", name,
            nextRevision, r.getCompactRevision());
        restartFromFullRead();
      } else {
        String reason = r.getCancelReason();
        if (reason.contains("auth token") || reason.contains("permission denied")) {
          // a token the member no longer knows (it restarted, or the token expired): authenticate again
          client.authRejected();
        }
        failed(Status.UNAVAILABLE.withDescription("etcd cancelled the watch"
            + (r.getCancelReason().isEmpty() ? "" : ": " + r.getCancelReason())).asRuntimeException());
      }
      return;
    }
    if (r.getCreated()) {
      ResponseHeader h = r.getHeader();
      if (otherCluster(h) || h.getRevision() < nextRevision - 1) {
        revisionReset.increment();
        log.warn("etcd watch {}: the cluster is at revision {} (cluster id {}) but revision {} was already seen "
            + "(cluster id {}); it was rebuilt or restored, reading the keys again", name, h.getRevision(),
            Long.toHexString(h.getClusterId()), nextRevision - 1, Long.toHexString(clusterId));
        clusterId = 0; // counted once: the full read takes the new cluster as it is
        restartFromFullRead();
        return;
      }
      connected = true;
      quickRestarts = 0;
      if (backoff.failures() > 0) {
        log.info("etcd watch {} is back after {} failures, from revision {}", name, backoff.failures(), nextRevision);
        backoff.reset();
      }
      return;
    }
    if (r.getFragment()) {
      fragments.addAll(r.getEventsList());
      fragmentsReceived++;
      return;
    }
    List<Event> events = r.getEventsList();
    if (!fragments.isEmpty()) {
      fragments.addAll(events);
      events = new ArrayList<>(fragments);
      fragments.clear();
    }
    if (events.isEmpty()) {
      // a progress notification: every later event has a higher revision
      nextRevision = Math.max(nextRevision, r.getHeader().getRevision() + 1);
      return;
    }
    for (Event e : events) {
      String k = e.getKv().getKey().toStringUtf8();
      if (e.getType() == Event.EventType.DELETE) {
        kvs.remove(k);
      } else {
        kvs.put(k, e.getKv());
      }
    }
    long at = events.get(events.size() - 1).getKv().getModRevision();
    nextRevision = Math.max(nextRevision, at + 1);
    deliver(at);
  }

  private boolean otherCluster(ResponseHeader h) {
    return clusterId != 0 && h.getClusterId() != 0 && h.getClusterId() != clusterId;
  }

  private void resetForNewCluster(ResponseHeader h) {
    revisionReset.increment();
    log.warn("etcd watch {}: the cluster id changed ({} -> {}); reading the keys again", name,
        Long.toHexString(clusterId), Long.toHexString(h.getClusterId()));
  }

  /** Reads the range again: at once the first time, after a backoff if it keeps happening. */
  private void restartFromFullRead() {
    endStream();
    generation++;
    nextRevision = 0;
    connected = false;
    if (quickRestarts++ == 0) {
      connect();
    } else {
      scheduleRetry(backoff.nextDelayNanos());
    }
  }

  private void failed(Throwable error) {
    endStream();
    generation++;
    connected = false;
    fragments.clear();
    requestFailed.increment();
    long delay = backoff.nextDelayNanos();
    int n = backoff.failures();
    if (n == 1 || n % 10 == 0) {
      // logged, and told to the listener, once per streak and then every tenth failure
      log.warn("etcd watch {} failed ({} in a row), keeping the last known state; retrying in {} ms: {}", name, n,
          TimeUnit.NANOSECONDS.toMillis(delay), EtcdErrors.describe(error));
      try {
        listener.onFailure(error);
      } catch (Throwable t) {
        log.error("etcd watch {}: handling a failure failed", name, t);
      }
    }
    scheduleRetry(delay);
  }

  private void scheduleRetry(long delayNanos) {
    if (closed) {
      return;
    }
    try {
      retry = scheduler.schedule(() -> serial.execute(this::connect), delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // the mesh's scheduler is shutting down: so is this watch
    }
  }

  private void endStream() {
    ClientCallStreamObserver<WatchRequest> s = stream;
    stream = null;
    if (s != null) {
      try {
        s.cancel("watch restarted", null);
      } catch (RuntimeException ignored) {
        // already closed
      }
    }
  }

  private void deliver(long revision) {
    deliveredOnce = true;
    Map<String, KeyValue> snapshot = Collections.unmodifiableMap(new TreeMap<>(kvs));
    if (closed) {
      return;
    }
    try {
      listener.onChange(snapshot, revision);
    } catch (Throwable t) {
      log.error("etcd watch {}: could not apply an update; the last good state keeps serving", name, t);
    }
  }

  /**
   * Stops the watch; no listener call starts after the return (one already running on the watch's
   * thread may finish: close never waits for it, since the mesh closes watches under the lock its
   * listener takes). Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    connected = false;
    meters.remove(connectedGauge);
    serial.execute(() -> {
      generation++;
      endStream();
      if (retry != null) {
        retry.cancel(false);
      }
    });
  }
}
