package io.meshup.grpc.internal;

import io.grpc.ManagedChannel;
import io.meshup.core.call.ReplayBudget;

/** What mesh-grpc's tests may look at inside its channels. */
public final class TestAccess {
  private TestAccess() {}

  /** The replay budget of a channel made by {@code MeshChannels}. */
  public static ReplayBudget replayBudget(ManagedChannel channel) {
    return ((MeshManagedChannel) channel).replayBudget();
  }
}
