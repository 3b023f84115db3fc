package io.meshup.core.internal.routing;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * MeshUp's meters. Names follow Micrometer's conventions: {@code mesh.<component>.<noun>},
 * bounded tag values only. Meters are resolved once when a table is compiled, never per request.
 *
 * <p>Meters of the request path belong to an {@link Owner} (one destination's compiled routes and
 * subsets); when a table is replaced, the meters only the old one used are removed from the
 * registry, so routes, subsets and destinations no longer in force leave no meters behind. Tag
 * values longer than {@link #MAX_TAG_LENGTH} are cut (with a hash kept, so two long values stay
 * apart).
 */
public final class Metrics {
  /** Logical calls that got a permit: a timer with histogram buckets, tags service, route, subset, outcome. */
  public static final String REQUESTS = "mesh.client.requests";
  /** Attempts of logical calls (first tries, replays and retries): a timer with histogram buckets, tags service, subset, outcome. */
  public static final String ATTEMPTS = "mesh.client.attempts";
  /** Logical calls refused before any attempt: a counter, tags service, route, subset, reason. */
  public static final String REJECTIONS = "mesh.client.rejections";
  /** Bytes on the wire of outbound calls, where the transport knows them (gRPC): tags service, direction (sent|received). */
  public static final String CLIENT_BYTES = "mesh.client.bytes";
  /** Bytes on the wire of inbound calls, where the transport knows them (gRPC): tags protocol, direction. */
  public static final String SERVER_BYTES = "mesh.server.bytes";
  /** Failures the registry reported for a destination (its last endpoints keep serving): tags service. */
  public static final String REGISTRY_ERRORS = "mesh.registry.errors";
  /** Inbound calls a MeshUp server handled: a timer with histogram buckets, tags protocol, caller, status. */
  public static final String SERVER_REQUESTS = "mesh.server.requests";
  /** Endpoint gauge: tags service, subset, state (healthy|ejected). */
  public static final String ENDPOINTS = "mesh.endpoints";
  /** Breaker state gauge, 1 for the current state: tags service, subset, state. */
  public static final String BREAKER_STATE = "mesh.circuitbreaker.state";
  /** Ejection counter: tags service, subset. */
  public static final String EJECTIONS = "mesh.outlier.ejections";
  /** Retry counter: tags service, result (granted|over_budget). */
  public static final String RETRIES = "mesh.client.retries";
  /** Policy update counter: tags source, result (accepted|rejected). */
  public static final String POLICY_UPDATES = "mesh.policy.updates";
  /** Refused inbound calls: tags policy (a policy name, or none), rule (rules[i], none or mtls). */
  public static final String AUTHZ_DENIALS = "mesh.authz.denials";
  /** Requests an AUDIT AuthorizationPolicy matched: tags policy, rule. */
  public static final String AUTHZ_AUDITS = "mesh.authz.audits";
  /** Requests a dry-run AuthorizationPolicy matched (never enforced): tags policy, rule. */
  public static final String AUTHZ_DRYRUN = "mesh.authz.dryrun";
  /** Checks by an external authorizer (CUSTOM): tags provider, result. */
  public static final String AUTHZ_CUSTOM = "mesh.authz.custom";
  /** Requests refused for their JWT: tags reason. */
  public static final String JWT_REJECTIONS = "mesh.jwt.rejections";
  /** Fetches of JSON Web Key Sets: tags result (success|failure). */
  public static final String JWKS_FETCHES = "mesh.jwks.fetches";
  /** Refused TLS peers: tags side (client|server), reason. */
  public static final String TLS_REJECTIONS = "mesh.tls.rejections";
  /** Seconds until the workload's certificate expires: a gauge, tags service, source. */
  public static final String CERTIFICATE_EXPIRY = "mesh.tls.certificate.expiry";
  /** Inbound connections closed because the mTLS mode in force does not accept their transport: tags mode, transport. */
  public static final String CONNECTIONS_REFUSED = "mesh.server.connections.refused";
  /** Inbound requests refused for their target before authorization: tags reason. */
  public static final String SERVER_REQUESTS_REJECTED = "mesh.server.requests.rejected";

  /** Empty registry answers held off by the grace period (no tags: the log line names the service). */
  public static final String EMPTY_ANSWERS_HELD = "mesh.registry.empty.held";

  /**
   * The histogram buckets of every latency timer (Prometheus {@code _bucket} series, for
   * {@code histogram_quantile} and SLOs): 1 ms to 30 s, plus {@code +Inf}.
   */
  public static final java.time.Duration[] LATENCY_BUCKETS = buckets(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
      5000, 10000, 30000);

  private static java.time.Duration[] buckets(long... millis) {
    java.time.Duration[] d = new java.time.Duration[millis.length];
    for (int i = 0; i < millis.length; i++) {
      d[i] = java.time.Duration.ofMillis(millis[i]);
    }
    return d;
  }

  /** A latency timer of {@code name} with MeshUp's histogram buckets (not yet registered). */
  public static Timer.Builder latencyTimer(String name, String description) {
    return Timer.builder(name).description(description).serviceLevelObjectives(LATENCY_BUCKETS);
  }

  /** Longest tag value kept whole. */
  static final int MAX_TAG_LENGTH = 96;

  private final MeterRegistry registry;
  /** How many owners hold each request-path meter; guarded by this. */
  private final Map<Meter.Id, Integer> holders = new HashMap<>();

  public Metrics(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** A new, empty set of meters; {@link #replace} makes it hold what it registered. */
  Owner owner() {
    return new Owner();
  }

  /**
   * Makes {@code next} hold its meters and {@code previous} (or null) give up its own: meters no
   * owner holds any more are removed from the registry.
   */
  synchronized void replace(Owner previous, Owner next) {
    if (next != null) {
      for (Meter m : next.meters) {
        holders.merge(m.getId(), 1, Integer::sum);
      }
    }
    if (previous != null) {
      for (Meter m : previous.meters) {
        Integer n = holders.get(m.getId());
        if (n == null || n <= 1) {
          holders.remove(m.getId());
          registry.remove(m.getId());
        } else {
          holders.put(m.getId(), n - 1);
        }
      }
    }
  }

  /** Removes the meters {@code unused} registered that no owner holds (an owner never put in force). */
  synchronized void discard(Owner unused) {
    for (Meter m : unused.meters) {
      if (!holders.containsKey(m.getId())) {
        registry.remove(m.getId());
      }
    }
  }

  /** {@code value}, cut to a bounded length for use as a tag value. */
  public static String tag(String value) {
    if (value.length() <= MAX_TAG_LENGTH) {
      return value;
    }
    return value.substring(0, MAX_TAG_LENGTH - 9) + "~" + String.format("%08x", value.hashCode());
  }

  static String subsetTag(String subset) {
    return subset.isEmpty() ? "all" : tag(subset);
  }

  /**
   * Counts one policy update. Both results of a source are registered at its first update, so the
   * first rejection shows as an increase (Prometheus's {@code increase} sees none in a series that
   * starts at 1).
   */
  public void policyUpdate(String source, boolean accepted) {
    Counter yes = policyUpdates(source, "accepted");
    Counter no = policyUpdates(source, "rejected");
    (accepted ? yes : no).increment();
  }

  private Counter policyUpdates(String source, String result) {
    return Counter.builder(POLICY_UPDATES)
        .description("Policy updates, accepted or rejected")
        .tags("source", tag(source), "result", result)
        .register(registry);
  }

  /** Counts an empty registry answer held off (mesh.defaults.emptyEndpointsGrace). */
  public void emptyAnswerHeld() {
    Counter.builder(EMPTY_ANSWERS_HELD)
        .description("Empty registry answers held off while the last known endpoints keep serving")
        .register(registry)
        .increment();
  }

  /** The counter of inbound calls refused by {@code rule} of {@code policy}. */
  public Counter authzDenials(String policy, String rule) {
    return Counter.builder(AUTHZ_DENIALS)
        .description("Inbound calls refused by authorization policy")
        .baseUnit("calls")
        .tags("policy", tag(policy), "rule", tag(rule))
        .register(registry);
  }

  /** The meters one compiled destination table uses. Built on the control path; not thread-safe. */
  final class Owner {
    private final List<Meter> meters = new ArrayList<>();

    private <M extends Meter> M held(M m) {
      meters.add(m);
      return m;
    }

    /** Makes this owner hold {@code m}, a meter registered elsewhere. */
    void hold(Meter m) {
      meters.add(m);
    }

    Timer requestTimer(String service, String route, String subset, String outcome) {
      return held(latencyTimer(REQUESTS,
              "Logical calls sent through the mesh (after replays and retries), by destination, route and outcome")
          .tags("service", tag(service), "route", tag(route), "subset", subsetTag(subset), "outcome", outcome)
          .register(registry));
    }

    Timer attempts(String service, String subset, String outcome) {
      return held(latencyTimer(ATTEMPTS,
              "Attempts of logical calls (first tries, replays and retries), by destination and outcome")
          .tags("service", tag(service), "subset", subsetTag(subset), "outcome", outcome)
          .register(registry));
    }

    Counter rejections(String service, String route, String subset, String reason) {
      return held(Counter.builder(REJECTIONS)
          .description("Logical calls the mesh refused before any attempt (breaker open, concurrency limit, no endpoint)")
          .tags("service", tag(service), "route", tag(route), "subset", subsetTag(subset), "reason", reason)
          .register(registry));
    }

    Counter ejections(String service, String subset) {
      return held(Counter.builder(EJECTIONS)
          .description("Endpoints ejected by outlier detection")
          .baseUnit("ejections")
          .tags("service", tag(service), "subset", subsetTag(subset))
          .register(registry));
    }

    Counter authzDenials(String policy, String rule) {
      return held(Metrics.this.authzDenials(policy, rule));
    }

    Counter bytes(String service, String direction) {
      return held(Counter.builder(CLIENT_BYTES)
          .description("Bytes on the wire of calls to a destination (gRPC's wire sizes), sent or received")
          .baseUnit("bytes")
          .tags("service", tag(service), "direction", direction)
          .register(registry));
    }

    Counter registryErrors(String service) {
      return held(Counter.builder(REGISTRY_ERRORS)
          .description("Failures the registry reported for a destination; its last endpoints keep serving")
          .tags("service", tag(service))
          .register(registry));
    }

    Counter retries(String service, String result) {
      return held(Counter.builder(RETRIES)
          .description("Retries asked of the retry budget")
          .baseUnit("retries")
          .tags("service", tag(service), "result", result)
          .register(registry));
    }

    /**
     * A gauge of {@code obj}; one already registered under the same id is held as it is (Micrometer
     * keeps a gauge's first registration and warns at the second), so {@code f} must read what is in
     * force, not what {@code obj} was when the first table registered it.
     */
    <T> Gauge gauge(String name, String description, T obj, ToDoubleFunction<T> f, String... tags) {
      for (int i = 1; i < tags.length; i += 2) {
        tags[i] = tag(tags[i]);
      }
      Gauge existing = registry.find(name).tags(tags).gauge();
      if (existing != null) {
        return held(existing);
      }
      return held(Gauge.builder(name, obj, f).description(description).tags(tags).strongReference(true)
          .register(registry));
    }
  }
}
