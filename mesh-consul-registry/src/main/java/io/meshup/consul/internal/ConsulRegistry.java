package io.meshup.consul.internal;

import com.ecwid.consul.v1.ConsulClient;
import com.ecwid.consul.v1.ConsulRawClient;
import com.ecwid.consul.v1.OperationException;
import com.ecwid.consul.v1.QueryParams;
import com.ecwid.consul.v1.Response;
import com.ecwid.consul.v1.agent.model.NewService;
import com.ecwid.consul.v1.kv.model.GetValue;
import io.meshup.core.Endpoint;
import io.meshup.core.MeshConfigException;
import io.meshup.core.spi.RegistryContext;
import io.meshup.core.spi.ServiceRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
  private final ConsulClient client;
  private final ConsulApi api;
  private final ExecutorService watchThreads;
  private final ScheduledExecutorService maintenance;
  private final List<BlockingWatch<?>> watches = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicBoolean deregistered = new AtomicBoolean();
  private final Map<String, Map<String, com.google.gson.JsonObject>> entries = new LinkedHashMap<>();

  public ConsulRegistry(ConsulSettings settings, RegistryContext context) {
    this.settings = settings;
    this.context = context;
    this.http = ConsulHttp.client(settings.tls(), settings.waitTime(), "mesh.registry.consul");
    ConsulRawClient raw = new ConsulRawClient(settings.scheme() + "://" + settings.host(), settings.port(), http);
    this.client = new ConsulClient(raw);
    this.api = new ConsulApi(raw, settings.token(), settings.datacenter(), Math.max(settings.waitTime().toSeconds(), 1));
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
      startWatch(new BlockingWatch<com.google.gson.JsonElement>("intentions", context.meterRegistry()) {
        @Override
        ConsulApi.Result<com.google.gson.JsonElement> fetch(long index) {
          return api.get("/v1/connect/intentions", index);
        }

        @Override
        void deliver(com.google.gson.JsonElement value) {
          try {
            context.policies().update(INTENTIONS_SOURCE, Intentions.translate(context.serviceName(), value));
          } catch (MeshConfigException e) {
            // logged and counted by the mesh; the last good policy keeps serving
          }
        }
      });
    }
    if (settings.configEntries()) {
      for (String kind : ENTRY_KINDS) {
        startWatch(new BlockingWatch<com.google.gson.JsonElement>("config:" + kind, context.meterRegistry()) {
          @Override
          ConsulApi.Result<com.google.gson.JsonElement> fetch(long index) {
            return api.get("/v1/config/" + kind, index);
          }

          @Override
          void deliver(com.google.gson.JsonElement value) {
            entriesChanged(kind, ConfigEntries.byName(value));
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
      startWatch(new BlockingWatch<List<GetValue>>("kv:" + settings.kvPrefix(), context.meterRegistry()) {
        @Override
        ConsulApi.Result<List<GetValue>> fetch(long index) {
          Response<List<GetValue>> r = client.getKVValues(settings.kvPrefix(), token(), query(index));
          return new ConsulApi.Result<>(r.getValue(), r.getConsulIndex() == null ? 0 : r.getConsulIndex());
        }

        @Override
        void deliver(List<GetValue> values) {
          Map<String, String> docs = new TreeMap<>();
          if (values != null) {
            for (GetValue v : values) {
              String text = v.getDecodedValue();
              if (v.getKey().endsWith("/") && (text == null || text.isBlank())) {
                continue; // a folder
              }
              docs.put(v.getKey(), text == null ? "" : text);
            }
          }
          try {
            context.policies().update(KV_SOURCE, docs);
          } catch (MeshConfigException e) {
            // logged and counted by the mesh; the last good policy keeps serving
          }
        }
      });
    }
  }

  /** Applies the config entries once every kind has been read at least once. */
  private synchronized void entriesChanged(String kind, Map<String, com.google.gson.JsonObject> byName) {
    entries.put(kind, byName);
    if (entries.size() < ENTRY_KINDS.size()) {
      return;
    }
    Map<String, String> docs;
    try {
      docs = ConfigEntries.translate(new ConfigEntries.Entries(entries.get("service-router"),
          entries.get("service-splitter"), entries.get("service-resolver")));
    } catch (MeshConfigException e) {
      io.micrometer.core.instrument.Counter.builder("mesh.policy.updates").description("Policy updates, accepted or rejected")
          .tags("source", ENTRIES_SOURCE, "result", "rejected").register(context.meterRegistry()).increment();
      log.error("Rejected Consul config entries; the last good policy keeps serving: {}", e.getMessage());
      return;
    }
    try {
      context.policies().update(ENTRIES_SOURCE, docs);
    } catch (MeshConfigException e) {
      // logged and counted by the mesh; the last good policy keeps serving
    }
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

  private QueryParams query(long index) {
    long waitSeconds = Math.max(settings.waitTime().toSeconds(), 1);
    String dc = settings.datacenter().isEmpty() ? null : settings.datacenter();
    return new QueryParams(dc, waitSeconds, index);
  }

  private String token() {
    return settings.token().isEmpty() ? null : settings.token();
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
    client.agentServiceRegister(ns, token());
    if (c != null && c.ttl() != null) {
      passTtl(reg);
    }
    log.info("Registered {} as {} at {}:{} in Consul", reg.name(), reg.id(), reg.address(), reg.port());
  }

  private void passTtl(ConsulSettings.Registration reg) {
    client.agentCheckPass("service:" + reg.id(), "alive", token());
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
        } catch (OperationException e) {
          if (e.getStatusCode() != 404 && e.getStatusCode() != 500) {
            throw e;
          }
        }
      } else if (client.getAgentServices().getValue().containsKey(reg.id())) {
        return;
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
      client.agentServiceDeregister(reg.id(), token());
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
