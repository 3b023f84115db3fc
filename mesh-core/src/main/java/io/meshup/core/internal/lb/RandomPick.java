package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;

/** Uniformly random over the best-ranked endpoints (weights come from the subset's schedule). */
final class RandomPick extends Balancer {
  @Override
  public EndpointState pick(EndpointState[] m, Tried tried, long now, boolean panic) {
    return randomBest(m, tried, now, panic);
  }
}
