package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;

/** Uniformly random over available endpoints (weights come from the subset's schedule). */
final class RandomPick extends Balancer {
  @Override
  public EndpointState pick(EndpointState[] m, EndpointState avoid, long now) {
    return randomAvailable(m, avoid, now);
  }
}
