package io.meshup.etcd.internal;

import io.meshup.core.spi.PolicyUpdates;
import com.google.protobuf.ByteString;
import io.meshup.core.Endpoint;
import io.meshup.core.internal.config.YamlReader;
import io.meshup.core.spi.RegistryContext;
import io.meshup.core.spi.ServiceRegistry;
import io.meshup.etcd.internal.proto.KeyValue;
import io.micrometer.core.instrument.Counter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The etcd registry: one etcd v3 watch per destination service on the keys
 * {@code <discovery prefix><service>/} (the Go naming layout, read by {@link GoEndpoints}), this
 * service's lease-backed registration, and a watch on the policy prefix, whose keys form the policy
 * source {@code etcd-kv}.
 *
 * <p>Threading: every watch runs on the etcd client's own threads, serialized per watch; listener
 * calls of one watch never overlap. When etcd is unreachable the last known endpoints and policy stay
 * in force. Thread-safe.
 */
public final class EtcdRegistry implements ServiceRegistry {
  private static final Logger log = LoggerFactory.getLogger(EtcdRegistry.class);
  /** The policy source's name, as {@code Mesh.policySources()} shows it. */
  public static final String KV_SOURCE = "etcd-kv";
  private static final YamlReader DECODER = new YamlReader(k -> null);

  private final EtcdSettings settings;
  private final RegistryContext context;
  private final EtcdClient client;
  private final PolicyUpdates updates;
  private final SplittableRandom random;
  private final LeaseRegistration registration;
  private final List<PrefixWatch> watches = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicBoolean deregistered = new AtomicBoolean();

  /** A registry whose backoff jitter draws on {@code seed}; see {@link #EtcdRegistry(EtcdSettings, RegistryContext)}. */
  EtcdRegistry(EtcdSettings settings, RegistryContext context, long seed) {
    this.settings = settings;
    this.context = context;
    this.random = new SplittableRandom(seed);
    this.client = new EtcdClient(settings);
    this.updates = new PolicyUpdates(context.policies(), context.meterRegistry());
    this.registration = settings.registration() == null ? null
        : new LeaseRegistration(settings.registration(), settings.discoveryPrefix(), client, context.scheduler(),
            backoff(), backoff(), context.meterRegistry(), settings.requestTimeout());
  }

  /** Creates the registry; nothing is sent to etcd before {@link #start()}. */
  public EtcdRegistry(EtcdSettings settings, RegistryContext context) {
    this(settings, context, new SplittableRandom().nextLong());
  }

  private synchronized Backoff backoff() {
    return new Backoff(settings.initialBackoff(), settings.maxBackoff(), random.split());
  }

  /**
   * Declares the policy source, starts the policy watch and registers this service, waiting up to
   * the request timeout for the registration.
   *
   * @throws io.meshup.core.MeshConfigException when etcd refuses the registration (credentials,
   *     permissions)
   */
  public void start() {
    log.info("etcd registry on {}{}: services under '{}', policy {}, {}", client.description(),
        settings.username().isEmpty() ? "" : " as user " + settings.username(), settings.discoveryPrefix(),
        settings.kvPrefix() == null ? "not read" : "under '" + settings.kvPrefix() + "'",
        registration == null ? "no registration" : "registering as " + registration.key());
    context.policies().declare(List.of(KV_SOURCE));
    if (settings.kvPrefix() != null) {
      ByteString prefix = ByteString.copyFromUtf8(settings.kvPrefix());
      PrefixWatch w = new PrefixWatch("kv:" + settings.kvPrefix(), prefix, PrefixWatch.prefixEnd(prefix), client,
          context.scheduler(), backoff(), context.meterRegistry(), (kvs, revision) -> updates.apply(KV_SOURCE, () -> {
            Map<String, String> texts = new TreeMap<>();
            for (Map.Entry<String, KeyValue> e : kvs.entrySet()) {
              texts.put(e.getKey(), DECODER.decode(e.getKey(), e.getValue().getValue().toByteArray()));
            }
            return texts;
          }));
      watches.add(w);
      w.start();
    }
    if (registration != null) {
      registration.start();
      try {
        registration.awaitFirst(settings.requestTimeout());
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }
  }

  @Override
  public Watch watch(String service, EndpointListener listener) {
    String prefix = settings.discoveryPrefix() + service + "/";
    ByteString key = ByteString.copyFromUtf8(prefix);
    PrefixWatch w = new PrefixWatch("service:" + service, key, PrefixWatch.prefixEnd(key), client, context.scheduler(),
        backoff(), context.meterRegistry(), new ServiceEndpoints(service, prefix, listener,
            PrefixWatch.counter(context.meterRegistry(), "service:" + service, "invalid_entry")));
    watches.add(w);
    w.start();
    return () -> {
      w.close();
      watches.remove(w);
    };
  }

  /** The endpoints of one service from its keys; each value is parsed once per revision of its key. */
  private static final class ServiceEndpoints implements PrefixWatch.Listener {
    private final String service;
    private final String prefix;
    private final EndpointListener listener;
    private final Counter invalid;
    private Map<String, Parsed> parsed = new HashMap<>();
    private List<Endpoint> last;

    private record Parsed(long modRevision, Endpoint endpoint) {}

    ServiceEndpoints(String service, String prefix, EndpointListener listener, Counter invalid) {
      this.service = service;
      this.prefix = prefix;
      this.listener = listener;
      this.invalid = invalid;
    }

    @Override
    public void onChange(Map<String, KeyValue> kvs, long revision) {
      Map<String, Parsed> next = new HashMap<>();
      List<Endpoint> endpoints = new ArrayList<>();
      for (Map.Entry<String, KeyValue> e : kvs.entrySet()) {
        KeyValue kv = e.getValue();
        Parsed p = parsed.get(e.getKey());
        if (p == null || p.modRevision() != kv.getModRevision()) {
          Endpoint ep = null;
          try {
            ep = GoEndpoints.parse(e.getKey().substring(prefix.length()), kv.getValue().toByteArray());
          } catch (GoEndpoints.InvalidEntry bad) {
            invalid.increment();
            log.warn("etcd key {} is not an endpoint of {} and is left out: {}", e.getKey(), service, bad.getMessage());
          }
          p = new Parsed(kv.getModRevision(), ep);
        }
        next.put(e.getKey(), p);
        if (p.endpoint() != null) {
          endpoints.add(p.endpoint());
        }
      }
      parsed = next;
      if (!endpoints.equals(last)) {
        last = List.copyOf(endpoints);
        listener.onEndpoints(last);
      }
    }

    @Override
    public void onFailure(Throwable error) {
      listener.onError(error);
    }
  }

  /** The key this service is registered under, or null when it does not register; for tests. */
  String registrationKey() {
    return registration == null ? null : registration.key();
  }

  /**
   * Revokes this service's lease (deleting its key, so callers stop choosing it) and returns the drain
   * time; watches keep running. Later calls return zero.
   */
  @Override
  public Duration deregister() {
    if (!deregistered.compareAndSet(false, true) || registration == null) {
      return Duration.ZERO;
    }
    return registration.deregister();
  }

  /** Deregisters first (and waits the drain time) unless {@link #deregister()} did, then stops everything. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    Duration drain = deregister();
    if (!drain.isZero() && !drain.isNegative()) {
      try {
        new java.util.concurrent.CountDownLatch(1).await(drain.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (PrefixWatch w : watches) {
      w.close();
    }
    watches.clear();
    client.close();
  }
}
