package io.meshup.consul.scale;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.consul.testing.ConsulCluster;
import io.meshup.core.Mesh;
import io.meshup.grpc.MeshChannels;
import io.micrometer.core.instrument.Counter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The Consul scale run of issue 19, shared by the suite's {@code ConsulScaleTest} (small) and the
 * benchmark harness ({@code jmh/consul-scale.sh}, 100 / 300 / 1,000 destinations): a real 3-server
 * Consul cluster with two client agents at Consul's default connection limit; one agent holds the
 * destinations' instances (2 per destination, TTL checks), the other is the agent of the one client
 * mesh measured here, which talks only to it.
 *
 * <p>Phases: register every instance and wait until the servers report them all passing; build the
 * mesh and fire a first call at every destination at once (each retried 10 ms after a failure until
 * it succeeds); then open-loop traffic over every destination while health changes (one at a time:
 * an instance's check fails, the routing table must drop it; it passes again, the table must take it
 * back) are timed from the request that makes them to the routing table showing them. Reported: the
 * figures of {@link Result}.
 */
public final class ConsulScale {
  private ConsulScale() {}

  /** What to run. */
  public record Options(int destinations, int instances, int healthChanges, Duration steady, int rate,
      Duration callDeadline, Duration startupLimit, String consulYaml) {
    /** Issue 19's run at {@code destinations}: 2 instances each, 50 health changes, 20 s at 500 calls/s, 5 s deadlines. */
    public static Options issue19(int destinations) {
      return new Options(destinations, 2, 50, Duration.ofSeconds(20), 500, Duration.ofSeconds(5), Duration.ofSeconds(60), "");
    }
  }

  /** What was measured. Times in milliseconds, CPU in seconds, heap in MB. */
  public record Result(int destinations, int instances, int destinationsWithAllEndpoints, int destinationsNeverServed,
      double firstSuccessP50, double firstSuccessP99, double firstSuccessMax, int failedFirstCalls,
      long steadyCalls, long steadyFailed, Map<String, Integer> failures, int healthChanges,
      double propagationP50, double propagationP99, double propagationMax, double consulPropagationP50,
      double consulPropagationP99,
      int registryThreads, int agentSockets, int jvmThreads, int processFds, double heapMb,
      double agentCpuStartup, double leaderCpuStartup, double agentCpuSteady, double leaderCpuSteady,
      double serversCpuStartup, double serversCpuSteady,
      double steadySeconds, double startupSeconds, double watchErrors, int warnLines, String consulVersion) {

    /** One line of JSON. */
    public String json() {
      return toJson(this);
    }
  }

  /** A record's components as one line of JSON. */
  static String toJson(Record record) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (var c : record.getClass().getRecordComponents()) {
      try {
        m.put(c.getName(), c.getAccessor().invoke(record));
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }
    StringBuilder b = new StringBuilder("{");
    m.forEach((k, v) -> {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append('"').append(k).append("\":");
      if (v instanceof Number n) {
        b.append(n instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : n.toString());
      } else if (v instanceof Map<?, ?> map) {
        b.append('{');
        int i = 0;
        for (var e : map.entrySet()) {
          b.append(i++ > 0 ? "," : "").append('"').append(escape(e.getKey().toString())).append("\":").append(e.getValue());
        }
        b.append('}');
      } else {
        b.append('"').append(escape(String.valueOf(v))).append('"');
      }
    });
    return b.append('}').toString();
  }

  private static String escape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ");
  }

  /**
   * What the leader-loss run measured. Times in milliseconds from the event named: {@code newLeaderMs}
   * from the leader's SIGKILL to a new leader; {@code quorumBackMs} from the two servers' restart to
   * a leader; {@code changeAfterQuorumMs} from that leader to the routing table showing an instance
   * registered at a server the moment it was elected (the watches are back); {@code
   * registeredDuringOutageMs} from that leader to the table showing an instance registered on its
   * agent during the outage (the agent's own sync to the servers decides most of it).
   */
  public record LeaderLossResult(int destinations, long calls, long failed, Map<String, Integer> failures,
      double newLeaderMs, double quorumLostSeconds, double quorumBackMs, double changeAfterQuorumMs,
      double registeredDuringOutageMs, double watchErrors, int warnLines, int registryThreads, int agentSockets,
      String consulVersion) {
    /** One line of JSON. */
    public String json() {
      return toJson(this);
    }
  }

  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();

  /** Runs once on a cluster of its own, which it starts and stops. */
  public static Result run(Options o, PrintStream out) throws Exception {
    try (ConsulCluster cluster = ConsulCluster.of(3).withClients(2)) {
      long t = System.nanoTime();
      cluster.start();
      out.printf("cluster ready in %d ms (3 servers, 2 client agents)%n", ms(System.nanoTime() - t));
      return run(o, cluster, out);
    }
  }

  /** Runs once on {@code cluster}: 3 servers, client agent 0 for the mesh, 1 for the instances. */
  public static Result run(Options o, ConsulCluster cluster, PrintStream out) throws Exception {
    int total = o.destinations() * o.instances();
    List<String> names = new ArrayList<>();
    for (int d = 0; d < o.destinations(); d++) {
      names.add(String.format(Locale.ROOT, "dest-%04d", d));
    }
    Agent instancesAgent = new Agent(cluster.clientAddress(1));
    Server server = servers(total);
    ManagedChannel[] channels = new ManagedChannel[o.destinations()];
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "scale-timer"));
    Mesh mesh = null;
    WarnCounter warns = null;
    try {
      List<Integer> ports = server.getListenSockets().stream().map(a -> ((InetSocketAddress) a).getPort()).toList();
      long t0 = System.nanoTime();
      registerAll(instancesAgent, names, o.instances(), ports);
      awaitPassing(new Agent(cluster.serverAddress(0)), total);
      out.printf("%d instances of %d destinations registered and passing in %d ms%n", total, o.destinations(),
          ms(System.nanoTime() - t0));

      double heap0 = heapAfterGc();
      int leader = cluster.leader();
      long agentPid = cluster.clientPid(0);
      long leaderPid = cluster.serverPid(leader);
      int agentPort = Integer.parseInt(cluster.clientAddress(0).substring(cluster.clientAddress(0).lastIndexOf(':') + 1));
      warns = new WarnCounter();

      // ---- start: build the mesh, first call everywhere at once
      double agentCpu0 = cpuSeconds(agentPid);
      double leaderCpu0 = cpuSeconds(leaderPid);
      double serversCpu0 = serversCpu(cluster);
      long start = System.nanoTime();
      mesh = Mesh.fromYamlString("""
          mesh:
            service: scale-client
            registry:
              type: consul
              consul:
                address: %s
          %s
          """.formatted(cluster.clientAddress(0), o.consulYaml().indent(6)));
      for (int d = 0; d < channels.length; d++) {
        channels[d] = MeshChannels.forService(mesh, names.get(d));
      }
      long[] firstSuccess = new long[o.destinations()];
      AtomicInteger failedFirst = new AtomicInteger();
      CountDownLatch served = new CountDownLatch(o.destinations());
      for (int d = 0; d < channels.length; d++) {
        firstCall(channels[d], d, start, firstSuccess, failedFirst, served, timer, o.callDeadline());
      }
      boolean allServed = served.await(o.startupLimit().toMillis(), TimeUnit.MILLISECONDS);
      long startupEnd = System.nanoTime();
      double agentCpu1 = cpuSeconds(agentPid);
      double leaderCpu1 = cpuSeconds(leaderPid);
      double serversCpu1 = serversCpu(cluster);
      int neverServed = (int) served.getCount();
      Mesh m = mesh;
      int withAll = awaitAllEndpoints(m, names, o.instances(), allServed ? Duration.ofSeconds(30) : Duration.ZERO);
      out.printf("start: %d of %d destinations served (%s), %d with all %d endpoints%n", o.destinations() - neverServed,
          o.destinations(), allServed ? "all" : "gave up after " + o.startupLimit().toSeconds() + " s", withAll, o.instances());

      // ---- steady traffic with health changes
      Traffic traffic = new Traffic(channels, o.rate(), o.callDeadline());
      long steady0 = System.nanoTime();
      double agentCpu2 = cpuSeconds(agentPid);
      double leaderCpu2 = cpuSeconds(leaderPid);
      double serversCpu2 = serversCpu(cluster);
      Thread driver = new Thread(traffic, "scale-traffic");
      driver.start();
      List<double[]> propagation = new ArrayList<>();
      try {
        propagation = healthChanges(m, instancesAgent, new Agent(cluster.serverAddress(0)), names, o.healthChanges(),
            withAll == o.destinations());
        long left = o.steady().toNanos() - (System.nanoTime() - steady0);
        if (left > 0) {
          LockSupport.parkNanos(left); // the steady window's rest: traffic runs on its own thread
        }
      } finally {
        traffic.stop();
        driver.join();
      }
      double steadySeconds = (System.nanoTime() - steady0) / 1e9;
      double agentCpu3 = cpuSeconds(agentPid);
      double leaderCpu3 = cpuSeconds(leaderPid);
      double serversCpu3 = serversCpu(cluster);

      int registryThreads = threads("meshup-consul");
      int sockets = socketsTo(agentPort);
      int jvmThreads = Thread.activeCount();
      int fds = fds();
      double heap = heapAfterGc() - heap0;
      double errors = m.meterRegistry().find("mesh.registry.watch.errors").counters().stream().mapToDouble(Counter::count).sum();
      double[] first = Arrays.stream(firstSuccess).filter(x -> x > 0).mapToDouble(x -> x / 1e6).sorted().toArray();
      double[] prop = propagation.stream().mapToDouble(x -> x[0]).sorted().toArray();
      double[] raw = propagation.stream().mapToDouble(x -> x[1]).sorted().toArray();
      Result r = new Result(o.destinations(), o.instances(), withAll, neverServed,
          pct(first, 50), pct(first, 99), first.length == 0 ? 0 : first[first.length - 1], failedFirst.get(),
          traffic.ok.get() + traffic.failed.get(), traffic.failed.get(), new LinkedHashMap<>(traffic.failures),
          prop.length, pct(prop, 50), pct(prop, 99), prop.length == 0 ? 0 : prop[prop.length - 1], pct(raw, 50), pct(raw, 99),
          registryThreads, sockets, jvmThreads, fds, heap,
          agentCpu1 - agentCpu0, leaderCpu1 - leaderCpu0, agentCpu3 - agentCpu2, leaderCpu3 - leaderCpu2,
          serversCpu1 - serversCpu0, serversCpu3 - serversCpu2,
          steadySeconds, (startupEnd - start) / 1e9, errors, warns.lines(), new Agent(cluster.clientAddress(1)).version());
      out.println(r.json());
      return r;
    } finally {
      timer.shutdownNow();
      closeAll(warns, channels, mesh, server);
    }
  }

  /**
   * The leader-loss run of issue 19 on a cluster of its own: {@code destinations} x 2 instances,
   * one client mesh under open-loop traffic at {@code rate} calls/s; the leader is SIGKILLed (and
   * restarted once a new one leads), then two of the three servers are SIGKILLed for {@code outage}
   * (quorum lost) and restarted. During the outage an instance is registered on the instances'
   * agent; the moment a leader is back, another is registered at a server.
   */
  public static LeaderLossResult leaderLoss(int destinations, int rate, Duration outage, PrintStream out) throws Exception {
    try (ConsulCluster cluster = ConsulCluster.of(3).withClients(2)) {
      cluster.start();
      int instances = 2;
      int total = destinations * instances;
      List<String> names = new ArrayList<>();
      for (int d = 0; d < destinations; d++) {
        names.add(String.format(Locale.ROOT, "dest-%04d", d));
      }
      Agent instancesAgent = new Agent(cluster.clientAddress(1));
      Server server = servers(total + 2);
      ManagedChannel[] channels = new ManagedChannel[destinations];
      Mesh mesh = null;
      WarnCounter warns = new WarnCounter();
      try {
        List<Integer> ports = server.getListenSockets().stream().map(a -> ((InetSocketAddress) a).getPort()).toList();
        registerAll(instancesAgent, names, instances, ports);
        awaitPassing(new Agent(cluster.serverAddress(0)), total);
        mesh = Mesh.fromYamlString("""
            mesh:
              service: scale-client
              registry:
                type: consul
                consul:
                  address: %s
            """.formatted(cluster.clientAddress(0)));
        for (int d = 0; d < destinations; d++) {
          channels[d] = MeshChannels.forService(mesh, names.get(d));
        }
        Mesh m = mesh;
        if (awaitAllEndpoints(m, names, instances, Duration.ofSeconds(60)) != destinations) {
          throw new IllegalStateException("not every destination has its endpoints after 60 s");
        }
        Traffic traffic = new Traffic(channels, rate, Duration.ofSeconds(5));
        Thread driver = new Thread(traffic, "scale-traffic");
        driver.start();
        double newLeader;
        double quorumBack;
        double changeAfterQuorum;
        double duringOutage;
        long quorumLost;
        try {
          LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(3)); // traffic before the fault
          int leader = cluster.leader();
          long t = System.nanoTime();
          cluster.kill(leader);
          awaitCondition(Duration.ofSeconds(30), () -> cluster.leader() >= 0, "a new leader");
          newLeader = (System.nanoTime() - t) / 1e6;
          out.printf(Locale.ROOT, "leader %d SIGKILLed: a new leader in %.0f ms%n", leader, newLeader);
          LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(5)); // traffic without the old leader
          cluster.start(leader);
          LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(5)); // it rejoins

          awaitCondition(Duration.ofSeconds(30), () -> cluster.leader() >= 0, "a leader after the restart");
          int l2 = cluster.leader();
          int other = (l2 + 1) % cluster.servers();
          int kept = 3 - l2 - other;
          quorumLost = System.nanoTime();
          cluster.kill(l2);
          cluster.kill(other);
          out.printf(Locale.ROOT, "servers %d (leader) and %d SIGKILLed: quorum lost for %d s%n", l2, other, outage.toSeconds());
          LockSupport.parkNanos(outage.toNanos() / 2);
          instancesAgent.put("/v1/agent/service/register", """
              {"ID":"%s-late","Name":"%s","Address":"127.0.0.1","Port":%d,
               "Check":{"CheckID":"ttl-%s-late","TTL":"30m","Status":"passing"}}"""
              .formatted(names.get(0), names.get(0), ports.get(total), names.get(0)));
          LockSupport.parkNanos(quorumLost + outage.toNanos() - System.nanoTime());
          long restart = System.nanoTime();
          cluster.start(l2);
          cluster.start(other);
          awaitCondition(Duration.ofSeconds(60), () -> cluster.leader() >= 0, "a leader after quorum returned");
          long back = System.nanoTime();
          quorumBack = (back - restart) / 1e6;
          String last = names.get(destinations - 1);
          Agent at = new Agent(cluster.serverAddress(kept));
          awaitCondition(Duration.ofSeconds(30), () -> {
            try {
              at.put("/v1/catalog/register", """
                  {"Node":"after-quorum","Address":"127.0.0.1","Service":{"ID":"%s-after","Service":"%s",
                   "Address":"127.0.0.1","Port":%d}}""".formatted(last, last, ports.get(total + 1)));
              return true;
            } catch (IllegalStateException notYet) {
              return false; // the new leader not ready to write yet
            }
          }, "a write to the cluster");
          awaitCondition(Duration.ofSeconds(60), () -> m.endpoints(last).size() == instances + 1, "the instance registered after quorum");
          changeAfterQuorum = (System.nanoTime() - back) / 1e6;
          awaitCondition(Duration.ofSeconds(90), () -> m.endpoints(names.get(0)).size() == instances + 1,
              "the instance registered during the outage");
          duringOutage = (System.nanoTime() - back) / 1e6;
          out.printf(Locale.ROOT, "quorum back %.0f ms after the restart; then a change at a server in the routing table in %.0f ms, "
              + "the instance registered during the outage in %.0f ms%n", quorumBack, changeAfterQuorum, duringOutage);
          LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(3)); // traffic after the fault
        } finally {
          traffic.stop();
          driver.join();
        }
        int agentPort = Integer.parseInt(cluster.clientAddress(0).substring(cluster.clientAddress(0).lastIndexOf(':') + 1));
        double errors = m.meterRegistry().find("mesh.registry.watch.errors").counters().stream().mapToDouble(Counter::count).sum();
        LeaderLossResult r = new LeaderLossResult(destinations, traffic.ok.get() + traffic.failed.get(), traffic.failed.get(),
            new LinkedHashMap<>(traffic.failures), newLeader, outage.toSeconds(), quorumBack, changeAfterQuorum, duringOutage,
            errors, warns.lines(), threads("meshup-consul"), socketsTo(agentPort), new Agent(cluster.clientAddress(1)).version());
        out.println(r.json());
        return r;
      } finally {
        closeAll(warns, channels, mesh, server);
      }
    }
  }

  /** Ends a run: the WARN counter, the channels, the mesh, then the instances' server. */
  private static void closeAll(WarnCounter warns, ManagedChannel[] channels, Mesh mesh, Server server) throws InterruptedException {
    if (warns != null) {
      warns.close();
    }
    for (ManagedChannel c : channels) {
      if (c != null) {
        c.shutdownNow();
      }
    }
    if (mesh != null) {
      mesh.close();
    }
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  private static void awaitCondition(Duration limit, java.util.function.BooleanSupplier done, String what) {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no " + what + " after " + limit.toSeconds() + " s");
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }

  // ---------------------------------------------------------------- phases

  private static void firstCall(ManagedChannel ch, int d, long start, long[] firstSuccess, AtomicInteger failed,
      CountDownLatch served, ScheduledExecutorService timer, Duration deadline) {
    ClientCalls.asyncUnaryCall(ch.newCall(SimpleServiceGrpc.getUnaryRpcMethod(),
        CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)), REQ, new StreamObserver<>() {
          @Override
          public void onNext(SimpleResponse value) {}

          @Override
          public void onError(Throwable t) {
            failed.incrementAndGet();
            timer.schedule(() -> firstCall(ch, d, start, firstSuccess, failed, served, timer, deadline), 10, TimeUnit.MILLISECONDS);
          }

          @Override
          public void onCompleted() {
            firstSuccess[d] = System.nanoTime() - start;
            served.countDown();
          }
        });
  }

  private static int awaitAllEndpoints(Mesh mesh, List<String> names, int instances, Duration limit) {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      int n = 0;
      for (String s : names) {
        if (mesh.endpoints(s).size() == instances) {
          n++;
        }
      }
      if (n == names.size() || System.nanoTime() > deadline) {
        return n;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    }
  }

  /**
   * {@code changes} health changes, one at a time: the check of instance 0 of a destination fails
   * (timed until the routing table has one endpoint fewer), then passes again (timed until it is
   * back). Destinations are spread over the whole range. Each change is also timed as Consul itself
   * delivers it: a blocking query on the destination at a server ({@code reference}), the lower
   * bound of any client.
   */
  private static List<double[]> healthChanges(Mesh mesh, Agent agent, Agent reference, List<String> names, int changes,
      boolean complete) {
    List<double[]> out = new ArrayList<>();
    if (!complete) {
      return out;
    }
    int pairs = (changes + 1) / 2;
    for (int i = 0; i < pairs && out.size() < changes; i++) {
      String d = names.get((int) ((long) i * names.size() / pairs));
      int before = mesh.endpoints(d).size();
      String check = "ttl-" + d + "-0";
      out.add(timeUntil(reference, d, () -> agent.put("/v1/agent/check/fail/" + check, ""),
          () -> mesh.endpoints(d).size() == before - 1));
      if (out.size() < changes) {
        out.add(timeUntil(reference, d, () -> agent.put("/v1/agent/check/pass/" + check, ""),
            () -> mesh.endpoints(d).size() == before));
      }
    }
    return out;
  }

  /** {mesh ms, Consul ms}: from the change's request to the routing table showing it, and to Consul's own answer. */
  private static double[] timeUntil(Agent reference, String service, Runnable change, java.util.function.BooleanSupplier done) {
    var blocked = reference.blockingChange("/v1/health/service/" + service + "?stale");
    long t = System.nanoTime();
    change.run();
    long limit = t + TimeUnit.SECONDS.toNanos(30);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > limit) {
        throw new IllegalStateException("a health change did not reach the routing table within 30 s");
      }
      LockSupport.parkNanos(200_000);
    }
    double mesh = (System.nanoTime() - t) / 1e6;
    long consul;
    try {
      consul = blocked.get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("Consul's own blocking query did not answer: " + e, e);
    }
    return new double[] {mesh, (consul - t) / 1e6};
  }

  /** Open-loop calls at a fixed rate, round robin over the destinations, at most 2,000 outstanding. */
  static final class Traffic implements Runnable {
    final ManagedChannel[] channels;
    final int rate;
    final Duration deadline;
    final AtomicLong ok = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final Map<String, Integer> failures = new ConcurrentHashMap<>();
    final Semaphore outstanding = new Semaphore(2_000);
    volatile boolean stop;

    Traffic(ManagedChannel[] channels, int rate, Duration deadline) {
      this.channels = channels;
      this.rate = rate;
      this.deadline = deadline;
    }

    void stop() {
      stop = true;
    }

    @Override
    public void run() {
      long start = System.nanoTime();
      long interval = 1_000_000_000L / rate;
      for (long i = 0; !stop; i++) {
        long due = start + i * interval;
        long now;
        while ((now = System.nanoTime()) < due && !stop) {
          LockSupport.parkNanos(due - now);
        }
        if (!outstanding.tryAcquire()) {
          failures.merge("harness: over 2,000 outstanding", 1, Integer::sum);
          failed.incrementAndGet();
          continue;
        }
        ManagedChannel ch = channels[(int) (i % channels.length)];
        ClientCalls.asyncUnaryCall(ch.newCall(SimpleServiceGrpc.getUnaryRpcMethod(),
            CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)), REQ, new StreamObserver<>() {
              @Override
              public void onNext(SimpleResponse value) {}

              @Override
              public void onError(Throwable t) {
                outstanding.release();
                failed.incrementAndGet();
                Status s = Status.fromThrowable(t);
                String why = s.getDescription() == null ? "" : s.getDescription();
                why = why.replaceAll("dest-\\d+", "dest-*");
                failures.merge(s.getCode() + ": " + why.substring(0, Math.min(80, why.length())), 1, Integer::sum);
              }

              @Override
              public void onCompleted() {
                outstanding.release();
                ok.incrementAndGet();
              }
            });
      }
      // let the calls in flight end
      outstanding.acquireUninterruptibly(2_000);
      outstanding.release(2_000);
    }
  }

  // ---------------------------------------------------------------- set-up

  /** One gRPC server listening on {@code n} loopback ports (one per instance), answering every call. */
  static Server servers(int n) throws IOException {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
    for (int i = 1; i < n; i++) {
      b.addListenAddress(new InetSocketAddress("127.0.0.1", 0));
    }
    return b.permitKeepAliveTime(5, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true)
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> observer) {
            observer.onNext(SimpleResponse.getDefaultInstance());
            observer.onCompleted();
          }
        }).build().start();
  }

  /** Registers every instance on {@code agent} with a passing TTL check of 30 min, 4 at a time. */
  static void registerAll(Agent agent, List<String> names, int instances, List<Integer> ports) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4, r -> daemon(r, "scale-register"));
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int d = 0; d < names.size(); d++) {
        for (int i = 0; i < instances; i++) {
          String name = names.get(d);
          String id = name + "-" + i;
          int port = ports.get(d * instances + i);
          done.add(pool.submit(() -> agent.put("/v1/agent/service/register", """
              {"ID":"%s","Name":"%s","Address":"127.0.0.1","Port":%d,"Meta":{"version":"v1"},
               "Check":{"CheckID":"ttl-%s","TTL":"30m","Status":"passing"}}""".formatted(id, name, port, id))));
        }
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** Waits until the servers report {@code n} passing service checks. */
  static void awaitPassing(Agent server, int n) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    while (true) {
      String body = server.get("/v1/health/state/passing");
      int count = 0;
      for (int i = body.indexOf("\"ServiceID\""); i >= 0; i = body.indexOf("\"ServiceID\"", i + 1)) {
        if (!body.startsWith("\"ServiceID\":\"\"", i)) {
          count++;
        }
      }
      if (count >= n) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("only " + count + " of " + n + " instances passing after 3 min");
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
    }
  }

  /** The test's own requests to an agent: one connection at a time, never the mesh's agent. */
  static final class Agent {
    final String address;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(2)).build();

    Agent(String address) {
      this.address = address;
    }

    String get(String path) {
      return send(HttpRequest.newBuilder(URI.create("http://" + address + path)).timeout(Duration.ofSeconds(30)).GET().build());
    }

    void put(String path, String body) {
      send(HttpRequest.newBuilder(URI.create("http://" + address + path)).timeout(Duration.ofSeconds(30))
          .PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    /**
     * Starts a blocking query on {@code path} from its current index; the future completes with
     * {@link System#nanoTime()} when the answer arrives.
     */
    java.util.concurrent.CompletableFuture<Long> blockingChange(String path) {
      HttpResponse<String> now;
      try {
        now = http.send(HttpRequest.newBuilder(URI.create("http://" + address + path)).timeout(Duration.ofSeconds(30)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        throw new IllegalStateException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      String index = now.headers().firstValue("X-Consul-Index").orElse("1");
      return http.sendAsync(HttpRequest.newBuilder(URI.create("http://" + address + path + "&index=" + index + "&wait=30s"))
          .timeout(Duration.ofSeconds(35)).GET().build(), HttpResponse.BodyHandlers.discarding()).thenApply(r -> System.nanoTime());
    }

    String version() {
      String self = get("/v1/agent/self");
      int i = self.indexOf("\"Version\":\"");
      return i < 0 ? "?" : self.substring(i + 11, self.indexOf('"', i + 11));
    }

    private String send(HttpRequest r) {
      try {
        HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
          throw new IllegalStateException(r.method() + " " + r.uri() + ": " + resp.statusCode() + " " + resp.body());
        }
        return resp.body();
      } catch (IOException e) {
        throw new IllegalStateException(r.method() + " " + r.uri() + ": " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  // ---------------------------------------------------------------- measuring

  /** Live threads whose name starts with {@code prefix}. */
  public static int threads(String prefix) {
    return (int) Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
  }

  /** This process's established TCP connections to loopback port {@code port} (from /proc). */
  public static int socketsTo(int port) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (var fds = Files.list(Paths.get("/proc/self/fd"))) {
      for (Path p : (Iterable<Path>) fds::iterator) {
        try {
          String link = Files.readSymbolicLink(p).toString();
          if (link.startsWith("socket:[")) {
            inodes.add(link.substring(8, link.length() - 1));
          }
        } catch (IOException gone) {
          // closed meanwhile
        }
      }
    }
    int n = 0;
    String hexPort = String.format(Locale.ROOT, ":%04X", port);
    for (String table : List.of("/proc/self/net/tcp", "/proc/self/net/tcp6")) {
      Path p = Paths.get(table);
      if (!Files.exists(p)) {
        continue;
      }
      for (String line : Files.readAllLines(p)) {
        String[] f = line.trim().split("\\s+");
        if (f.length > 9 && f[2].endsWith(hexPort) && f[3].equals("01") && inodes.contains(f[9])) {
          n++;
        }
      }
    }
    return n;
  }

  private static int fds() throws IOException {
    try (var s = Files.list(Paths.get("/proc/self/fd"))) {
      return (int) s.count();
    }
  }

  /** User + system CPU seconds of a process (from /proc), or NaN when it is gone. */
  public static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Paths.get("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** The CPU seconds of all servers together (stale reads are served by any of them). */
  private static double serversCpu(ConsulCluster cluster) {
    double sum = 0;
    for (int i = 0; i < cluster.servers(); i++) {
      sum += cpuSeconds(cluster.serverPid(i));
    }
    return sum;
  }

  private static double heapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / 1e6;
  }

  static double pct(double[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Counts the WARN lines slf4j-simple writes to {@code System.err} while open (and still writes them). */
  static final class WarnCounter implements AutoCloseable {
    private final PrintStream original = System.err;
    private final AtomicInteger warns = new AtomicInteger();

    WarnCounter() {
      OutputStream tee = new OutputStream() {
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
          original.write(b);
          if (b == '\n') {
            if (line.toString(StandardCharsets.UTF_8).contains(" WARN ")) {
              warns.incrementAndGet();
            }
            line.reset();
          } else if (line.size() < 200) {
            line.write(b);
          }
        }
      };
      System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
    }

    int lines() {
      return warns.get();
    }

    @Override
    public void close() {
      System.setErr(original);
    }
  }
}
