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
      double propagationP50, double propagationP99, double propagationMax,
      int registryThreads, int agentSockets, int jvmThreads, int processFds, double heapMb,
      double agentCpuStartup, double leaderCpuStartup, double agentCpuSteady, double leaderCpuSteady,
      double steadySeconds, double startupSeconds, double watchErrors, int warnLines, String consulVersion) {

    /** One line of JSON. */
    public String json() {
      Map<String, Object> m = new LinkedHashMap<>();
      for (var c : Result.class.getRecordComponents()) {
        try {
          m.put(c.getName(), c.getAccessor().invoke(this));
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
      Thread driver = new Thread(traffic, "scale-traffic");
      driver.start();
      List<Double> propagation = new ArrayList<>();
      try {
        propagation = healthChanges(m, instancesAgent, names, o.healthChanges(), withAll == o.destinations());
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

      int registryThreads = threads("meshup-consul");
      int sockets = socketsTo(agentPort);
      int jvmThreads = Thread.activeCount();
      int fds = fds();
      double heap = heapAfterGc() - heap0;
      double errors = m.meterRegistry().find("mesh.registry.watch.errors").counters().stream().mapToDouble(Counter::count).sum();
      double[] first = Arrays.stream(firstSuccess).filter(x -> x > 0).mapToDouble(x -> x / 1e6).sorted().toArray();
      double[] prop = propagation.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      Result r = new Result(o.destinations(), o.instances(), withAll, neverServed,
          pct(first, 50), pct(first, 99), first.length == 0 ? 0 : first[first.length - 1], failedFirst.get(),
          traffic.ok.get() + traffic.failed.get(), traffic.failed.get(), new LinkedHashMap<>(traffic.failures),
          prop.length, pct(prop, 50), pct(prop, 99), prop.length == 0 ? 0 : prop[prop.length - 1],
          registryThreads, sockets, jvmThreads, fds, heap,
          agentCpu1 - agentCpu0, leaderCpu1 - leaderCpu0, agentCpu3 - agentCpu2, leaderCpu3 - leaderCpu2,
          steadySeconds, (startupEnd - start) / 1e9, errors, warns.lines(), new Agent(cluster.clientAddress(1)).version());
      out.println(r.json());
      return r;
    } finally {
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
      timer.shutdownNow();
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
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
   * back). Destinations are spread over the whole range.
   */
  private static List<Double> healthChanges(Mesh mesh, Agent agent, List<String> names, int changes, boolean complete) {
    List<Double> out = new ArrayList<>();
    if (!complete) {
      return out;
    }
    int pairs = (changes + 1) / 2;
    for (int i = 0; i < pairs && out.size() < changes; i++) {
      String d = names.get((int) ((long) i * names.size() / pairs));
      int before = mesh.endpoints(d).size();
      String check = "ttl-" + d + "-0";
      out.add(timeUntil(() -> agent.put("/v1/agent/check/fail/" + check, ""), () -> mesh.endpoints(d).size() == before - 1));
      if (out.size() < changes) {
        out.add(timeUntil(() -> agent.put("/v1/agent/check/pass/" + check, ""), () -> mesh.endpoints(d).size() == before));
      }
    }
    return out;
  }

  private static double timeUntil(Runnable change, java.util.function.BooleanSupplier done) {
    long t = System.nanoTime();
    change.run();
    long limit = t + TimeUnit.SECONDS.toNanos(30);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > limit) {
        throw new IllegalStateException("a health change did not reach the routing table within 30 s");
      }
      LockSupport.parkNanos(200_000);
    }
    return (System.nanoTime() - t) / 1e6;
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
