package io.meshup.core.internal.routing;

import io.meshup.core.internal.policy.PolicyModel.Distribute;
import io.meshup.core.internal.policy.PolicyModel.LocalitySettings;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Locality load balancing, as Istio configures Envoy: endpoints are grouped by how near their
 * {@code topology.kubernetes.io/region}, {@code topology.kubernetes.io/zone} and
 * {@code topology.istio.io/subzone} labels are to this workload's (its own labels of those names):
 *
 * <ul>
 *   <li><b>Failover</b> (the default once the destination has outlier detection): priority 0 is the
 *       same region, zone and subzone, then the same zone, then the same region, then a region a
 *       {@code failover} rule names for this one, then any other; with {@code failoverPriority},
 *       the number of the listed labels matched in order decides. Calls go to the best priority as
 *       long as its healthy share, times Envoy's overprovisioning factor 1.4, covers them; what it
 *       does not cover spills to the next (so ejections move traffic away gradually, and all of it
 *       once a priority has no healthy endpoint).
 *   <li><b>Distribute</b>: for this workload's locality, the {@code to} weights choose a locality
 *       (patterns with a trailing {@code *}), then the balancer picks in it.
 * </ul>
 *
 * Built once per member list. Immutable; picks are lock-free.
 */
final class Localities {
  static final String REGION = "topology.kubernetes.io/region";
  static final String ZONE = "topology.kubernetes.io/zone";
  static final String SUBZONE = "topology.istio.io/subzone";
  /** Envoy's overprovisioning factor, in percent. */
  static final int OVERPROVISIONING = 140;

  /** The groups, best first (failover) or in weight order (distribute). */
  final EndpointState[][] groups;
  /** Distribute: cumulative weights of the groups; null for failover. */
  final int[] cumulative;

  private Localities(EndpointState[][] groups, int[] cumulative) {
    this.groups = groups;
    this.cumulative = cumulative;
  }

  /** Whether locality balancing applies: enabled, and distribute given or outlier detection configured (Istio's rule). */
  static boolean applies(LocalitySettings s, boolean outlierDetection) {
    if (s != null && !s.enabled()) {
      return false;
    }
    return (s != null && !s.distribute().isEmpty()) || outlierDetection;
  }

  static Localities of(LocalitySettings s, Map<String, String> client, EndpointState[] members) {
    if (s != null && !s.distribute().isEmpty()) {
      String from = locality(client);
      for (Distribute d : s.distribute()) {
        if (covers(d.from(), from)) {
          List<EndpointState[]> groups = new ArrayList<>();
          List<Integer> weights = new ArrayList<>();
          for (Map.Entry<String, Integer> to : d.to().entrySet()) {
            List<EndpointState> g = new ArrayList<>();
            for (EndpointState e : members) {
              if (covers(to.getKey(), locality(e.endpoint().labels()))) {
                g.add(e);
              }
            }
            if (!g.isEmpty() && to.getValue() > 0) {
              groups.add(g.toArray(new EndpointState[0]));
              weights.add(to.getValue());
            }
          }
          int[] cum = new int[weights.size()];
          int sum = 0;
          for (int i = 0; i < cum.length; i++) {
            sum += weights.get(i);
            cum[i] = sum;
          }
          return groups.isEmpty() ? null : new Localities(groups.toArray(new EndpointState[0][]), cum);
        }
      }
      return null; // no rule for this locality: plain balancing
    }
    int levels = 5;
    List<List<EndpointState>> tiers = new ArrayList<>();
    for (int i = 0; i <= Math.max(levels, s == null ? 0 : s.failoverPriority().size() + 1); i++) {
      tiers.add(new ArrayList<>());
    }
    for (EndpointState e : members) {
      tiers.get(priority(s, client, e.endpoint().labels())).add(e);
    }
    List<EndpointState[]> out = new ArrayList<>();
    for (List<EndpointState> t : tiers) {
      if (!t.isEmpty()) {
        out.add(t.toArray(new EndpointState[0]));
      }
    }
    return out.size() <= 1 ? null : new Localities(out.toArray(new EndpointState[0][]), null);
  }

  /** The priority of an endpoint with {@code labels} for a client with {@code client} labels: 0 best. */
  static int priority(LocalitySettings s, Map<String, String> client, Map<String, String> labels) {
    if (s != null && !s.failoverPriority().isEmpty()) {
      List<String> keys = s.failoverPriority();
      int matched = 0;
      for (String k : keys) {
        int eq = k.indexOf('=');
        String key = eq < 0 ? k : k.substring(0, eq);
        String want = eq < 0 ? client.get(key) : k.substring(eq + 1);
        if (want == null || !want.equals(labels.get(key))) {
          break;
        }
        matched++;
      }
      return keys.size() - matched;
    }
    String region = client.get(REGION);
    boolean sameRegion = region != null && region.equals(labels.get(REGION));
    boolean sameZone = sameRegion && eq(client.get(ZONE), labels.get(ZONE));
    boolean sameSubzone = sameZone && eq(client.get(SUBZONE), labels.get(SUBZONE));
    if (sameSubzone) {
      return 0;
    }
    if (sameZone) {
      return 1;
    }
    if (sameRegion) {
      return 2;
    }
    if (s != null && region != null && labels.get(REGION) != null && labels.get(REGION).equals(s.failover().get(region))) {
      return 3;
    }
    return 4;
  }

  private static boolean eq(String a, String b) {
    return a == null ? b == null : a.equals(b);
  }

  /** {@code region/zone/subzone} of labels, empty parts for missing ones. */
  static String locality(Map<String, String> labels) {
    return labels.getOrDefault(REGION, "") + "/" + labels.getOrDefault(ZONE, "") + "/" + labels.getOrDefault(SUBZONE, "");
  }

  /** Whether a locality pattern ({@code us-west/zone1/*}, {@code us-west/*}, {@code *}) covers a locality. */
  static boolean covers(String pattern, String locality) {
    if (pattern.equals("*")) {
      return true;
    }
    if (pattern.endsWith("*")) {
      return locality.startsWith(pattern.substring(0, pattern.length() - 1));
    }
    String l = locality;
    while (l.endsWith("/")) {
      l = l.substring(0, l.length() - 1);
    }
    String p = pattern;
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return l.equals(p) || l.startsWith(p + "/");
  }

  /**
   * The group a call goes to: for failover, by Envoy's spill of each priority's healthy share
   * (times 1.4) with one draw {@code r} in [0, 100); for distribute, by the weights with the same draw.
   */
  EndpointState[] choose(long now, int r) {
    if (cumulative != null) {
      int x = r * cumulative[cumulative.length - 1] / 100;
      for (int i = 0; i < cumulative.length; i++) {
        if (x < cumulative[i]) {
          return groups[i];
        }
      }
      return groups[groups.length - 1];
    }
    int left = 100;
    int acc = 0;
    for (EndpointState[] g : groups) {
      int healthy = 0;
      for (EndpointState e : g) {
        if (!e.isEjected(now)) {
          healthy++;
        }
      }
      int share = Math.min(left, Math.min(100, healthy * OVERPROVISIONING / g.length));
      acc += share;
      left -= share;
      if (r < acc) {
        return g;
      }
    }
    return groups[0]; // nothing healthy anywhere: panic in the best priority
  }
}
