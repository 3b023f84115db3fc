package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Round robin: one atomic counter bump per pick, as grpc-java's picker. Weighted endpoints are
 * served by the subset's weighted schedule (each endpoint repeated by its weight).
 */
final class RoundRobin extends Balancer {
  private final AtomicInteger next = new AtomicInteger(java.util.concurrent.ThreadLocalRandom.current().nextInt(1 << 16));

  @Override
  public EndpointState pick(EndpointState[] m, EndpointState avoid, long now) {
    int n = m.length;
    int start = (next.getAndIncrement() & Integer.MAX_VALUE) % n;
    EndpointState e = m[start];
    if (e != avoid && e.isAvailable(now)) {
      return e;
    }
    return walk(m, (start + 1) % n, avoid, now);
  }
}
