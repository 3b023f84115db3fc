package io.meshup.consul.internal;

import io.meshup.core.spi.PolicyUpdates;
import com.ecwid.consul.json.GsonFactory;
import com.ecwid.consul.v1.agent.model.NewService;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.meshup.core.spi.RegistryContext;
import io.meshup.core.spi.ServiceRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Consul registry: the destinations' endpoints ({@link ServiceWatcher}: two blocking queries for
 * the whole datacenter and reads of the destinations that changed, whatever their number), this
 * service's registration (with a health check Consul runs, or a TTL check kept passing here), and
 * the policy watches (KV, config entries, intentions).
 *
 * <p>Threading: each blocking query runs on a daemon thread of its own, destinations are read by a
 * few reader threads (blocking HTTP never touches the mesh's scheduler or an event loop); one
 * destination's listener calls are serialized. All requests go through one pool of at most
 * {@link ConsulHttp#MAX_CONNECTIONS} kept-alive connections to the agent; connections idle for 30 s
 * are closed. A failing agent leaves the last known endpoints and policy in force.
 */
public final class ConsulRegistry implements ServiceRegistry {
  private static final Logger log = LoggerFactory.getLogger(ConsulRegistry.class);
  /** The KV policy source's name, as it appears in {@code Mesh.policySources()}. */
  public static final String KV_SOURCE = "consul-kv";
  /** The intentions' policy source's name; it ranks between config entries and KV. */
  public static final String INTENTIONS_SOURCE = "consul-intentions";
  /** The config entries' policy source's name; it ranks below the KV source. */
  public static final String ENTRIES_SOURCE = "consul-config-entries";
  private static final List<String> ENTRY_KINDS = List.of("service-router", "service-splitter", "service-resolver");
  /** Pooled connections idle this long are closed. */
  static final long IDLE_CONNECTION_SECONDS = 30;

  private final ConsulSettings settings;
  private final RegistryContext context;
  private final CloseableHttpClient http;
  private final PoolingHttpClientConnectionManager pool;
  private final ConsulApi api;
  private final PolicyUpdates updates;
  private final IntentionsWatch intentions;
  private final ServiceWatcher services;
  private final ExecutorService watchThreads;
  private final ScheduledExecutorService maintenance;
  private final List<BlockingWatch<?>> watches = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicBoolean deregistered = new AtomicBoolean();
  private final Map<String, Map<String, JsonObject>> entries = new LinkedHashMap<>();
  private volatile ScheduledFuture<?> idleCheck;

  public ConsulRegistry(ConsulSettings settings, RegistryContext context) {
    this.settings = settings;
    this.context = context;
    ConsulHttp.Pooled pooled = ConsulHttp.pooled(settings.tls(), settings.waitTime(), "mesh.registry.consul");
    this.http = pooled.http();
    this.pool = pooled.pool();
    this.api = new ConsulApi(http, settings.scheme() + "://" + settings.host() + ":" + settings.port(), settings.token(),
        settings.datacenter(), settings.waitTime(), settings.consistency(), settings.maxStaleness(), settings.requestTimeout());
    this.updates = new PolicyUpdates(context.policies(), context.meterRegistry());
    this.intentions = new IntentionsWatch(api, context.serviceName(), settings.datacenter(), updates, context.meterRegistry(),
        settings.waitTime(), settings.backoff());
    this.services = new ServiceWatcher(api, settings, context.meterRegistry(), context.scheduler());
    this.watchThreads = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "meshup-consul-watch");
      t.setDaemon(true);
      return t;
    });
    this.maintenance = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshup-consul-registration");
      t.setDaemon(true);
      return t;
    });
  }

  /** Starts the destinations' summaries, registers this service and starts the policy watches. */
  public void start() {
    services.start();
    idleCheck = context.scheduler().scheduleWithFixedDelay(
        () -> pool.closeIdleConnections(IDLE_CONNECTION_SECONDS, TimeUnit.SECONDS),
        IDLE_CONNECTION_SECONDS, IDLE_CONNECTION_SECONDS, TimeUnit.SECONDS);
    context.policies().declare(List.of(ENTRIES_SOURCE, INTENTIONS_SOURCE, KV_SOURCE));
    if (settings.intentions()) {
      // fail closed until the intentions and the agent's default are known
      intentions.closeUntilRead();
      startWatch(intentions.watch());
    }
    if (settings.configEntries()) {
      // the kinds share one index in Consul: one blocking query on the first, the others read with it
      startWatch(new BlockingWatch<Map<String, JsonElement>>("config-entries", context.meterRegistry(), settings.waitTime(),
          settings.backoff()) {
        @Override
        ConsulApi.Result<Map<String, JsonElement>> fetch(long index, Duration wait) {
          ConsulApi.Result<JsonElement> first = api.get("/v1/config/" + ENTRY_KINDS.get(0), index, wait, Map.of());
          Map<String, JsonElement> byKind = new LinkedHashMap<>();
          byKind.put(ENTRY_KINDS.get(0), first.value());
          for (String kind : ENTRY_KINDS.subList(1, ENTRY_KINDS.size())) {
            byKind.put(kind, api.get("/v1/config/" + kind, 0, wait, Map.of()).value());
          }
          return first.map(v -> byKind);
        }

        @Override
        void deliver(Map<String, JsonElement> byKind) {
          byKind.forEach((kind, value) -> {
            Map<String, JsonObject> byName;
            try {
              byName = ConfigEntries.byName(value);
            } catch (RuntimeException e) {
              updates.rejected(ENTRIES_SOURCE, "consul config " + kind + ": the agent's answer is not a list of entries (" + e + ")");
              return;
            }
            entriesChanged(kind, byName);
          });
        }
      });
    }
    ConsulSettings.Registration reg = settings.registration();
    if (reg != null) {
      register(reg);
      long period = reg.check() != null && reg.check().ttl() != null
          ? Math.max(reg.check().ttl().toMillis() / 3, 200) : 10_000;
      maintenance.scheduleWithFixedDelay(() -> keepRegistered(reg), period, period, TimeUnit.MILLISECONDS);
    }
    if (settings.kvPrefix() != null) {
      startWatch(new BlockingWatch<byte[]>("kv:" + settings.kvPrefix(), context.meterRegistry(), settings.waitTime(),
          settings.backoff()) {
        @Override
        ConsulApi.Result<byte[]> fetch(long index, Duration wait) {
          return api.getBytes("/v1/kv/" + KvDocuments.path(settings.kvPrefix()), index, wait, Map.of("recurse", ""),
              ConsulApi.MAX_RESPONSE_BYTES);
        }

        @Override
        void deliver(byte[] answer) {
          updates.apply(KV_SOURCE, () -> KvDocuments.read(settings.kvPrefix(), answer));
        }
      });
    }
  }

  /** Applies the config entries once every kind has been read at least once. */
  private synchronized void entriesChanged(String kind, Map<String, JsonObject> byName) {
    entries.put(kind, byName);
    if (entries.size() < ENTRY_KINDS.size()) {
      return;
    }
    Map<String, Map<String, JsonObject>> snapshot = new LinkedHashMap<>(entries);
    updates.apply(ENTRIES_SOURCE, () -> ConfigEntries.translate(new ConfigEntries.Entries(snapshot.get("service-router"),
        snapshot.get("service-splitter"), snapshot.get("service-resolver"))));
  }

  @Override
  public Watch watch(String service, EndpointListener listener) {
    return services.watch(service, listener);
  }

  private void startWatch(BlockingWatch<?> w) {
    watches.add(w);
    watchThreads.execute(w);
  }

  // ---- registration ---------------------------------------------------------------------

  private void register(ConsulSettings.Registration reg) {
    NewService ns = new NewService();
    ns.setId(reg.id());
    ns.setName(reg.name());
    ns.setAddress(reg.address());
    ns.setPort(reg.port());
    ns.setTags(new ArrayList<>(reg.tags()));
    ns.setMeta(new LinkedHashMap<>(reg.meta()));
    ConsulSettings.Check c = reg.check();
    if (c != null) {
      NewService.Check check = new NewService.Check();
      if (c.ttl() != null) {
        check.setTtl(seconds(c.ttl()));
      } else {
        check.setHttp(c.http());
        check.setGrpc(c.grpc());
        check.setTcp(c.tcp());
        check.setInterval(seconds(c.interval()));
        check.setTimeout(seconds(c.timeout()));
      }
      check.setDeregisterCriticalServiceAfter(seconds(c.deregisterCriticalServiceAfter()));
      ns.setCheck(check);
    }
    api.put("/v1/agent/service/register", GsonFactory.getGson().toJson(ns));
    if (c != null && c.ttl() != null) {
      passTtl(reg);
    }
    log.info("Registered {} as {} at {}:{} in Consul", reg.name(), reg.id(), reg.address(), reg.port());
  }

  private void passTtl(ConsulSettings.Registration reg) {
    api.put("/v1/agent/check/pass/" + ConsulApi.encode("service:" + reg.id()) + "?note=alive", null);
  }

  /** Keeps the TTL check passing, and registers again when the agent lost the registration. */
  private void keepRegistered(ConsulSettings.Registration reg) {
    if (closed.get()) {
      return;
    }
    try {
      if (reg.check() != null && reg.check().ttl() != null) {
        try {
          passTtl(reg);
          return;
        } catch (ConsulApi.Failure e) {
          if (e.status() != 404 && e.status() != 500) {
            throw e;
          }
        }
      } else {
        JsonElement services = api.get("/v1/agent/services", 0).value();
        if (services != null && services.isJsonObject() && services.getAsJsonObject().has(reg.id())) {
          return;
        }
      }
      log.info("Consul lost the registration of {}; registering again", reg.id());
      register(reg);
    } catch (RuntimeException e) {
      log.debug("Could not refresh the registration of {}: {}", reg.id(), e.toString());
    }
  }

  private static String seconds(Duration d) {
    return d == null ? null : Math.max(1, d.toSeconds()) + "s";
  }

  /**
   * The labels this service registers with, read as endpoint labels are (tags {@code k=v} as
   * {@code k: v}, a tag {@code t} as {@code t: "true"}, then meta), for policy selectors; empty
   * without a registration.
   */
  @Override
  public Map<String, String> labels() {
    ConsulSettings.Registration reg = settings.registration();
    if (reg == null) {
      return Map.of();
    }
    Map<String, String> labels = new LinkedHashMap<>();
    for (String tag : reg.tags()) {
      int eq = tag.indexOf('=');
      if (eq > 0) {
        labels.put(tag.substring(0, eq), tag.substring(eq + 1));
      } else {
        labels.put(tag, "true");
      }
    }
    labels.putAll(reg.meta());
    return labels;
  }

  /**
   * Deregisters this service (stopping the registration's upkeep) and returns its drain time: the
   * mesh keeps serving and calling that long, so callers stop choosing this instance before it goes.
   * Watches keep running.
   */
  @Override
  public Duration deregister() {
    if (!deregistered.compareAndSet(false, true)) {
      return Duration.ZERO;
    }
    maintenance.shutdownNow();
    ConsulSettings.Registration reg = settings.registration();
    if (reg == null) {
      return Duration.ZERO;
    }
    try {
      api.put("/v1/agent/service/deregister/" + ConsulApi.encode(reg.id()), null);
      log.info("Deregistered {} from Consul; draining for {} ms", reg.id(), reg.drainTime().toMillis());
      return reg.drainTime();
    } catch (RuntimeException e) {
      log.warn("Could not deregister {} from Consul: {}", reg.id(), e.toString());
      return Duration.ZERO;
    }
  }

  /**
   * Deregisters this service first (and waits the drain time) unless {@link #deregister()} did so
   * already, then stops every watch.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    drain(deregister());
    ScheduledFuture<?> idle = idleCheck;
    if (idle != null) {
      idle.cancel(false);
    }
    services.close();
    for (BlockingWatch<?> w : watches) {
      w.close();
    }
    watchThreads.shutdownNow();
    try {
      http.close();
    } catch (IOException e) {
      log.debug("closing the Consul HTTP client", e);
    }
  }

  private static void drain(Duration d) {
    if (d.isZero() || d.isNegative()) {
      return;
    }
    try {
      new java.util.concurrent.CountDownLatch(1).await(d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
