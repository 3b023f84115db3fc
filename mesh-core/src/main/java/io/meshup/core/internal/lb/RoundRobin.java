package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Round robin: one atomic counter bump per pick, as grpc-java's picker. Weighted endpoints are
 * served by the subset's weighted schedule (each endpoint repeated by its weight). An endpoint that
 * ranks worse than ready (tried, ejected, unreachable) is passed over for the next one that does not.
 */
final class RoundRobin extends Balancer {
  private final AtomicInteger next = new AtomicInteger(java.util.concurrent.ThreadLocalRandom.current().nextInt(1 << 16));

  @Override
  public EndpointState pick(EndpointState[] m, Tried tried, long now, boolean panic) {
    int n = m.length;
    int start = (next.getAndIncrement() & Integer.MAX_VALUE) % n;
    EndpointState e = m[start];
    if (rank(e, tried, now, panic) == 0) {
      return e;
    }
    return walk(m, (start + 1) % n, tried, now, panic);
  }
}
