package io.meshup.jmh;

import io.meshup.consul.scale.ConsulScale;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One Consul scale run (issue 19) in a JVM of its own, as {@code jmh/consul-scale.sh} starts it:
 * {@code ConsulScaleMain <destinations> [--steady S] [--rate R] [--changes N] [--out file.json]}, or the
 * leader-loss run: {@code ConsulScaleMain leader-loss <destinations> [--rate R] [--outage S] [--out file.json]}.
 * The run itself is {@link ConsulScale} (mesh-consul-registry's test support, shared with the suite's
 * smaller {@code ConsulScaleTest}); it starts its own 3-server cluster and two client agents.
 */
public final class ConsulScaleMain {
  private ConsulScaleMain() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("leader-loss")) {
      leaderLoss(args);
      return;
    }
    int destinations = Integer.parseInt(args[0]);
    ConsulScale.Options o = ConsulScale.Options.issue19(destinations);
    Path out = null;
    for (int i = 1; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--steady" -> o = new ConsulScale.Options(o.destinations(), o.instances(), o.healthChanges(),
            Duration.ofSeconds(Long.parseLong(args[i + 1])), o.rate(), o.callDeadline(), o.startupLimit(), o.consulYaml());
        case "--rate" -> o = new ConsulScale.Options(o.destinations(), o.instances(), o.healthChanges(), o.steady(),
            Integer.parseInt(args[i + 1]), o.callDeadline(), o.startupLimit(), o.consulYaml());
        case "--changes" -> o = new ConsulScale.Options(o.destinations(), o.instances(), Integer.parseInt(args[i + 1]),
            o.steady(), o.rate(), o.callDeadline(), o.startupLimit(), o.consulYaml());
        case "--consul-yaml" -> o = new ConsulScale.Options(o.destinations(), o.instances(), o.healthChanges(), o.steady(),
            o.rate(), o.callDeadline(), o.startupLimit(), args[i + 1]);
        case "--out" -> out = Path.of(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    ConsulScale.Result r = ConsulScale.run(o, System.out);
    if (out != null) {
      Files.writeString(out, r.json() + System.lineSeparator());
    }
    System.exit(0); // gRPC's and the mesh's non-daemon threads are closed, but do not wait on stragglers
  }

  private static void leaderLoss(String[] args) throws Exception {
    int destinations = Integer.parseInt(args[1]);
    int rate = 500;
    Duration outage = Duration.ofSeconds(20);
    Path out = null;
    for (int i = 2; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--rate" -> rate = Integer.parseInt(args[i + 1]);
        case "--outage" -> outage = Duration.ofSeconds(Long.parseLong(args[i + 1]));
        case "--out" -> out = Path.of(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    ConsulScale.LeaderLossResult r = ConsulScale.leaderLoss(destinations, rate, outage, System.out);
    if (out != null) {
      Files.writeString(out, r.json() + System.lineSeparator());
    }
    System.exit(0);
  }
}
