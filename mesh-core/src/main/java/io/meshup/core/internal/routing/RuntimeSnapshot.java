package io.meshup.core.internal.routing;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.meshup.core.MeshSnapshot;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The destinations and policy sources of a {@link MeshRuntime} as {@link MeshSnapshot} values. Reads
 * the structures the request path reads (volatile arrays, atomics) without the control lock, so a
 * snapshot taken during an update may show a route table and subsets from either side of it.
 */
public final class RuntimeSnapshot {
  private RuntimeSnapshot() {}

  /** The policy sources, lowest precedence first, with what each last sent. */
  public static List<MeshSnapshot.PolicySource> sources(MeshRuntime runtime) {
    Map<String, Integer> counts = runtime.sources();
    List<MeshSnapshot.PolicySource> out = new ArrayList<>();
    runtime.sourceHistory().forEach((name, h) -> out.add(new MeshSnapshot.PolicySource(name,
        counts.getOrDefault(name, 0), instant(h.lastAcceptedMillis()), instant(h.lastRejectedMillis()), h.lastError())));
    return out;
  }

  /** Every destination the runtime holds, sorted by name. */
  public static List<MeshSnapshot.Destination> destinations(MeshRuntime runtime) {
    List<ServiceRuntime> all = runtime.destinations();
    all.sort(java.util.Comparator.comparing(ServiceRuntime::service));
    long nowNanos = runtime.clock().nanoTime();
    long nowMillis = runtime.clock().currentTimeMillis();
    List<MeshSnapshot.Destination> out = new ArrayList<>(all.size());
    for (ServiceRuntime r : all) {
      out.add(destination(r, nowNanos, nowMillis));
    }
    return out;
  }

  /** True when every destination has had an answer from its registry (endpoints, or an error). */
  public static boolean ready(MeshRuntime runtime) {
    for (ServiceRuntime r : runtime.destinations()) {
      if (!r.endpointsKnown() && r.discoveryError() == null) {
        return false;
      }
    }
    return true;
  }

  private static MeshSnapshot.Destination destination(ServiceRuntime r, long nowNanos, long nowMillis) {
    Throwable error = r.watchError();
    MeshSnapshot.Registry registry = new MeshSnapshot.Registry(r.endpointsKnown(), r.endpointStates().size(),
        r.watchErrors(), error == null ? null : String.valueOf(error.getMessage() != null ? error.getMessage() : error),
        error == null ? null : instant(r.watchErrorMillis()));
    List<MeshSnapshot.Route> routes = new ArrayList<>();
    for (CompiledRoute c : r.routes()) {
      Target[] ts = c.targets();
      List<MeshSnapshot.WeightedTarget> targets = new ArrayList<>(ts.length);
      for (int i = 0; i < ts.length; i++) {
        targets.add(new MeshSnapshot.WeightedTarget(ts[i].service(), Metrics.subsetTag(ts[i].subset()), c.weight(i)));
      }
      var policy = ts.length == 0 ? null : ts[0].route();
      routes.add(new MeshSnapshot.Route(policy == null ? "" : policy.name(), c.matchCount(),
          policy == null ? 0 : TimeUnit.NANOSECONDS.toMillis(policy.timeoutNanos()),
          policy == null ? 0 : policy.retries().attempts(),
          policy == null ? 0 : TimeUnit.NANOSECONDS.toMillis(policy.retries().perTryTimeoutNanos()), targets));
    }
    List<MeshSnapshot.Subset> subsets = new ArrayList<>();
    for (SubsetRuntime s : r.subsets()) {
      List<MeshSnapshot.EndpointView> eps = new ArrayList<>();
      for (EndpointState e : s.memberStates()) {
        long until = e.ejectedUntil();
        boolean ejected = e.isEjected(nowNanos);
        eps.add(new MeshSnapshot.EndpointView(e.endpoint().id(), e.endpoint().authority(), e.endpoint().labels(),
            e.endpoint().weight(), Math.round(e.ewmaNanos() / 1e3) / 1e3, e.inFlight(), e.consecutiveFailures(), ejected,
            ejected ? instant(nowMillis + TimeUnit.NANOSECONDS.toMillis(until - nowNanos)) : null, e.ejections(),
            e.connectivity().name().toLowerCase(Locale.ROOT)));
      }
      CircuitBreaker b = s.breaker();
      subsets.add(new MeshSnapshot.Subset(Metrics.subsetTag(s.name()), s.labels(), s.balancerName(),
          b == null ? "disabled" : b.getState().name().toLowerCase(Locale.ROOT),
          b == null ? -1 : b.getMetrics().getFailureRate(), s.inFlight(), eps));
    }
    return new MeshSnapshot.Destination(r.service(), registry, routes, subsets);
  }

  private static Instant instant(long millis) {
    return millis == 0 ? null : Instant.ofEpochMilli(millis);
  }
}
