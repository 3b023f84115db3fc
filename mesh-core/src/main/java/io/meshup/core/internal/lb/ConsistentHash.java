package io.meshup.core.internal.lb;

import io.meshup.core.internal.routing.EndpointState;
import java.util.Arrays;

/**
 * Consistent hashing of a request key, as Envoy's ring hash and Maglev balancers do: the same key
 * goes to the same endpoint while the members stay, and when one of N endpoints leaves the keys it
 * held (about 1/N) move, with Maglev a few more, with ring hash also those the others' added entries
 * take (Envoy scales every endpoint's entries to the ring size: about 17 % of keys move when one of
 * ten leaves, IstioSemanticsTest). Ring hash places {@code ringSize} entries (at least; each endpoint
 * gets a share by weight) hashed with xxHash64 of {@code "<address>_<i>"} and takes the first entry
 * at or after the key's hash; Maglev fills a prime table by each endpoint's offset and skip
 * (xxHash64 of its address with seeds 0 and 1), weighted. An endpoint the call cannot use (tried,
 * ejected, unreachable) is passed over for the next one on the ring or in the table. A request
 * without a key gets a random endpoint. The ring is built once per member list, on the first pick.
 *
 * <p>Thread-safe; a pick allocates nothing once the ring is built.
 */
final class ConsistentHash extends Balancer {
  private final boolean maglev;
  private final long size;
  private volatile Table table;

  ConsistentHash(boolean maglev, long size) {
    this.maglev = maglev;
    this.size = size;
  }

  /** The built ring or table, for the member list it was built from. */
  private record Table(EndpointState[] members, long[] hashes, EndpointState[] owners) {}

  @Override
  public boolean wantsSchedule() {
    return false; // weights are in the ring
  }

  @Override
  public EndpointState pick(EndpointState[] members, Tried tried, long now, boolean panic) {
    return randomBest(members, tried, now, panic);
  }

  @Override
  public EndpointState pick(EndpointState[] members, Tried tried, long now, boolean panic, long hash) {
    if (members.length == 1) {
      members[0].isAvailable(now);
      return members[0];
    }
    Table t = table;
    if (t == null || t.members != members) {
      t = maglev ? maglev(members) : ring(members);
      table = t;
    }
    int n = t.owners.length;
    int start;
    if (maglev) {
      start = (int) Long.remainderUnsigned(hash, n);
    } else {
      start = ceiling(t.hashes, hash);
    }
    // the owners from the key's position on: the first usable one, else the best of the walk
    return Balancer.walk(t.owners, start, tried, now, panic);
  }

  /** Envoy's ring: at least {@code size} entries, each endpoint's share by weight, sorted by hash (unsigned). */
  private Table ring(EndpointState[] m) {
    long total = 0;
    for (EndpointState e : m) {
      total += e.endpoint().weight();
    }
    long entries = Math.max(size, m.length);
    int count = 0;
    int[] per = new int[m.length];
    for (int i = 0; i < m.length; i++) {
      per[i] = (int) Math.max(1, Math.ceil((double) entries * m[i].endpoint().weight() / total));
      count += per[i];
    }
    long[] keys = new long[count];
    int[] idx = new int[count];
    int k = 0;
    for (int i = 0; i < m.length; i++) {
      String address = m[i].endpoint().authority();
      for (int j = 0; j < per[i]; j++) {
        keys[k] = XxHash64.hash(address + "_" + j);
        idx[k] = i;
        k++;
      }
    }
    Integer[] order = new Integer[count];
    for (int i = 0; i < count; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Long.compareUnsigned(keys[a], keys[b]));
    long[] hashes = new long[count];
    EndpointState[] owners = new EndpointState[count];
    for (int i = 0; i < count; i++) {
      hashes[i] = keys[order[i]];
      owners[i] = m[idx[order[i]]];
    }
    return new Table(m, hashes, owners);
  }

  /** The first index whose hash is at or after {@code hash} (unsigned), or 0 past the last: the ring wraps. */
  static int ceiling(long[] hashes, long hash) {
    int lo = 0;
    int hi = hashes.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (Long.compareUnsigned(hashes[mid], hash) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo == hashes.length ? 0 : lo;
  }

  /** Envoy's weighted Maglev table of prime {@code size}. */
  private Table maglev(EndpointState[] m) {
    int n = (int) size;
    long[] offset = new long[m.length];
    long[] skip = new long[m.length];
    long[] next = new long[m.length];
    double maxWeight = 0;
    for (EndpointState e : m) {
      maxWeight = Math.max(maxWeight, e.endpoint().weight());
    }
    double[] target = new double[m.length];
    for (int i = 0; i < m.length; i++) {
      byte[] name = m[i].endpoint().authority().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      offset[i] = Long.remainderUnsigned(XxHash64.hash(name, 0), n);
      skip[i] = Long.remainderUnsigned(XxHash64.hash(name, 1), n - 1) + 1;
    }
    EndpointState[] owners = new EndpointState[n];
    int filled = 0;
    for (int iteration = 1; filled < n; iteration++) {
      for (int i = 0; i < m.length && filled < n; i++) {
        // weighted: an endpoint takes a slot when its share of the iterations is due
        if (iteration * m[i].endpoint().weight() / maxWeight < target[i]) {
          continue;
        }
        target[i] += 1;
        while (true) {
          int c = (int) Long.remainderUnsigned(offset[i] + next[i] * skip[i], n);
          next[i]++;
          if (owners[c] == null) {
            owners[c] = m[i];
            filled++;
            break;
          }
        }
      }
    }
    return new Table(m, new long[0], owners);
  }
}
