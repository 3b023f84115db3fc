package io.meshup.core.internal.authz;

import io.meshup.core.MeshClock;
import io.meshup.core.internal.jwt.JwksCache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiFunction;
import java.util.function.Consumer;

/**
 * What policies are compiled for: this workload's service name, namespace and labels (what
 * {@code selector}s match), its trust domain and aliases (what principals mean), the root
 * namespace (mesh-wide policies), the extension providers CUSTOM policies may name, and where
 * counters, keys and time come from. Immutable.
 *
 * @param trustDomain this workload's trust domain, or null without certificates
 * @param scheduler times external authorizers' checks (null: no timeout, for tests without CUSTOM)
 * @param denials the counter of refusals by policy and rule, resolved once per rule when compiling
 * @param held told of every other meter a compiled policy registers, so that it goes with the
 *     policy (null: nobody is told)
 */
public record Workload(String service, String namespace, Map<String, String> labels, String trustDomain,
    List<String> trustDomainAliases, String rootNamespace, ExternalAuthorizers externalAuthorizers, JwksCache jwks,
    MeshClock clock, ScheduledExecutorService scheduler, MeterRegistry meters, BiFunction<String, String, Counter> denials,
    Consumer<Meter> held) {
  /** Istio's default root namespace. */
  public static final String DEFAULT_ROOT_NAMESPACE = "istio-system";

  public Workload {
    labels = Map.copyOf(labels);
    trustDomainAliases = List.copyOf(trustDomainAliases);
  }

  /** A workload of {@code service} in namespace {@code default}, labelled {@code app: <service>}, with nothing else (tests, defaults). */
  public static Workload basic(String service, MeshClock clock, MeterRegistry meters,
      BiFunction<String, String, Counter> denials) {
    return new Workload(service, "default", Map.of("app", service), null, List.of(), DEFAULT_ROOT_NAMESPACE,
        ExternalAuthorizers.NONE, null, clock, null, meters, denials, null);
  }

  /** This workload, its denial counters from {@code denials} and its other meters told to {@code held}. */
  public Workload withMeters(BiFunction<String, String, Counter> denials, Consumer<Meter> held) {
    return new Workload(service, namespace, labels, trustDomain, trustDomainAliases, rootNamespace, externalAuthorizers,
        jwks, clock, scheduler, meters, denials, held);
  }

  /** {@code m}, told to {@link #held}. */
  <M extends Meter> M hold(M m) {
    if (held != null) {
      held.accept(m);
    }
    return m;
  }

  Counter denial(String policy, String rule) {
    return denials == null ? null : denials.apply(policy, rule);
  }
}
