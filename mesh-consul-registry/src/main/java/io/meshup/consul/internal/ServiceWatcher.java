package io.meshup.consul.internal;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.meshup.core.Endpoint;
import io.meshup.core.spi.ServiceRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destinations' endpoints at a cost that does not grow with their number in threads or
 * connections: two blocking queries for the whole datacenter, and reads of only the destinations
 * that changed.
 *
 * <ul>
 *   <li><b>{@code health}</b>: {@code /v1/health/state/any?filter=Status != "passing"}, the checks
 *       that do not pass. Consul's index of it moves with any check; the answer holds only the
 *       failing ones, so it costs what is failing, not the datacenter's size. A check that appears
 *       there stopped passing, one that disappears passes again (or is gone): its destination is
 *       read. A node's own check (such as {@code serfHealth} or node maintenance) names every
 *       watched destination with an instance on that node. A change of output, or between warning
 *       and critical, is not read: it cannot change which instances pass.
 *   <li><b>{@code catalog}</b>: {@code /v1/catalog/services}, whose index moves with every
 *       registration event (an instance registered or deregistered, its meta, tags, address or
 *       port changed). Services that appeared, disappeared or changed tags are read. For the rest
 *       the answer cannot say which service changed; with many destinations ({@link #diffMode}),
 *       the datacenter's checks ({@code /v1/health/state/any}, once per event) are compared with
 *       the last ones: an instance that came or went with its checks names its destination. An
 *       event that shows in neither (new meta, address or port of an instance whose checks stayed,
 *       an instance without checks) reads every watched destination, as does every event when
 *       there are few destinations.
 *   <li>Every destination is read again every {@link #RESYNC}, whatever the summaries say (a
 *       silent change that Consul committed within the same moment as one that did show).
 * </ul>
 *
 * <p>A destination is read with {@code /v1/health/service/<name>} (all instances; the passing ones
 * are picked as {@code ?passing} would; {@code ?cached} with {@code agentCache}). After a check
 * change at index {@code i} the read blocks until the destination's own index is at least
 * {@code i} (for at most {@link #MIN_INDEX_WAIT}), so a server a moment behind the one that
 * reported the change cannot hand back the old state; an answer older than the one applied is
 * ignored and asked again (a second one older still is taken as a reset index). The first answers
 * of both summaries are awaited (up to the request timeout) before destinations are read, so no
 * change between a read and the summaries' first answer is missed.
 *
 * <p>Threads: one per summary query ({@code meshup-consul-catalog}, {@code meshup-consul-health})
 * and up to {@link #FETCHERS} readers ({@code meshup-consul-fetch}, ended after 30 s idle). New
 * destinations (a mesh's first calls, or the policy's hosts) are read by those, in parallel. One
 * destination is read by one reader at a time, so its listener's calls are serialized; no lock is
 * held across a request or a listener call.
 *
 * <p>Failures: a summary that fails keeps everything as it is and logs one line per state change
 * ({@link BlockingWatch}); when it answers again, its next answer is compared with the last one it
 * gave, so changes during the outage are read. A destination whose read fails keeps its last
 * endpoints; while the summaries answer, it is retried with backoff, logged once per failure
 * streak and reported once per streak to its listeners ({@code onError}); while a summary fails, it
 * is read again when the summary is back (one outage, one line).
 */
final class ServiceWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ServiceWatcher.class);
  /** How many destinations are read at the same time, at most. */
  static final int FETCHERS = 4;
  /** How long a read waits for a destination's index to reach that of a reported check change. */
  static final Duration MIN_INDEX_WAIT = Duration.ofSeconds(2);

  private final ConsulApi api;
  private final ConsulSettings settings;
  private final MeterRegistry meters;
  private final ScheduledExecutorService scheduler;
  private final Map<String, String> readParams;
  private final ConcurrentHashMap<String, Destination> watched = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor fetchers;
  private final BlockingWatch<Catalog> catalog;
  private final BlockingWatch<Checks> health;
  private final CountDownLatch baselines = new CountDownLatch(2);
  private volatile boolean closed;
  private volatile ScheduledFuture<?> resync;
  /** The last answer of the failing checks, by node and check ID; touched only by the health thread. */
  private Map<String, Check> failing;
  private long failingIndex;
  /** The last catalog answer; touched only by the catalog thread. */
  private Catalog lastCatalog;

  /** The health summary's filter: the checks that do not pass (warning, critical; maintenance is critical). */
  static final Map<String, String> FAILING = Map.of("filter", "Status != \"passing\"");
  /** Below this many destinations, a registration event reads them all (see {@link #diffMode}). */
  static final int DIFF_MODE_MIN = 16;
  /** Every destination is read again this often, whatever the summaries say. */
  static final Duration RESYNC = Duration.ofMinutes(5);

  /** One check of {@code /v1/health/state/any}, as far as it decides which instances pass. */
  record Check(String node, String service, String serviceId, String status, long modifyIndex) {
    /** The same instance's check (its status may differ between warning and critical). */
    boolean sameInstance(Check o) {
      return service.equals(o.service) && serviceId.equals(o.serviceId);
    }
  }

  /** A health answer: its index and its checks by node and check ID. */
  record Checks(long index, Map<String, Check> byKey) {}

  /**
   * A catalog answer: its index, each service's tags (as one string, to compare), and in diff mode
   * every check of the datacenter (null otherwise).
   */
  record Catalog(long index, Map<String, String> services, Map<String, Check> checks) {}

  ServiceWatcher(ConsulApi api, ConsulSettings settings, MeterRegistry meters, ScheduledExecutorService scheduler) {
    this.api = api;
    this.settings = settings;
    this.meters = meters;
    this.scheduler = scheduler;
    this.readParams = settings.agentCache() ? Map.of("cached", "") : Map.of();
    this.fetchers = new ThreadPoolExecutor(FETCHERS, FETCHERS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "meshup-consul-fetch");
      t.setDaemon(true);
      return t;
    });
    fetchers.allowCoreThreadTimeOut(true);
    this.catalog = new Summary<Catalog>("catalog") {
      @Override
      ConsulApi.Result<Catalog> fetch(long index, Duration wait) {
        ConsulApi.Result<byte[]> r = api.getBytes("/v1/catalog/services", index, wait, Map.of(), ConsulApi.MAX_RESPONSE_BYTES);
        Map<String, String> names = parseServices(r.value());
        Map<String, Check> all = null;
        if (lastCatalog == null || diffMode(names.size())) {
          // which instances (with checks) came and went: the whole datacenter's checks, once per registration event
          all = parseChecks(api.getBytes("/v1/health/state/any", 0, wait, Map.of(), ConsulApi.MAX_RESPONSE_BYTES).value());
        }
        Map<String, Check> checks = all;
        return r.map(body -> new Catalog(r.index(), names, checks));
      }

      @Override
      void first(Catalog value) {
        lastCatalog = value;
      }

      @Override
      void changed(Catalog value) {
        catalogChanged(value);
      }

      @Override
      void indexReset() {
        lastCatalog = null;
        super.indexReset();
      }
    };
    this.health = new Summary<Checks>("health") {
      @Override
      ConsulApi.Result<Checks> fetch(long index, Duration wait) {
        ConsulApi.Result<byte[]> r = api.getBytes("/v1/health/state/any", index, wait, FAILING, ConsulApi.MAX_RESPONSE_BYTES);
        return r.map(body -> new Checks(r.index(), parseChecks(body)));
      }

      @Override
      void first(Checks value) {
        failing = value.byKey();
        failingIndex = value.index();
      }

      @Override
      void changed(Checks value) {
        failingChanged(value);
      }

      @Override
      void indexReset() {
        failing = null;
        super.indexReset();
      }
    };
  }

  /** Starts the two summary queries, each on a thread of its own, and the periodic read of everything. */
  void start() {
    thread(catalog, "meshup-consul-catalog").start();
    thread(health, "meshup-consul-health").start();
    resync = scheduler.scheduleWithFixedDelay(() -> readAll(false), RESYNC.toMillis(), RESYNC.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static Thread thread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Watches {@code service}; its listener gets the current list first, then each change. */
  ServiceRegistry.Watch watch(String service, ServiceRegistry.EndpointListener listener) {
    Subscriber s = new Subscriber(listener);
    while (true) {
      Destination d = watched.computeIfAbsent(service, Destination::new);
      synchronized (d) {
        if (d.released) {
          continue; // its last watch closed meanwhile: a new one takes its place
        }
        d.subscribers.add(s);
        d.wantAny = true; // a fresh read, delivered to the new subscriber even when nothing changed
      }
      schedule(d);
      return () -> unsubscribe(d, s);
    }
  }

  private void unsubscribe(Destination d, Subscriber s) {
    s.close();
    synchronized (d) {
      d.subscribers.remove(s);
      if (d.subscribers.isEmpty()) {
        d.released = true;
        watched.remove(d.name, d);
      }
    }
  }

  // ---------------------------------------------------------------- the summaries

  /** A summary query: counts its first answer (or failure) as the baseline the reads wait for. */
  private abstract class Summary<T> extends BlockingWatch<T> {
    private boolean baseline;
    private boolean answered;

    Summary(String name) {
      super(name, meters, settings.waitTime(), settings.backoff());
    }

    /** The first answer. */
    void first(T value) {}

    /** A later answer with another index. */
    abstract void changed(T value);

    @Override
    final void deliver(T value) {
      if (answered) {
        changed(value);
        return;
      }
      answered = true;
      first(value);
      if (baseline) {
        // the reads did not wait for this summary (it failed at first): read what they may have missed
        readAll(false);
      } else {
        baseline = true;
        baselines.countDown();
      }
    }

    @Override
    void failed(Exception e) {
      if (!baseline) {
        baseline = true;
        baselines.countDown(); // the reads go ahead; this summary's first answer reads them again
      }
    }

    @Override
    void recovered() {
      readDirty();
    }

    @Override
    void indexReset() {
      // a reset agent or cluster: read every destination again and apply what it says
      answered = false;
      baseline = true;
      for (Destination d : watched.values()) {
        synchronized (d) {
          d.resetPending = true;
        }
      }
      readAll(true);
    }
  }

  /**
   * A new answer of the failing checks: a check that appears there stopped passing (or is new and
   * not passing), one that disappears passes again (or is gone); either names a destination to
   * read. A change between warning and critical changes nothing that routing sees.
   */
  private void failingChanged(Checks now) {
    Map<String, Check> before = failing;
    long beforeIndex = failingIndex;
    failing = now.byKey();
    failingIndex = now.index();
    if (before == null) {
      return; // after an index reset: every destination is being read anyway
    }
    Map<String, Long> services = new HashMap<>();
    Set<String> nodes = new HashSet<>();
    for (Map.Entry<String, Check> e : now.byKey().entrySet()) {
      Check old = before.get(e.getKey());
      if (old == null || !old.sameInstance(e.getValue())) {
        mark(e.getValue(), e.getValue().modifyIndex() - 1, services, nodes);
        if (old != null) {
          mark(old, beforeIndex, services, nodes);
        }
      }
    }
    for (Map.Entry<String, Check> e : before.entrySet()) {
      if (!now.byKey().containsKey(e.getKey())) {
        mark(e.getValue(), beforeIndex, services, nodes); // passing again, or gone, after the previous answer
      }
    }
    readChanged(services, nodes);
  }

  /**
   * A new catalog answer: services that appeared, disappeared or changed tags are read; in diff
   * mode, so are those whose instances (their checks) came or went. A change that shows in
   * neither (new meta, address or port of an instance whose checks stayed, an instance without
   * checks) is read by reading every destination.
   */
  private void catalogChanged(Catalog now) {
    Catalog before = lastCatalog;
    lastCatalog = now;
    Map<String, Long> services = new HashMap<>();
    Set<String> nodes = new HashSet<>();
    for (Map.Entry<String, String> e : now.services().entrySet()) {
      if (!e.getValue().equals(before.services().get(e.getKey()))) {
        services.put(e.getKey(), before.index()); // new, or new tags: changed after the previous answer
      }
    }
    for (String name : before.services().keySet()) {
      if (!now.services().containsKey(name)) {
        services.put(name, before.index());
      }
    }
    boolean seen = !services.isEmpty();
    if (now.checks() == null || before.checks() == null) {
      // few destinations: read them all (and keep the last list of checks for when they are many)
      lastCatalog = new Catalog(now.index(), now.services(), now.checks() == null ? before.checks() : now.checks());
      readAll(false);
      return;
    }
    // each read waits for an index that includes the change (a stale server a moment behind cannot
    // answer with the state before it): a new check's own index, or the previous catalog answer's
    for (Map.Entry<String, Check> e : now.checks().entrySet()) {
      if (!before.checks().containsKey(e.getKey())) {
        mark(e.getValue(), e.getValue().modifyIndex() - 1, services, nodes);
        seen = true;
      }
    }
    for (Map.Entry<String, Check> e : before.checks().entrySet()) {
      if (!now.checks().containsKey(e.getKey())) {
        mark(e.getValue(), before.index(), services, nodes);
        seen = true;
      }
    }
    if (!seen) {
      readAll(false);
      return;
    }
    readChanged(services, nodes);
  }

  /**
   * Reads the watched destinations among {@code services} (each with the index its answer must be
   * above, -1 for any) and those with an instance on one of {@code nodes}.
   */
  private void readChanged(Map<String, Long> services, Set<String> nodes) {
    services.forEach((service, above) -> {
      Destination d = watched.get(service);
      if (d != null) {
        read(d, above);
      }
    });
    if (!nodes.isEmpty()) {
      for (Destination d : watched.values()) {
        Set<String> on;
        synchronized (d) {
          on = d.nodes;
        }
        for (String node : nodes) {
          if (on.contains(node)) {
            // a node's check need not move its services' indexes: read without a minimum
            read(d, -1);
            break;
          }
        }
      }
    }
  }

  /**
   * Whether a registration event is looked into by comparing the datacenter's checks (diff mode),
   * rather than by reading every watched destination: when there are many destinations, and many
   * compared with the datacenter (a read costs about what 40 checks do).
   */
  private boolean diffMode(int servicesInCatalog) {
    int n = watched.size();
    return n > DIFF_MODE_MIN && n * 20L > servicesInCatalog;
  }

  private static void mark(Check c, long above, Map<String, Long> services, Set<String> nodes) {
    if (c.service().isEmpty()) {
      nodes.add(c.node());
    } else {
      services.merge(c.service(), above < 0 ? -1 : above, (a, b) -> a < 0 || b < 0 ? -1 : Math.min(a, b));
    }
  }

  /** Reads every watched destination again; with {@code reset}, whatever index the answers have. */
  private void readAll(boolean reset) {
    for (Destination d : watched.values()) {
      read(d, -1);
    }
    if (!watched.isEmpty()) {
      log.debug("Consul: reading all {} watched destinations again{}", watched.size(), reset ? " (index reset)" : "");
    }
  }

  /** Reads the destinations whose reads failed while a summary was failing. */
  private void readDirty() {
    for (Destination d : watched.values()) {
      boolean dirty;
      synchronized (d) {
        dirty = d.dirty;
        d.dirty = false;
      }
      if (dirty) {
        read(d, -1);
      }
    }
  }

  // ---------------------------------------------------------------- reading destinations

  /**
   * Asks for a read of {@code d}: with {@code above} at 0 or more, one whose answer has an index
   * above it (none when the applied answer already has); at -1, a fresh read whatever its index.
   */
  private void read(Destination d, long above) {
    synchronized (d) {
      if (above < 0) {
        d.wantAny = true;
      } else if (d.index > above && d.endpoints != null && !d.running) {
        return; // what was applied already includes the change
      } else {
        d.wantAbove = Math.max(d.wantAbove, above);
      }
    }
    schedule(d);
  }

  private void schedule(Destination d) {
    synchronized (d) {
      if (d.queued || d.running || closed) {
        return; // the read in progress looks at what is wanted when it ends
      }
      d.queued = true;
    }
    try {
      fetchers.execute(() -> fetch(d));
    } catch (RejectedExecutionException shutDown) {
      synchronized (d) {
        d.queued = false;
      }
    }
  }

  private void fetch(Destination d) {
    try {
      baselines.await(settings.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    long above;
    synchronized (d) {
      d.queued = false;
      boolean any = d.wantAny || d.endpoints == null || d.resetPending;
      if (closed || d.released || (!any && (d.wantAbove < 0 || d.index > d.wantAbove))) {
        d.wantAbove = -1;
        return;
      }
      above = any ? -1 : d.wantAbove;
      d.wantAny = false;
      d.wantAbove = -1;
      d.running = true;
    }
    ConsulApi.Result<ConsulApi.Instances> r = null;
    RuntimeException error = null;
    try {
      r = above < 0 ? api.instances(d.name, 0, settings.waitTime(), readParams)
          : api.instances(d.name, Math.max(above, 1), MIN_INDEX_WAIT, readParams);
    } catch (RuntimeException e) {
      error = e;
    }
    List<Subscriber> to;
    List<Endpoint> deliver;
    boolean report = false;
    boolean behind = false;
    synchronized (d) {
      if (r != null) {
        d.failures = 0;
        deliver = d.endpoints;
        long index = Math.max(r.index(), 1);
        if (d.resetPending || d.endpoints == null || index >= d.index || d.behind) {
          if (index < d.index && !d.resetPending && d.endpoints != null) {
            // lower twice in a row: not a server a moment behind but a reset index (Consul: start again from it)
            BlockingWatch.errors(meters, "service:" + d.name, "index_reset").increment();
            log.info("Consul: the index of {} went backwards ({} -> {}); using the new answers", d.name, d.index, index);
          }
          boolean changed = !r.value().passing().equals(d.endpoints);
          d.index = index;
          d.nodes = r.value().nodes();
          d.endpoints = r.value().passing();
          d.resetPending = false;
          d.behind = false;
          deliver = d.endpoints;
          to = changed ? List.copyOf(d.subscribers) : d.newSubscribers();
        } else {
          // older than the answer applied: a server a moment behind; keep ours, ask again shortly
          d.behind = true;
          behind = true;
          to = d.newSubscribers();
        }
      } else {
        d.failures++;
        deliver = d.endpoints;
        to = deliver == null ? List.of() : d.newSubscribers(); // new subscribers get the last known list
        report = d.failures == 1;
      }
    }
    for (Subscriber s : to) {
      s.endpoints(deliver);
    }
    if (error != null) {
      failed(d, error, report);
    } else if (behind) {
      retryLater(d, settings.backoff().delayMillis(1));
    }
    boolean again;
    synchronized (d) {
      d.running = false;
      again = !d.released && (d.wantAny || d.wantAbove >= 0);
    }
    if (again) {
      schedule(d);
    }
  }

  private void failed(Destination d, RuntimeException e, boolean firstOfStreak) {
    BlockingWatch.errors(meters, "service:" + d.name, "request_failed").increment();
    if (!catalog.answering() || !health.answering()) {
      // the agent or the servers are failing: one outage, reported by the summaries; read it when they are back
      synchronized (d) {
        d.dirty = true;
      }
      log.debug("Consul: reading {} failed while Consul fails; read again when it answers: {}", d.name, e.toString());
      return;
    }
    int failures;
    synchronized (d) {
      failures = d.failures;
    }
    if (firstOfStreak) {
      log.warn("Consul: reading {} failed, keeping its last known endpoints; retrying every {} ms at most: {}", d.name,
          settings.backoff().max().toMillis(), e.toString());
      List<Subscriber> subs;
      synchronized (d) {
        subs = List.copyOf(d.subscribers);
      }
      for (Subscriber s : subs) {
        s.error(e);
      }
    } else {
      log.debug("Consul: reading {} failed again ({} in a row): {}", d.name, failures, e.toString());
    }
    retryLater(d, settings.backoff().delayMillis(failures));
  }

  /** A fresh read of {@code d} after {@code delayMillis}, timed on the mesh's scheduler. */
  private void retryLater(Destination d, long delayMillis) {
    try {
      scheduler.schedule(() -> read(d, -1), delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException shutDown) {
      // the mesh is closing
    }
  }

  /** The number of destinations watched now. */
  int size() {
    return watched.size();
  }

  /** Stops the summaries and the readers; no listener is called once this returns. */
  @Override
  public void close() {
    closed = true;
    ScheduledFuture<?> r = resync;
    if (r != null) {
      r.cancel(false);
    }
    catalog.close();
    health.close();
    fetchers.shutdownNow();
    for (Destination d : watched.values()) {
      for (Subscriber s : d.subscribers) {
        s.close();
      }
    }
  }

  /** A watched destination; its fields are guarded by itself. */
  private static final class Destination {
    final String name;
    final CopyOnWriteArrayList<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    long index;
    List<Endpoint> endpoints;
    Set<String> nodes = Set.of();
    boolean queued;
    boolean running;
    boolean wantAny;
    long wantAbove = -1;
    boolean resetPending;
    boolean dirty;
    boolean released;
    /** The last answer was older than the one applied. */
    boolean behind;
    int failures;

    Destination(String name) {
      this.name = name;
    }

    /** The subscribers that have had no list yet. */
    List<Subscriber> newSubscribers() {
      return subscribers.stream().filter(s -> !s.delivered).toList();
    }
  }

  /** One listener; a call to it and its closing exclude each other, so no call follows {@link #close()}. */
  private static final class Subscriber {
    final ServiceRegistry.EndpointListener listener;
    volatile boolean delivered;
    private boolean closed;

    Subscriber(ServiceRegistry.EndpointListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
    }

    synchronized void endpoints(List<Endpoint> eps) {
      if (!closed) {
        delivered = true;
        try {
          listener.onEndpoints(eps);
        } catch (RuntimeException e) {
          log.error("A registry listener failed on {} endpoints: {}", eps.size(), e.toString(), e);
        }
      }
    }

    synchronized void error(Throwable e) {
      if (!closed) {
        try {
          listener.onError(e);
        } catch (RuntimeException ex) {
          log.error("A registry listener failed on an error: {}", ex.toString(), ex);
        }
      }
    }

    synchronized void close() {
      closed = true;
    }
  }

  // ---------------------------------------------------------------- parsing

  /** The services of a {@code /v1/catalog/services} answer, each with its tags joined, read as a stream. */
  static Map<String, String> parseServices(byte[] body) {
    Map<String, String> out = new HashMap<>();
    if (body == null) {
      return out;
    }
    try (JsonReader r = new JsonReader(new InputStreamReader(new java.io.ByteArrayInputStream(body), StandardCharsets.UTF_8))) {
      if (r.peek() == JsonToken.NULL) {
        return out;
      }
      r.beginObject();
      while (r.hasNext()) {
        String name = r.nextName();
        StringBuilder tags = new StringBuilder();
        if (r.peek() == JsonToken.BEGIN_ARRAY) {
          r.beginArray();
          while (r.hasNext()) {
            if (r.peek() == JsonToken.NULL) {
              r.nextNull();
            } else {
              tags.append(r.nextString()).append('\u0000');
            }
          }
          r.endArray();
        } else {
          r.skipValue();
        }
        out.put(name, tags.toString());
      }
      r.endObject();
    } catch (IOException | IllegalStateException e) {
      throw new UncheckedIOException("the agent's /v1/catalog/services answer is not a map of services: " + e.getMessage(),
          e instanceof IOException io ? io : new IOException(e));
    }
    return out;
  }

  /**
   * The checks of a {@code /v1/health/state/any} answer by node and check ID, read as a stream (the
   * answer holds every check of the datacenter).
   */
  static Map<String, Check> parseChecks(byte[] body) {
    Map<String, Check> out = new HashMap<>();
    if (body == null) {
      return out;
    }
    try (JsonReader r = new JsonReader(new InputStreamReader(new java.io.ByteArrayInputStream(body), StandardCharsets.UTF_8))) {
      if (r.peek() == JsonToken.NULL) {
        return out;
      }
      r.beginArray();
      while (r.hasNext()) {
        String node = "";
        String checkId = "";
        String status = "";
        String service = "";
        String serviceId = "";
        long modifyIndex = 0;
        r.beginObject();
        while (r.hasNext()) {
          String field = r.nextName();
          if (r.peek() == JsonToken.NULL) {
            r.nextNull();
            continue;
          }
          switch (field) {
            case "Node" -> node = r.nextString();
            case "CheckID" -> checkId = r.nextString();
            case "Status" -> status = r.nextString();
            case "ServiceName" -> service = r.nextString();
            case "ServiceID" -> serviceId = r.nextString();
            case "ModifyIndex" -> modifyIndex = r.nextLong();
            default -> r.skipValue();
          }
        }
        r.endObject();
        out.put(node + '\u0000' + checkId, new Check(node, service, serviceId, status, modifyIndex));
      }
      r.endArray();
    } catch (IOException | IllegalStateException | NumberFormatException e) {
      throw new UncheckedIOException("the agent's /v1/health/state/any answer is not a list of checks: " + e.getMessage(),
          e instanceof IOException io ? io : new IOException(e));
    }
    return out;
  }
}
