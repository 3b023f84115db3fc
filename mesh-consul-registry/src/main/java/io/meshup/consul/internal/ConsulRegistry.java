package io.meshup.consul.internal;

import com.ecwid.consul.json.GsonFactory;
import com.ecwid.consul.v1.agent.model.NewService;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.meshup.core.Endpoint;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.http.impl.client.CloseableHttpClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Consul registry: one blocking-query watch per destination service on
 * {@code /v1/health/service/<name>?passing}, this service's registration (with a health check
 * Consul runs, or a TTL check kept passing here), and the KV policy watch.
 *
 * <p>Threading: each watch runs on a daemon thread of its own (blocking HTTP never touches the
 * mesh's scheduler or an event loop); a watch's listener calls are serialized. A failing agent
 * leaves the last known endpoints and policy in force.
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

  private final ConsulSettings settings;
  private final RegistryContext context;
  private final CloseableHttpClient http;
  private final ConsulApi api;
  private final PolicyUpdates updates;
  private final IntentionsWatch intentions;
  private final ExecutorService watchThreads;
  private final ScheduledExecutorService maintenance;
  private final List<BlockingWatch<?>> watches = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicBoolean deregistered = new AtomicBoolean();
  private final Map<String, Map<String, JsonObject>> entries = new LinkedHashMap<>();

  public ConsulRegistry(ConsulSettings settings, RegistryContext context) {
    this.settings = settings;
    this.context = context;
    this.http = ConsulHttp.client(settings.tls(), settings.waitTime(), "mesh.registry.consul");
    this.api = new ConsulApi(http, settings.scheme() + "://" + settings.host() + ":" + settings.port(), settings.token(),
        settings.datacenter(), Math.max(settings.waitTime().toSeconds(), 1));
    this.updates = new PolicyUpdates(context.policies(), context.meterRegistry());
    this.intentions = new IntentionsWatch(api, context.serviceName(), settings.datacenter(), updates, context.meterRegistry());
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

  /** Registers this service and starts the policy watches. */
  public void start() {
    context.policies().declare(List.of(ENTRIES_SOURCE, INTENTIONS_SOURCE, KV_SOURCE));
    if (settings.intentions()) {
      // fail closed until the intentions and the agent's default are known
      intentions.closeUntilRead();
      startWatch(intentions.watch());
    }
    if (settings.configEntries()) {
      for (String kind : ENTRY_KINDS) {
        startWatch(new BlockingWatch<JsonElement>("config:" + kind, context.meterRegistry()) {
          @Override
          ConsulApi.Result<JsonElement> fetch(long index) {
            return api.get("/v1/config/" + kind, index);
          }

          @Override
          void deliver(JsonElement value) {
            Map<String, JsonObject> byName;
            try {
              byName = ConfigEntries.byName(value);
            } catch (RuntimeException e) {
              updates.rejected(ENTRIES_SOURCE, "consul config " + kind + ": the agent's answer is not a list of entries (" + e + ")");
              return;
            }
            entriesChanged(kind, byName);
          }
        });
      }
    }
    ConsulSettings.Registration reg = settings.registration();
    if (reg != null) {
      register(reg);
      long period = reg.check() != null && reg.check().ttl() != null
          ? Math.max(reg.check().ttl().toMillis() / 3, 200) : 10_000;
      maintenance.scheduleWithFixedDelay(() -> keepRegistered(reg), period, period, TimeUnit.MILLISECONDS);
    }
    if (settings.kvPrefix() != null) {
      startWatch(new BlockingWatch<byte[]>("kv:" + settings.kvPrefix(), context.meterRegistry()) {
        @Override
        ConsulApi.Result<byte[]> fetch(long index) {
          return api.getBytes("/v1/kv/" + KvDocuments.path(settings.kvPrefix()), index, Map.of("recurse", ""),
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
    BlockingWatch<List<Endpoint>> w = new BlockingWatch<>("service:" + service, context.meterRegistry()) {
      private List<Endpoint> last;

      @Override
      ConsulApi.Result<List<Endpoint>> fetch(long index) {
        return api.passingEndpoints(service, index);
      }

      @Override
      void deliver(List<Endpoint> eps) {
        if (!eps.equals(last)) {
          last = eps;
          listener.onEndpoints(eps);
        }
      }

      @Override
      void failed(Exception e) {
        listener.onError(e);
      }
    };
    startWatch(w);
    return w::close;
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
