package io.meshup.core.internal.routing;

import io.meshup.core.internal.lb.Tried;
import io.meshup.core.internal.resilience.RetryBudget;
import io.meshup.core.route.ConnectionSettings;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.Rejection;
import io.meshup.core.route.RoutePolicy;
import io.meshup.core.route.RouteTarget;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;

/**
 * A compiled weighted destination: the route's policy, the subset, and meters resolved up front.
 * The call engine drives it: {@link #tryAcquire} once per logical call, {@link #pick},
 * {@link #attemptStarted} and {@link #attemptEnded} per attempt, {@link #tryRetry} per route retry,
 * and {@link #callEnded} (or {@link #release}) once at the end.
 *
 * <p>Thread-safe, non-blocking, allocation-free. Internal: used by {@code io.meshup.core.call}.
 */
public final class Target implements RouteTarget {
  private static final Outcome[] OUTCOMES = Outcome.values();
  private static final Rejection[] REJECTIONS = Rejection.values();

  private final RoutePolicy route;
  private final SubsetRuntime subset;
  private final ServiceRuntime destination;
  private final Timer[] callTimers;
  private final Counter[] rejections;
  private final Timer[] attemptTimers;
  private final RetryBudget budget;
  private final Counter retriesGranted;
  private final Counter retriesDenied;
  private final Counter bytesSent;
  private final Counter bytesReceived;

  Target(RoutePolicy route, SubsetRuntime subset, ServiceRuntime destination, Metrics.Owner meters) {
    this.route = route;
    this.subset = subset;
    this.destination = destination;
    this.budget = destination.retryBudget();
    this.callTimers = new Timer[OUTCOMES.length];
    this.attemptTimers = new Timer[OUTCOMES.length];
    for (Outcome o : OUTCOMES) {
      callTimers[o.ordinal()] = meters.requestTimer(subset.service(), route.name(), subset.name(), o.tag());
      attemptTimers[o.ordinal()] = meters.attempts(subset.service(), subset.name(), o.tag());
    }
    this.rejections = new Counter[REJECTIONS.length];
    for (Rejection r : REJECTIONS) {
      rejections[r.ordinal()] = meters.rejections(subset.service(), route.name(), subset.name(), r.tag());
    }
    this.retriesGranted = meters.retries(subset.service(), "granted");
    this.retriesDenied = meters.retries(subset.service(), "over_budget");
    this.bytesSent = meters.bytes(subset.service(), "sent");
    this.bytesReceived = meters.bytes(subset.service(), "received");
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
  public ConnectionSettings connectionSettings() {
    return subset.connectionSettings();
  }

  @Override
  public String describe() {
    return subset.description();
  }

  /** The destination's runtime (for idle tracking). */
  public ServiceRuntime destination() {
    return destination;
  }

  /**
   * Asks for a logical call's permit (concurrency limit, circuit breaker) and counts the call in
   * the retry budget.
   *
   * @return null when permitted, otherwise why not (the rejection is counted)
   */
  public Rejection tryAcquire(long now) {
    Rejection r = subset.tryAcquire();
    if (r != null) {
      rejections[r.ordinal()].increment();
      return r;
    }
    budget.onRequest(now);
    destination.touch(now);
    return null;
  }

  /**
   * Picks an endpoint, preferring those {@code tried} does not hold.
   *
   * @return null when the subset is empty
   */
  public EndpointState pick(Tried tried) {
    return subset.pick(tried, subset.clock().nanoTime());
  }

  /** As {@link #pick(Tried)}, at {@code now} on the mesh's clock. */
  public EndpointState pick(Tried tried, long now) {
    return subset.pick(tried, now);
  }

  /** Marks the start of an attempt on {@code endpoint}. */
  public void attemptStarted(EndpointState endpoint) {
    endpoint.started();
  }

  /**
   * Records how an attempt ended; {@code nanos} is its latency (a stream's: to its response
   * headers). A connect failure also marks the endpoint unreachable for a moment; an unresponsive
   * peer is ejected at once.
   */
  public void attemptEnded(EndpointState endpoint, long now, long nanos, Outcome outcome, boolean connectFailed,
      boolean unresponsive) {
    if (connectFailed) {
      endpoint.connectFailed(now);
    }
    subset.attemptEnded(endpoint, now, nanos, outcome, unresponsive);
    attemptTimers[outcome.ordinal()].record(nanos, TimeUnit.NANOSECONDS);
  }

  /** Records how a logical call ended and returns its permit. */
  public void callEnded(long nanos, Outcome outcome) {
    subset.callEnded(nanos, outcome);
    callTimers[outcome.ordinal()].record(nanos, TimeUnit.NANOSECONDS);
  }

  /** Returns a permit that was acquired but ends without an outcome (a fault abort, say). */
  public void release() {
    subset.release();
  }

  /**
   * Registers {@code waiter} to run once the registry first answers about this destination (or
   * fails); false when it already did, and nothing is worth waiting for.
   */
  public boolean awaitEndpoints(Runnable waiter) {
    return destination.awaitEndpoints(waiter);
  }

  /** Withdraws a waiter {@link #awaitEndpoints} registered (the call ended before the answer). */
  public void stopAwaiting(Runnable waiter) {
    destination.stopAwaiting(waiter);
  }

  /** Why the destination has no endpoints yet: the registry's failure, "no answer" before its first answer, else null. */
  public String discoveryState() {
    if (destination.endpointsKnown()) {
      return null;
    }
    String error = destination.discoveryError();
    return error != null ? "the registry failed before listing any: " + error : "the registry has not answered yet";
  }

  /** Counts a rejection after the permit was granted (used for {@link Rejection#NO_ENDPOINTS}). */
  public void reject(Rejection rejection) {
    subset.release();
    rejections[rejection.ordinal()].increment();
  }

  /**
   * Asks the destination's retry budget for one retry; counted either way.
   *
   * @return false when retries are over budget
   */
  public boolean tryRetry(long now) {
    if (budget.tryRetry(now)) {
      retriesGranted.increment();
      return true;
    }
    retriesDenied.increment();
    return false;
  }

  /** Counts bytes a call to this target put on and took off the wire. */
  public void bytes(long sent, long received) {
    if (sent > 0) {
      bytesSent.increment(sent);
    }
    if (received > 0) {
      bytesReceived.increment(received);
    }
  }

  @Override
  public String toString() {
    return route.name() + " -> " + subset.description();
  }
}
