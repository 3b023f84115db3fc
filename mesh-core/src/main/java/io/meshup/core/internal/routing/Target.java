package io.meshup.core.internal.routing;

import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RoutePolicy;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.internal.resilience.RetryBudget;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;

/** A compiled weighted destination: the route's policy, the subset, and meters resolved up front. */
final class Target implements RouteTarget {
  private static final Outcome[] OUTCOMES = Outcome.values();
  private static final Rejection[] REJECTIONS = Rejection.values();

  private final RoutePolicy route;
  private final SubsetRuntime subset;
  private final ServiceRuntime destination;
  private final Timer[] outcomeTimers;
  private final Timer[] rejectionTimers;
  private final RetryBudget budget;
  private final Counter retriesGranted;
  private final Counter retriesDenied;

  Target(RoutePolicy route, SubsetRuntime subset, ServiceRuntime destination, Metrics metrics) {
    this.route = route;
    this.subset = subset;
    this.destination = destination;
    this.budget = destination.retryBudget();
    this.outcomeTimers = new Timer[OUTCOMES.length];
    for (Outcome o : OUTCOMES) {
      outcomeTimers[o.ordinal()] = metrics.requestTimer(subset.service(), route.name(), subset.name(), o.tag());
    }
    this.rejectionTimers = new Timer[REJECTIONS.length];
    for (Rejection r : REJECTIONS) {
      rejectionTimers[r.ordinal()] = metrics.requestTimer(subset.service(), route.name(), subset.name(), r.tag());
    }
    this.retriesGranted = metrics.retries(subset.service(), "granted");
    this.retriesDenied = metrics.retries(subset.service(), "over_budget");
  }

  SubsetRuntime subsetRuntime() {
    return subset;
  }

  @Override
  public RoutePolicy route() {
    return route;
  }

  @Override
  public String service() {
    return subset.service();
  }

  @Override
  public String subset() {
    return subset.name();
  }

  @Override
  public Rejection tryAcquire() {
    Rejection r = subset.tryAcquire();
    if (r != null) {
      rejectionTimers[r.ordinal()].record(0, TimeUnit.NANOSECONDS);
    }
    return r;
  }

  @Override
  public EndpointHandle pick(EndpointHandle avoid) {
    return subset.pick(avoid instanceof EndpointState ? (EndpointState) avoid : null);
  }

  @Override
  public long begin(EndpointHandle endpoint) {
    ((EndpointState) endpoint).started();
    long now = destination.clock().nanoTime();
    budget.onRequest(now);
    return now;
  }

  @Override
  public void record(EndpointHandle endpoint, long startNanos, Outcome outcome) {
    long rtt = subset.record((EndpointState) endpoint, startNanos, outcome);
    outcomeTimers[outcome.ordinal()].record(rtt, TimeUnit.NANOSECONDS);
  }

  @Override
  public void release() {
    subset.release();
  }

  @Override
  public void reject(Rejection rejection) {
    rejectionTimers[rejection.ordinal()].record(0, TimeUnit.NANOSECONDS);
  }

  @Override
  public boolean tryRetry() {
    if (budget.tryRetry(destination.clock().nanoTime())) {
      retriesGranted.increment();
      return true;
    }
    retriesDenied.increment();
    return false;
  }

  @Override
  public io.meshup.core.route.ConnectionSettings connectionSettings() {
    return subset.connectionSettings();
  }

  @Override
  public String describe() {
    return subset.description();
  }

  @Override
  public String toString() {
    return route.name() + " -> " + subset.description();
  }
}
