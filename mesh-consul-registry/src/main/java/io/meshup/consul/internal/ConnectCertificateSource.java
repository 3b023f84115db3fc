package io.meshup.consul.internal;

import io.meshup.consul.internal.ConnectCertificates.Leaf;
import io.meshup.consul.internal.ConnectCertificates.Roots;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.spi.CertificateContext;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.http.impl.client.CloseableHttpClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This workload's credentials from Consul Connect's CA, through the local agent: the leaf of
 * {@code /v1/agent/connect/ca/leaf/<service>} and, as trust bundle, every root of
 * {@code /v1/agent/connect/ca/roots} (the active one and those rotated out but still listed, so
 * leaves of both verify during a rotation). Both are watched with blocking queries; a new leaf or a
 * new set of roots is put together, made current, then announced to the listeners.
 *
 * <p>Expiry: a check on the mesh's scheduler (every {@code checkInterval}, by the mesh clock) asks
 * the agent again once two thirds of the leaf's lifetime have passed without a new one, and
 * raises an alarm (a WARN naming the service, serial and time left) once less than
 * {@code expiryWarning} remains. {@code mesh.tls.certificate.expiry{source=consul-connect}} is the
 * seconds left; {@code mesh.tls.certificate.refresh.failures{source, reason}} counts failed
 * fetches ({@code agent_error}), answers that could not be used ({@code invalid}) and refreshes
 * past two thirds that brought no new leaf ({@code stale_leaf}).
 *
 * <p>Threading: blocking HTTP runs on threads of its own, never on the scheduler. {@link #current()}
 * reads one volatile field. Changes are applied one at a time, and listeners are called on the
 * thread that applied the change, one at a time. An unreachable agent leaves the last good
 * credentials in force.
 */
public final class ConnectCertificateSource implements CertificateSource {
  private static final Logger log = LoggerFactory.getLogger(ConnectCertificateSource.class);
  /** The {@code source} tag of this source's meters. */
  public static final String SOURCE_TAG = "consul-connect";

  private final ConnectSettings settings;
  private final MeshClock clock;
  private final MeterRegistry meters;
  private final CloseableHttpClient http;
  private final ConsulApi api;
  private final ExecutorService threads;
  private final Counter agentErrors;
  private final Counter invalid;
  private final Counter stale;
  private final Gauge expiry;
  private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
  private final List<BlockingWatch<?>> watches = new CopyOnWriteArrayList<>();
  private final AtomicBoolean refreshing = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Object applyLock = new Object();
  /** The latest roots and leaf the agent gave; guarded by applyLock. */
  private Roots roots;
  private Leaf leaf;
  private volatile Credentials current;
  private volatile ScheduledFuture<?> check;
  /** The alarm's last warning (serial, time left); touched only by the expiry check, which never overlaps itself. */
  private String warnedSerial;
  private long warnedLeftMillis;

  private ConnectCertificateSource(ConnectSettings settings, CertificateContext context) {
    this.settings = settings;
    this.clock = context.clock();
    this.meters = context.meterRegistry();
    this.http = ConsulHttp.client(settings.agent().tls(), settings.waitTime(), ConnectSettings.SECTION);
    AgentSettings a = settings.agent();
    this.api = new ConsulApi(http, a.scheme() + "://" + a.host() + ":" + a.port(), a.token(), "",
        Math.max(settings.waitTime().toSeconds(), 1));
    this.agentErrors = failures("agent_error");
    this.invalid = failures("invalid");
    this.stale = failures("stale_leaf");
    this.threads = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "meshup-consul-connect");
      t.setDaemon(true);
      return t;
    });
    this.expiry = Gauge.builder("mesh.tls.certificate.expiry", this, ConnectCertificateSource::secondsLeft)
        .description("Seconds until the leaf certificate in use expires")
        .baseUnit("seconds")
        .tags("source", SOURCE_TAG, "service", settings.service())
        .strongReference(true)
        .register(meters);
  }

  private Counter failures(String reason) {
    return Counter.builder("mesh.tls.certificate.refresh.failures")
        .description("Certificate refreshes that failed or brought nothing usable")
        .tags("source", SOURCE_TAG, "reason", reason)
        .register(meters);
  }

  /**
   * Fetches the roots and the leaf now (on the calling thread), then starts the watches and the
   * expiry check.
   *
   * @throws IllegalStateException when the agent cannot be asked or its answer cannot be used; the
   *     message names the agent and the service
   */
  public static ConnectCertificateSource start(ConnectSettings settings, CertificateContext context) {
    ConnectCertificateSource s = new ConnectCertificateSource(settings, context);
    try {
      Roots r = s.fetchRoots(0, settings.waitTime()).value();
      Leaf l = s.fetchLeaf(0, settings.waitTime()).value();
      synchronized (s.applyLock) {
        s.roots = r;
        s.leaf = l;
        s.current = ConnectCertificates.credentials(r, l, settings.service());
      }
    } catch (RuntimeException e) {
      s.close();
      throw new IllegalStateException(ConnectSettings.SECTION + ": cannot get the Connect certificate of service '"
          + settings.service() + "' from the Consul agent at " + settings.agent().url() + ": " + e.getMessage()
          + "; is the agent running, with Connect enabled and a token allowed service:write on the service?", e);
    }
    log.info("Consul Connect certificate of {}: {}, trust bundle {}", settings.service(), s.current, s.roots.ids());
    s.startWatches();
    long every = Math.max(1, settings.checkInterval().toMillis());
    s.check = context.scheduler().scheduleWithFixedDelay(s::checkExpiry, every, every, TimeUnit.MILLISECONDS);
    return s;
  }

  private void startWatches() {
    watch(new BlockingWatch<Roots>("connect-roots", meters, settings.waitTime(), ConsulSettings.Backoff.DEFAULT) {
      @Override
      ConsulApi.Result<Roots> fetch(long index, java.time.Duration wait) {
        return fetchRoots(index, wait);
      }

      @Override
      void deliver(Roots value) {
        onRoots(value);
      }

      @Override
      void failed(Exception e) {
        agentErrors.increment();
      }
    });
    watch(new BlockingWatch<Leaf>("connect-leaf:" + settings.service(), meters, settings.waitTime(),
        ConsulSettings.Backoff.DEFAULT) {
      @Override
      ConsulApi.Result<Leaf> fetch(long index, java.time.Duration wait) {
        return fetchLeaf(index, wait);
      }

      @Override
      void deliver(Leaf value) {
        onLeaf(value);
      }

      @Override
      void failed(Exception e) {
        agentErrors.increment();
      }
    });
  }

  private void watch(BlockingWatch<?> w) {
    watches.add(w);
    threads.execute(w);
  }

  private ConsulApi.Result<Roots> fetchRoots(long index, java.time.Duration wait) {
    return api.get("/v1/agent/connect/ca/roots", index, wait, java.util.Map.of()).map(ConnectCertificates::roots);
  }

  private ConsulApi.Result<Leaf> fetchLeaf(long index, java.time.Duration wait) {
    return api.get("/v1/agent/connect/ca/leaf/" + settings.service(), index, wait, java.util.Map.of())
        .map(v -> ConnectCertificates.leaf(v, settings.service()));
  }

  @Override
  public Credentials current() {
    Credentials c = current;
    if (c == null) {
      throw new IllegalStateException("no Consul Connect credentials have been loaded yet");
    }
    return c;
  }

  @Override
  public Subscription subscribe(Listener listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** The roots in use, for tests and admin views. */
  public List<String> rootIds() {
    synchronized (applyLock) {
      return roots.ids();
    }
  }

  void onRoots(Roots r) {
    synchronized (applyLock) {
      if (r.equals(roots)) {
        return;
      }
      log.info("Consul Connect CA roots changed: active {}, listed {}", r.activeRootId(), r.ids());
      roots = r;
      publish();
    }
  }

  void onLeaf(Leaf l) {
    Roots known;
    synchronized (applyLock) {
      if (leaf != null && leaf.serial().equals(l.serial()) && leaf.chain().equals(l.chain())) {
        return;
      }
      known = roots;
    }
    if (!known.issued(l.chain().get(l.chain().size() - 1)) && !known.issued(l.certificate())) {
      // signed by a root this source has not seen yet: read the roots first, outside the lock
      try {
        onRoots(fetchRoots(0, settings.waitTime()).value());
      } catch (RuntimeException e) {
        agentErrors.increment();
        log.warn("Could not read the Consul Connect CA roots for the new leaf of {}: {}", settings.service(), e.toString());
      }
    }
    synchronized (applyLock) {
      leaf = l;
      publish();
    }
  }

  /** Puts the latest roots and leaf together and, when they differ from the current ones, publishes them. */
  private void publish() {
    Credentials next;
    try {
      next = ConnectCertificates.credentials(roots, leaf, settings.service());
    } catch (IllegalArgumentException e) {
      invalid.increment();
      log.warn("Keeping the Consul Connect credentials {} of {}: {}", current, settings.service(), e.getMessage());
      return;
    }
    Credentials prev = current;
    if (prev != null && prev.chain().equals(next.chain()) && prev.trustBundle().equals(next.trustBundle())) {
      return;
    }
    current = next;
    log.info("Consul Connect credentials of {} now {} (chain of {}), trusting roots {}", settings.service(), next,
        next.chain().size(), roots.ids());
    for (Listener l : listeners) {
      try {
        l.onRotated(next);
      } catch (RuntimeException e) {
        log.warn("certificate listener {} failed on rotation to {}", l, next, e);
      }
    }
  }

  /**
   * Runs on the mesh's scheduler and never blocks: asks the agent again (on this source's own
   * thread) once two thirds of the leaf's lifetime have passed, and warns when it nears expiry.
   */
  void checkExpiry() {
    if (closed.get()) {
      return;
    }
    Credentials c = current;
    long now = clock.currentTimeMillis();
    long notBefore = c.leaf().getNotBefore().getTime();
    long notAfter = c.leaf().getNotAfter().getTime();
    long lifetime = Math.max(1, notAfter - notBefore);
    long left = notAfter - now;
    if (now >= notBefore + lifetime * 2 / 3 && refreshing.compareAndSet(false, true)) {
      try {
        threads.execute(() -> refresh(c));
      } catch (RejectedExecutionException e) {
        refreshing.set(false);
      }
    }
    long warnAt = settings.expiryWarning() != null ? settings.expiryWarning().toMillis() : lifetime / 5;
    String serial = c.leaf().getSerialNumber().toString(16);
    if (left <= warnAt) {
      if (!serial.equals(warnedSerial) || left <= warnedLeftMillis / 2) {
        warnedSerial = serial;
        warnedLeftMillis = Math.max(left, 0);
        log.warn("Consul Connect certificate of service {} (serial {}) {} (notAfter {}); the agent at {} has not "
            + "delivered a new one", settings.service(), serial,
            left > 0 ? "expires in " + Duration.ofMillis(left) : "EXPIRED " + Duration.ofMillis(-left) + " ago",
            Instant.ofEpochMilli(notAfter), settings.agent().url());
      }
    } else {
      warnedSerial = null;
    }
  }

  /** Asks the agent for the leaf and roots at once (not blocking on an index). */
  private void refresh(Credentials before) {
    try {
      Roots r = fetchRoots(0, settings.waitTime()).value();
      Leaf l = fetchLeaf(0, settings.waitTime()).value();
      onRoots(r);
      onLeaf(l);
      if (current.leaf().equals(before.leaf())) {
        stale.increment();
        log.info("Consul Connect certificate of {} (serial {}) is past two thirds of its lifetime and the agent has "
            + "no newer one yet", settings.service(), before.leaf().getSerialNumber().toString(16));
      }
    } catch (RuntimeException e) {
      agentErrors.increment();
      log.warn("Could not refresh the Consul Connect certificate of {} from {}; keeping {}: {}", settings.service(),
          settings.agent().url(), before, e.toString());
    } finally {
      refreshing.set(false);
    }
  }

  private double secondsLeft() {
    Credentials c = current;
    return c == null ? Double.NaN : (c.leaf().getNotAfter().getTime() - clock.currentTimeMillis()) / 1000.0;
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    ScheduledFuture<?> f = check;
    if (f != null) {
      f.cancel(false);
    }
    for (BlockingWatch<?> w : watches) {
      w.close();
    }
    threads.shutdownNow();
    meters.remove(expiry);
    try {
      http.close();
    } catch (IOException e) {
      log.debug("closing the Consul HTTP client", e);
    }
  }

  @Override
  public String toString() {
    return "ConnectCertificateSource{" + settings.service() + " via " + settings.agent().url() + "}";
  }
}
