package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;
import java.util.Arrays;

/**
 * The endpoints one call has already tried, which its retries and replays avoid while others are
 * available. Created on a call's second attempt only, so a call that succeeds at once allocates
 * none. Used by one call at a time; not thread-safe.
 */
public final class Tried {
  private EndpointState[] endpoints = new EndpointState[4];
  private int size;

  /** Adds an endpoint (once). */
  public void add(EndpointState e) {
    if (contains(e)) {
      return;
    }
    if (size == endpoints.length) {
      endpoints = Arrays.copyOf(endpoints, size * 2);
    }
    endpoints[size++] = e;
  }

  /** Whether {@code e} was tried. */
  public boolean contains(EndpointState e) {
    for (int i = 0; i < size; i++) {
      if (endpoints[i] == e) {
        return true;
      }
    }
    return false;
  }

  /** How many distinct endpoints were tried. */
  public int size() {
    return size;
  }
}
