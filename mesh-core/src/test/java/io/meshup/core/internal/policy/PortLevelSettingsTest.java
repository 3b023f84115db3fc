package io.meshup.core.internal.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.internal.policy.PolicyModel.BalancerKind;
import io.meshup.core.internal.policy.PolicyModel.CircuitBreaker;
import io.meshup.core.internal.policy.PolicyModel.TrafficPolicy;
import io.meshup.core.route.ClientTls;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code portLevelSettings} merged as Istio merges them: "Traffic settings specified at the
 * destination-level will not be inherited when overridden by port-level settings, i.e. default values
 * will be applied to fields omitted in port-level traffic policies" (istio/api destination_rule.proto),
 * and subsets in the order of pilot's {@code MergeTrafficPolicy}.
 */
class PortLevelSettingsTest {
  private static final TrafficPolicy PORT_9080 =
      new TrafficPolicy(BalancerKind.RANDOM, null, null, null, null);
  private static final TrafficPolicy RULE = new TrafficPolicy(BalancerKind.ROUND_ROBIN, null, null,
      CircuitBreaker.DEFAULT, ClientTls.ISTIO_MUTUAL, null, null, null, Map.of(9080, PORT_9080));

  @Test
  void aPortWithSettingsTakesOnlyThoseAndTheDefaults() {
    TrafficPolicy p = RULE.forPort(9080);
    assertThat(p.loadBalancer()).isEqualTo(BalancerKind.RANDOM);
    assertThat(p.tls()).as("destination-level tls is not inherited").isNull();
    assertThat(p.circuitBreaker()).as("MeshUp's breaker has no port level").isEqualTo(CircuitBreaker.DEFAULT);
    assertThat(p.portLevel()).isEmpty();
  }

  @Test
  void otherPortsTakeTheDestinationLevel() {
    TrafficPolicy p = RULE.forPort(9443);
    assertThat(p.loadBalancer()).isEqualTo(BalancerKind.ROUND_ROBIN);
    assertThat(p.tls()).isEqualTo(ClientTls.ISTIO_MUTUAL);
    assertThat(RULE.forPort(0).portLevel()).isEmpty();
  }

  @Test
  void subsetSettingsOverrideTheRulesPortLevelAndTheSubsetsPortLevelOverridesAll() {
    TrafficPolicy subset = new TrafficPolicy(null, null, null, null, ClientTls.DISABLE);
    TrafficPolicy p = RULE.forSubset(subset, 9080);
    assertThat(p.loadBalancer()).isEqualTo(BalancerKind.RANDOM);
    assertThat(p.tls()).isEqualTo(ClientTls.DISABLE);

    TrafficPolicy subsetWithPort = new TrafficPolicy(null, null, null, null, ClientTls.DISABLE, null, null, null,
        Map.of(9080, new TrafficPolicy(BalancerKind.LEAST_REQUEST, null, null, null, null)));
    TrafficPolicy q = RULE.forSubset(subsetWithPort, 9080);
    assertThat(q.loadBalancer()).isEqualTo(BalancerKind.LEAST_REQUEST);
    assertThat(q.tls()).as("the subset's port level replaces its tls too").isNull();
    assertThat(RULE.forSubset(subsetWithPort, 0).tls()).isEqualTo(ClientTls.DISABLE);
    assertThat(RULE.portsWithSettings(subsetWithPort)).containsExactly(9080);
  }
}
