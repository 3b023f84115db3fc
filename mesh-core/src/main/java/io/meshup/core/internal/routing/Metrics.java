package io.meshup.core.internal.routing;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * MeshUp's meters. Names follow Micrometer's conventions: {@code mesh.<component>.<noun>},
 * bounded tag values only. Meters are resolved once when a table is compiled, never per request.
 */
public final class Metrics {
  /** Request timer: tags service, route, subset, outcome. */
  public static final String REQUESTS = "mesh.client.requests";
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

  private final MeterRegistry registry;

  public Metrics(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  Timer requestTimer(String service, String route, String subset, String outcome) {
    return Timer.builder(REQUESTS)
        .description("Requests sent through the mesh, by destination, route and outcome")
        .tags("service", service, "route", route, "subset", subset.isEmpty() ? "all" : subset, "outcome", outcome)
        .register(registry);
  }

  Counter ejections(String service, String subset) {
    return Counter.builder(EJECTIONS)
        .description("Endpoints ejected by outlier detection")
        .baseUnit("ejections")
        .tags("service", service, "subset", subset.isEmpty() ? "all" : subset)
        .register(registry);
  }

  Counter retries(String service, String result) {
    return Counter.builder(RETRIES)
        .description("Retries asked of the retry budget")
        .baseUnit("retries")
        .tags("service", service, "result", result)
        .register(registry);
  }

  /** Counts one policy update. */
  public void policyUpdate(String source, boolean accepted) {
    Counter.builder(POLICY_UPDATES)
        .description("Policy updates, accepted or rejected")
        .tags("source", source, "result", accepted ? "accepted" : "rejected")
        .register(registry)
        .increment();
  }

  /** The counter of inbound calls refused by {@code rule} of {@code policy}. */
  public Counter authzDenials(String policy, String rule) {
    return Counter.builder(AUTHZ_DENIALS)
        .description("Inbound calls refused by authorization policy")
        .baseUnit("calls")
        .tags("policy", policy, "rule", rule)
        .register(registry);
  }
}
