package io.meshup.consul.internal;

import io.meshup.core.spi.PolicyUpdates;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the Connect intentions that apply to this service and keeps the mesh's policy in step
 * with what the agent would decide ({@link Intentions}), failing closed whenever that cannot be
 * known: until the intentions and the agent's default have been read once (an agent unreachable
 * at start refuses every caller), when the token may not read them (403), and when an answer
 * cannot be trusted. After a first good read, an agent that stops answering leaves the last good
 * intentions in force, as the agent's own cache would. Each failure is logged and counted in
 * {@code mesh.intentions.failures{reason}}; {@code mesh.intentions.closed} is 1 while every caller
 * is refused for want of a decision.
 *
 * <p>Waits for changes by blocking query on {@code /v1/connect/intentions}, then reads
 * {@code /v1/connect/intentions/match?by=destination&name=<service>}, which answers 403, not an
 * empty or shortened list, when the token lacks {@code intentions:read} on the service; learns
 * the agent's default by asking {@code /v1/agent/connect/authorize} about a caller of a namespace
 * no OSS intention names, which only the default can decide. Runs on its watch thread.
 */
final class IntentionsWatch {
  private static final Logger log = LoggerFactory.getLogger(IntentionsWatch.class);
  /** The namespace of the probe caller: no OSS intention names it, so only the default decides it. */
  static final String PROBE_NAMESPACE = "meshup-default-probe";

  private final ConsulApi api;
  private final String service;
  private final String datacenter;
  private final PolicyUpdates updates;
  private final MeterRegistry meters;
  private final AtomicInteger closed = new AtomicInteger();
  private volatile boolean known;

  private final java.time.Duration wait;
  private final ConsulSettings.Backoff backoff;

  IntentionsWatch(ConsulApi api, String service, String datacenter, PolicyUpdates updates, MeterRegistry meters,
      java.time.Duration wait, ConsulSettings.Backoff backoff) {
    this.wait = wait;
    this.backoff = backoff;
    this.api = api;
    this.service = service;
    this.datacenter = datacenter;
    this.updates = updates;
    this.meters = meters;
    Gauge.builder("mesh.intentions.closed", closed, AtomicInteger::get)
        .description("1 while every caller is refused because the Consul intentions cannot be read or trusted")
        .register(meters);
  }

  /** Refuses every caller until the first good read. */
  void closeUntilRead() {
    closed.set(1);
    updates.apply(ConsulRegistry.INTENTIONS_SOURCE, () -> Intentions.failClosed(service));
    log.info("Consul intentions for {}: every caller is refused until the intentions are read", service);
  }

  BlockingWatch<JsonElement> watch() {
    return new BlockingWatch<>("intentions", meters, wait, backoff) {
      @Override
      ConsulApi.Result<JsonElement> fetch(long index, java.time.Duration wait) {
        // the list blocks until a change (match does not block); match is the answer to trust:
        // it refuses with 403 where the list silently leaves out what the token may not read
        ConsulApi.Result<JsonElement> list = api.get("/v1/connect/intentions", index, wait, Map.of());
        JsonElement match = api.get("/v1/connect/intentions/match", 0, Map.of("by", "destination", "name", service)).value();
        return list.map(v -> match);
      }

      @Override
      void deliver(JsonElement answer) {
        changed(answer);
      }

      @Override
      void failed(Exception e) {
        if (e instanceof ConsulApi.Failure f && (f.status() == 403 || f.status() == 401)) {
          failClosed("forbidden", "the ACL token may not read the intentions of " + service + " (" + e.getMessage() + ")");
        } else if (!known) {
          failClosed("unreachable", "the agent cannot be read (" + e.getMessage() + ")");
        } else {
          count("unreachable");
        }
      }
    };
  }

  void changed(JsonElement answer) {
    List<Intentions.Intention> ranked;
    boolean defaultAllow;
    try {
      ranked = Intentions.parse(service, answer);
      defaultAllow = defaultAllow();
    } catch (ConsulApi.Failure e) {
      failClosed(e.status() == 403 || e.status() == 401 ? "forbidden" : "unreachable",
          "the agent's default cannot be read (" + e.getMessage() + ")");
      return;
    } catch (Intentions.Untrusted e) {
      failClosed("untrusted", e.getMessage());
      return;
    } catch (RuntimeException e) {
      failClosed("unreachable", e.toString());
      return;
    }
    boolean wasClosed = closed.get() == 1;
    if (updates.apply(ConsulRegistry.INTENTIONS_SOURCE, () -> Intentions.translate(service, ranked, defaultAllow))) {
      known = true;
      closed.set(0);
      if (wasClosed) {
        log.info("Consul intentions for {}: {} intentions apply, default {}; callers are decided by them again", service,
            ranked.size(), defaultAllow ? "allow" : "deny");
      }
    } else {
      failClosed("untrusted", "the intentions could not be turned into policy");
    }
  }

  /**
   * The agent's decision when no intention matches: asked of the agent itself for a caller of a
   * namespace no OSS intention names.
   *
   * @throws Intentions.Untrusted when an intention decided the probe after all
   */
  boolean defaultAllow() {
    JsonObject req = new JsonObject();
    req.addProperty("Target", service);
    req.addProperty("ClientCertURI", "spiffe://meshup.probe/ns/" + PROBE_NAMESPACE + "/dc/"
        + (datacenter.isEmpty() ? "dc1" : datacenter) + "/svc/meshup-default-probe");
    JsonElement r = api.post("/v1/agent/connect/authorize", req.toString());
    if (!r.isJsonObject() || !r.getAsJsonObject().has("Authorized")) {
      throw new Intentions.Untrusted("the agent's authorize answer has no decision");
    }
    String reason = r.getAsJsonObject().has("Reason") ? r.getAsJsonObject().get("Reason").getAsString() : "";
    if (reason.startsWith("Matched")) {
      throw new Intentions.Untrusted("an intention decided the default probe (" + reason + ")");
    }
    return r.getAsJsonObject().get("Authorized").getAsBoolean();
  }

  private void failClosed(String reason, String why) {
    count(reason);
    boolean was = closed.getAndSet(1) == 1;
    log.error("Consul intentions for {} cannot be decided ({}): {}; every caller is refused{}", service, reason, why,
        was ? " (still)" : "");
    if (!was) {
      updates.apply(ConsulRegistry.INTENTIONS_SOURCE, () -> Intentions.failClosed(service));
    }
  }

  private void count(String reason) {
    Counter.builder("mesh.intentions.failures")
        .description("Times the Consul intentions could not be read or trusted")
        .tag("reason", reason)
        .register(meters)
        .increment();
  }
}
