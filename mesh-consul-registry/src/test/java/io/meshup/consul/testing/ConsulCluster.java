package io.meshup.consul.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
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
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Consul cluster for tests: servers (3 by default) and client agents, each a process of its
 * own on free loopback ports with its own data directory under {@code target/consul/<cluster>/}, so
 * that a server SIGKILLed and started again comes back with its Raft log.
 *
 * <p>Use it as a JUnit 5 extension on a <em>static</em> field, or {@link #start()} and
 * {@link #close()}:
 *
 * <pre>{@code
 * @RegisterExtension static ConsulCluster consul = ConsulCluster.of(3).withClients(2);
 *
 * @Test void survivesTheLeader() {
 *   String agent = consul.clientAddress(0);   // "127.0.0.1:PORT": the agent an application talks to
 *   consul.kill(consul.leader());             // SIGKILL a server
 *   consul.start(i);                          // the same server again, with its data
 * }
 * }</pre>
 *
 * <p>The binary is found as {@link ConsulAgent} finds it ({@code $CONSUL_BIN}, {@code PATH},
 * {@code .tools/consul/usr/bin/consul}, else {@code scripts/consul.sh install}).
 *
 * <p>Servers run {@code consul agent -server -bootstrap-expect N} with {@code raft_multiplier = 1}
 * (Consul's production timing: a lost leader is replaced in 1 to 3 s) and autopilot's dead-server
 * clean-up off (a killed server stays a voter, so killing a second one loses quorum). Client agents
 * keep Consul's defaults, in particular {@code limits.http_max_conns_per_client = 200}, unless
 * {@link #withClientArgs} says otherwise. DNS and gRPC ports are off. {@link #start()} waits until a
 * leader is elected, every server lists all peers and every client agent's node is in the catalog.
 */
public final class ConsulCluster implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
  /** How long {@link #start()} waits for the cluster. */
  public static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
  private static final String LOOPBACK = "127.0.0.1";
  private static final AtomicInteger SEQUENCE = new AtomicInteger();

  private final int servers;
  private int clients;
  private final String name;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(1)).build();
  private final List<Agent> agents = new ArrayList<>();
  private List<String> clientArgs = List.of();
  private Path binary;
  private Path dir;
  private int users;
  private Thread shutdownHook;

  private static final class Agent {
    final String node;
    final boolean server;
    int http;
    int serfLan;
    int serfWan;
    int rpc;
    Process process;
    Path log;
    int starts;

    Agent(String node, boolean server) {
      this.node = node;
      this.server = server;
    }
  }

  private ConsulCluster(int servers) {
    if (servers < 1) {
      throw new IllegalArgumentException("a cluster has at least one server");
    }
    this.servers = servers;
    this.clients = 1;
    this.name = "consul-" + SEQUENCE.incrementAndGet() + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** {@code servers} servers and one client agent. */
  public static ConsulCluster of(int servers) {
    return new ConsulCluster(servers);
  }

  /** How many client agents to run (default 1); call before the first start. */
  public synchronized ConsulCluster withClients(int n) {
    requireNotStarted();
    this.clients = n;
    return this;
  }

  /** Adds command-line arguments (such as {@code -hcl} settings) to every client agent; call before the first start. */
  public synchronized ConsulCluster withClientArgs(String... args) {
    requireNotStarted();
    this.clientArgs = List.of(args);
    return this;
  }

  // ---------------------------------------------------------------- JUnit

  @Override
  public synchronized void beforeAll(ExtensionContext context) {
    if (users++ == 0) {
      start();
    }
  }

  @Override
  public synchronized void afterAll(ExtensionContext context) {
    if (users > 0 && --users == 0) {
      close();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts every agent that is not running (the first time on fresh ports and data directories) and
   * waits until the cluster is ready (see the class comment).
   *
   * @throws IllegalStateException when an agent exits or the cluster is not ready in time; with the logs' tails
   */
  public synchronized ConsulCluster start() {
    if (binary == null) {
      binary = ConsulAgent.findBinary();
      dir = Paths.get("target", "consul", name).toAbsolutePath();
      for (int i = 0; i < servers; i++) {
        agents.add(new Agent("server-" + i, true));
      }
      for (int i = 0; i < clients; i++) {
        agents.add(new Agent("client-" + i, false));
      }
      pickPorts();
      shutdownHook = new Thread(this::killAll, "consul-cluster-kill-" + name);
      Runtime.getRuntime().addShutdownHook(shutdownHook);
    }
    for (int i = 0; i < agents.size(); i++) {
      if (!running(agents.get(i))) {
        launch(agents.get(i));
      }
    }
    awaitReady();
    return this;
  }

  /** Starts server {@code i} again (same ports, same data) without waiting for anything. */
  public synchronized void start(int i) {
    Agent a = agents.get(i);
    if (!running(a)) {
      launch(a);
    }
  }

  /** SIGKILLs server {@code i} and waits for it to exit; its data stays. */
  public synchronized void kill(int i) {
    Agent a = agents.get(i);
    if (a.process == null) {
      return;
    }
    a.process.destroyForcibly();
    waitExit(a.process);
    a.process = null;
  }

  /** Stops every agent (SIGTERM, then SIGKILL after 15 s). Idempotent. */
  @Override
  public synchronized void close() {
    for (Agent a : agents) {
      if (a.process != null) {
        a.process.destroy();
        if (!waitExit(a.process)) {
          a.process.destroyForcibly();
          waitExit(a.process);
        }
        a.process = null;
      }
    }
    if (shutdownHook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // the hook runs anyway
      }
      shutdownHook = null;
    }
  }

  private void killAll() {
    for (Agent a : agents) {
      if (a.process != null) {
        a.process.destroyForcibly();
      }
    }
  }

  // ---------------------------------------------------------------- accessors

  /** How many servers the cluster has; servers are numbered {@code 0..servers()-1}. */
  public int servers() {
    return servers;
  }

  /** Client agent {@code i}'s HTTP address, {@code 127.0.0.1:PORT}. */
  public synchronized String clientAddress(int i) {
    requireStarted();
    return LOOPBACK + ":" + agents.get(servers + i).http;
  }

  /** Server {@code i}'s HTTP address, {@code 127.0.0.1:PORT}. */
  public synchronized String serverAddress(int i) {
    requireStarted();
    return LOOPBACK + ":" + agents.get(i).http;
  }

  /** Client agent {@code i}'s node name. */
  public synchronized String clientNode(int i) {
    return agents.get(servers + i).node;
  }

  /** The process id of server {@code i}, or -1 when it is not running. */
  public synchronized long serverPid(int i) {
    Agent a = agents.get(i);
    return running(a) ? a.process.pid() : -1;
  }

  /** The process id of client agent {@code i}, or -1 when it is not running. */
  public synchronized long clientPid(int i) {
    Agent a = agents.get(servers + i);
    return running(a) ? a.process.pid() : -1;
  }

  /** Whether server {@code i}'s process is alive. */
  public synchronized boolean isRunning(int i) {
    return running(agents.get(i));
  }

  /** The log file of server {@code i}'s latest start (client agents follow the servers). */
  public synchronized Path logFile(int i) {
    return agents.get(i).log;
  }

  /**
   * The server that the running servers report as leader ({@code /v1/status/leader}, matched to its
   * RPC port), or -1 when none reports one.
   */
  public synchronized int leader() {
    for (int i = 0; i < servers; i++) {
      Agent a = agents.get(i);
      if (!running(a)) {
        continue;
      }
      String body = get(a, "/v1/status/leader");
      if (body == null) {
        continue;
      }
      body = body.trim().replace("\"", "");
      for (int j = 0; j < servers; j++) {
        if (body.equals(LOOPBACK + ":" + agents.get(j).rpc)) {
          return j;
        }
      }
    }
    return -1;
  }

  /**
   * Whether client agent {@code i} knows a leader ({@code /v1/status/leader} on the agent, which
   * asks a server).
   */
  public synchronized boolean clientSeesLeader(int i) {
    String body = get(agents.get(servers + i), "/v1/status/leader");
    return body != null && body.trim().length() > 2;
  }

  // ---------------------------------------------------------------- internals

  private static boolean running(Agent a) {
    return a.process != null && a.process.isAlive();
  }

  private void requireStarted() {
    if (binary == null) {
      throw new IllegalStateException("the Consul cluster was not started");
    }
  }

  private void requireNotStarted() {
    if (binary != null) {
      throw new IllegalStateException("call before the first start");
    }
  }

  private void launch(Agent a) {
    a.starts++;
    a.log = dir.resolve(a.node + "-start" + a.starts + ".log");
    List<String> command = command(a);
    try {
      Files.createDirectories(dir.resolve(a.node + ".data"));
      Files.writeString(a.log, String.join(" ", command) + System.lineSeparator());
      a.process = new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(a.log.toFile()))
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
    }
  }

  private List<String> command(Agent a) {
    List<String> c = new ArrayList<>(List.of(binary.toString(), "agent",
        "-node", a.node,
        "-data-dir", dir.resolve(a.node + ".data").toString(),
        "-bind", LOOPBACK, "-client", LOOPBACK,
        "-http-port", Integer.toString(a.http),
        "-serf-lan-port", Integer.toString(a.serfLan),
        "-dns-port", "-1", "-grpc-port", "-1",
        "-log-level", "info", "-retry-interval", "500ms",
        "-hcl", "disable_update_check = true"));
    if (a.server) {
      c.addAll(List.of("-server", "-bootstrap-expect", Integer.toString(servers),
          "-server-port", Integer.toString(a.rpc),
          "-serf-wan-port", Integer.toString(a.serfWan),
          "-hcl", "performance { raft_multiplier = 1 }",
          "-hcl", "autopilot { cleanup_dead_servers = false }"));
    } else {
      c.addAll(clientArgs);
    }
    for (int i = 0; i < servers; i++) {
      Agent s = agents.get(i);
      if (s != a) {
        c.addAll(List.of("-retry-join", LOOPBACK + ":" + s.serfLan));
      }
    }
    return c;
  }

  private void awaitReady() {
    long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
    long backoff = 50;
    String last = "nothing asked yet";
    while (true) {
      for (Agent a : agents) {
        if (a.process != null && !a.process.isAlive()) {
          throw failure(a.node + " exited with code " + a.process.exitValue());
        }
      }
      last = readiness();
      if (last == null) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw failure("the Consul cluster was not ready within " + STARTUP_TIMEOUT.toSeconds() + " s: " + last);
      }
      try {
        // poll interval; returns at once if the first server exits meanwhile
        Process first = agents.get(0).process;
        if (first != null) {
          first.waitFor(backoff, TimeUnit.MILLISECONDS);
        } else {
          new java.util.concurrent.CountDownLatch(1).await(backoff, TimeUnit.MILLISECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw failure("interrupted while waiting for the cluster");
      }
      backoff = Math.min(backoff * 2, 500);
    }
  }

  /** Null when ready, else what is missing. */
  private String readiness() {
    if (leader() < 0) {
      return "no leader";
    }
    for (int i = 0; i < servers; i++) {
      String peers = get(agents.get(i), "/v1/status/peers");
      if (peers == null || peers.split(",").length < servers) {
        return agents.get(i).node + " lists peers " + peers;
      }
    }
    for (int i = servers; i < agents.size(); i++) {
      Agent a = agents.get(i);
      String node = get(a, "/v1/catalog/node/" + a.node);
      if (node == null || !node.contains("\"Node\"")) {
        return a.node + " is not in the catalog yet";
      }
    }
    return null;
  }

  private String get(Agent a, String path) {
    if (!running(a)) {
      return null;
    }
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + LOOPBACK + ":" + a.http + path))
          .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? r.body() : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private IllegalStateException failure(String what) {
    StringBuilder b = new StringBuilder(what);
    for (Agent a : agents) {
      b.append(System.lineSeparator()).append("--- last lines of ").append(a.log).append(" ---")
          .append(System.lineSeparator()).append(tail(a.log));
    }
    return new IllegalStateException(b.toString());
  }

  private static String tail(Path file) {
    if (file == null || !Files.isReadable(file)) {
      return "(no log)";
    }
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join(System.lineSeparator(), lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(cannot read " + file + ": " + e + ")";
    }
  }

  private static boolean waitExit(Process p) {
    try {
      return p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Picks every agent's ports at once, each free for TCP and (serf) UDP, all distinct. */
  private void pickPorts() {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    List<ServerSocket> held = new ArrayList<>();
    List<Integer> chosen = new ArrayList<>();
    int needed = agents.size() * 4;
    try {
      for (int tries = 0; chosen.size() < needed; tries++) {
        if (tries > needed * 20) {
          throw new IllegalStateException("cannot find " + needed + " free loopback ports");
        }
        ServerSocket s = new ServerSocket(0, 1, loopback);
        held.add(s);
        try (DatagramSocket udp = new DatagramSocket(s.getLocalPort(), loopback)) {
          chosen.add(s.getLocalPort());
        } catch (IOException udpTaken) {
          // try another
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot pick free ports", e);
    } finally {
      for (ServerSocket s : held) {
        try {
          s.close();
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
    for (int i = 0; i < agents.size(); i++) {
      Agent a = agents.get(i);
      a.http = chosen.get(4 * i);
      a.serfLan = chosen.get(4 * i + 1);
      a.serfWan = chosen.get(4 * i + 2);
      a.rpc = chosen.get(4 * i + 3);
    }
  }

  /** Deletes the cluster's data directories (after {@link #close()}), for a test that wants no trace. */
  public synchronized void deleteData() {
    if (dir == null || agents.stream().anyMatch(ConsulCluster::running)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String toString() {
    return "ConsulCluster[" + name + ", " + servers + " servers, " + clients + " clients]";
  }
}
