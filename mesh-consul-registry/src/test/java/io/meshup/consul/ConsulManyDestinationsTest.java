package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A mesh watching more destinations than the watcher reads at once on a registration event (more
 * than 16): each kind of change reaches routing, whether the summaries name its destination (a check
 * that came, went or changed status, new tags) or not (a new port of an instance without checks).
 */
class ConsulManyDestinationsTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  static final int DESTINATIONS = 24;
  static final Duration PROPAGATION = Duration.ofSeconds(10);

  ConsulOps ops;
  Mesh mesh;
  final List<String> names = new ArrayList<>();

  @BeforeEach
  void setUp() {
    ops = new ConsulOps(consul.httpAddress());
    String prefix = "many-" + Long.toHexString(System.nanoTime()) + "-";
    for (int i = 0; i < DESTINATIONS; i++) {
      names.add(prefix + i);
      ops.registerOnNode("many-node-a", names.get(i) + "-0", names.get(i), 10_000 + i, List.of(), "passing");
    }
    mesh = Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry:
            type: consul
            consul:
              address: %s
              waitTime: 10s
        """.formatted(consul.httpAddress()));
    for (String n : names) {
      mesh.endpoints(n); // watched from now on
    }
    for (String n : names) {
      await().atMost(PROPAGATION).until(() -> mesh.endpoints(n).size() == 1);
    }
  }

  @AfterEach
  void tearDown() {
    mesh.close();
  }

  private List<Integer> ports(String service) {
    return mesh.endpoints(service).stream().map(Endpoint::port).sorted().toList();
  }

  @Test
  void everyKindOfChangeReachesItsDestination() {
    // a new instance with a passing check: its check names it
    ops.registerOnNode("many-node-b", names.get(3) + "-1", names.get(3), 11_003, List.of(), "passing");
    await().atMost(PROPAGATION).until(() -> ports(names.get(3)).equals(List.of(10_003, 11_003)));

    // a new instance without checks, then its port changed: neither summary names it
    ops.registerOnNode("many-node-b", names.get(5) + "-1", names.get(5), 11_005, List.of(), null);
    await().atMost(PROPAGATION).until(() -> ports(names.get(5)).equals(List.of(10_005, 11_005)));
    ops.registerOnNode("many-node-b", names.get(5) + "-1", names.get(5), 12_005, List.of(), null);
    await().atMost(PROPAGATION).until(() -> ports(names.get(5)).equals(List.of(10_005, 12_005)));

    // the same instance's port and tags changed, its check untouched
    ops.registerOnNode("many-node-a", names.get(7) + "-0", names.get(7), 13_007, List.of("canary"), "passing");
    await().atMost(PROPAGATION).until(() -> ports(names.get(7)).equals(List.of(13_007)));

    // a check that fails, then passes
    ops.registerOnNode("many-node-a", names.get(9) + "-0", names.get(9), 10_009, List.of(), "critical");
    await().atMost(PROPAGATION).until(() -> ports(names.get(9)).isEmpty());
    ops.registerOnNode("many-node-a", names.get(9) + "-0", names.get(9), 10_009, List.of(), "passing");
    await().atMost(PROPAGATION).until(() -> ports(names.get(9)).equals(List.of(10_009)));

    // deregistered with its check
    ops.deregisterOnNode("many-node-b", names.get(3) + "-1");
    await().atMost(PROPAGATION).until(() -> ports(names.get(3)).equals(List.of(10_003)));

    // nothing else moved
    for (int i = 0; i < DESTINATIONS; i++) {
      if (i != 3 && i != 5 && i != 7 && i != 9) {
        assertThat(ports(names.get(i))).as(names.get(i)).isEqualTo(List.of(10_000 + i));
      }
    }
  }

  @Test
  void aNodeCheckThatFailsTakesEveryInstanceOfThatNodeOut() {
    ops.registerOnNode("many-node-c", names.get(1) + "-2", names.get(1), 14_001, List.of(), null);
    ops.registerOnNode("many-node-c", names.get(2) + "-2", names.get(2), 14_002, List.of(), null);
    await().atMost(PROPAGATION).until(() -> ports(names.get(1)).size() == 2 && ports(names.get(2)).size() == 2);
    ops.nodeCheck("many-node-c", "critical");
    await().atMost(PROPAGATION).until(() -> ports(names.get(1)).equals(List.of(10_001)) && ports(names.get(2)).equals(List.of(10_002)));
    ops.nodeCheck("many-node-c", "passing");
    await().atMost(PROPAGATION).until(() -> ports(names.get(1)).size() == 2 && ports(names.get(2)).size() == 2);
    assertThat(Map.of(names.get(0), ports(names.get(0)))).containsEntry(names.get(0), List.of(10_000));
  }
}
