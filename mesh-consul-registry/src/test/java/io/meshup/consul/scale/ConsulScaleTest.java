package io.meshup.consul.scale;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintStream;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The scale runs of issue 19 at the suite's size (the figures at 100 to 1,000 destinations come from
 * {@code jmh/consul-scale.sh}): a real 3-server cluster and two client agents at Consul's default
 * connection limit. Only outcomes are asserted, never times: every destination served, no failed
 * call, the registry's threads and connections fixed.
 */
class ConsulScaleTest {
  @Test
  void everyDestinationServedOnAFewThreadsAndConnectionsWithNoFailedCall() throws Exception {
    ConsulScale.Options o = new ConsulScale.Options(40, 2, 10, Duration.ofSeconds(3), 200, Duration.ofSeconds(5),
        Duration.ofSeconds(60), "");
    ConsulScale.Result r = ConsulScale.run(o, new PrintStream(System.out, true));
    assertThat(r.destinationsNeverServed()).isZero();
    assertThat(r.destinationsWithAllEndpoints()).isEqualTo(40);
    assertThat(r.steadyFailed()).as("failed calls: %s", r.failures()).isZero();
    assertThat(r.healthChanges()).isEqualTo(10);
    assertThat(r.registryThreads()).isLessThan(10);
    assertThat(r.agentSockets()).isLessThan(10);
  }

  @Test
  void leaderKilledAndQuorumLostFailNoCallAndWatchesComeBack() throws Exception {
    ConsulScale.LeaderLossResult r = ConsulScale.leaderLoss(10, 100, Duration.ofSeconds(4), new PrintStream(System.out, true));
    assertThat(r.failed()).as("failed calls: %s", r.failures()).isZero();
    assertThat(r.calls()).isPositive();
  }
}
