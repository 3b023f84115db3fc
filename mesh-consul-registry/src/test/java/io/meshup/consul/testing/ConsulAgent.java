package io.meshup.consul.testing;

import io.meshup.core.testing.ServerBinaries;
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
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Consul agent in {@code -dev} mode for tests, on free loopback ports.
 *
 * <p>Use it as a JUnit 5 extension on a <em>static</em> field; it starts before the first test of
 * the class and stops after the last (nested classes share it):
 *
 * <pre>{@code
 * @RegisterExtension static ConsulAgent consul = new ConsulAgent();
 *
 * @Test void registers() {
 *   var client = new MyConsulClient(consul.httpAddress());   // "127.0.0.1:PORT"
 *   ...
 *   consul.stop();      // the HTTP port now refuses connections
 *   consul.restart();   // same ports again, a leader is elected, clients can reconnect
 * }
 * }</pre>
 *
 * <p>It can also be used without JUnit: {@link #start()} then {@link #close()} (try-with-resources).
 *
 * <h2>The binary</h2>
 *
 * Found in the same order as {@code scripts/consul.sh install}: {@code $CONSUL_BIN} if set and
 * executable, else {@code consul} on {@code PATH}, else {@code .tools/consul/usr/bin/consul} under
 * the repository root; if none exists, it runs {@code scripts/consul.sh install} (which fetches
 * Debian's Consul 1.8 package into {@code .tools/}). The repository root is the nearest directory
 * at or above the working directory that holds {@code .ci/} or {@code mvnw}.
 *
 * <h2>The agent</h2>
 *
 * Started as {@code consul agent -dev -bind 127.0.0.1 -client 127.0.0.1 -node <unique>
 * -http-port P -dns-port P -serf-lan-port P -serf-wan-port P -server-port P -grpc-port P}, with
 * every port picked free on loopback (TCP and UDP). {@code -dev} keeps all state in memory, so a
 * {@link #restart()} comes back on the same ports and node name but with an <em>empty</em> catalog
 * and KV store. Readiness means {@code GET /v1/status/leader} returns a non-empty leader and, with
 * Connect on, {@code /v1/agent/connect/ca/roots} lists a root; that is
 * awaited for up to 30 seconds, and a failure message carries the tail of the agent's log. Each
 * start logs to its own file under {@code target/consul/} (see {@link #logFile()}).
 *
 * <h2>Reusing an external agent</h2>
 *
 * {@code new ConsulAgent(true)} reuses the agent named by the environment variable {@code
 * CONSUL_HTTP_ADDR} when it is set (and starts its own otherwise). Such a test must not call {@link
 * #stop()} or {@link #restart()} — they throw {@link UnsupportedOperationException} for an agent
 * this class did not start — and must tolerate data left by other users of that agent. The default,
 * {@code new ConsulAgent()}, always starts its own agent and ignores {@code CONSUL_HTTP_ADDR}.
 */
public final class ConsulAgent implements BeforeAllCallback, AfterAllCallback, AutoCloseable {

  /** How long to wait for a leader after each start. */
  public static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(30);

  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
  private static final String LOOPBACK = "127.0.0.1";
  private static final int LOG_TAIL_LINES = 60;
  private static final int PORT_ATTEMPTS = 3;
  private static final AtomicInteger SEQUENCE = new AtomicInteger();

  private final boolean reuseExternal;
  private final String nodeName;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(1))
          .build();

  private int users; // nesting depth of beforeAll/afterAll
  private String externalAddress; // non-null when reusing CONSUL_HTTP_ADDR
  private Path binary;
  private Ports ports;
  private Process process;
  private Path logFile;
  private int starts;
  private Thread shutdownHook;
  private List<String> extraArgs = List.of();

  /** An agent that this class always starts itself (ignores {@code CONSUL_HTTP_ADDR}). */
  public ConsulAgent() {
    this(false);
  }

  /**
   * An agent, optionally reusing an external one.
   *
   * @param reuseExternal if {@code true} and {@code CONSUL_HTTP_ADDR} is set, use that agent instead
   *     of starting one; {@link #stop()} and {@link #restart()} are then unsupported
   */
  public ConsulAgent(boolean reuseExternal) {
    this.reuseExternal = reuseExternal;
    this.nodeName =
        "meshup-test-" + SEQUENCE.incrementAndGet() + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * Adds agent command-line arguments (for example {@code -hcl} settings for HTTPS); call before
   * the agent starts.
   */
  public synchronized ConsulAgent withArgs(String... args) {
    this.extraArgs = List.of(args);
    return this;
  }

  // ---------------------------------------------------------------- JUnit

  /** Starts the agent before the first test of the class (or of an enclosing class). */
  @Override
  public synchronized void beforeAll(ExtensionContext context) {
    if (users++ == 0) {
      start();
    }
  }

  /** Stops the agent after the last test of the class that registered it. */
  @Override
  public synchronized void afterAll(ExtensionContext context) {
    if (users > 0 && --users == 0) {
      close();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts the agent (or attaches to {@code CONSUL_HTTP_ADDR}, see {@link #ConsulAgent(boolean)})
   * and waits for a leader. Does nothing if it is already running.
   *
   * @return this agent
   * @throws IllegalStateException if no leader appears within {@link #STARTUP_TIMEOUT}; the message
   *     holds the tail of the agent's log
   */
  public synchronized ConsulAgent start() {
    if (externalAddress != null || isRunning()) {
      return this;
    }
    String external = System.getenv("CONSUL_HTTP_ADDR");
    if (reuseExternal && external != null && !external.isBlank()) {
      externalAddress = external.replaceFirst("^[a-zA-Z]+://", "").replaceFirst("/+$", "");
      awaitLeader(null);
      return this;
    }
    if (binary == null) {
      binary = findBinary();
    }
    IllegalStateException last = null;
    for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      ports = Ports.pickFree();
      try {
        launch();
        return this;
      } catch (IllegalStateException e) {
        // Another process may have taken one of the ports between picking and binding: try new ones.
        last = e;
        if (!tail(logFile).contains("address already in use")) {
          throw e;
        }
      }
    }
    throw last;
  }

  /**
   * Stops the agent (SIGTERM, then SIGKILL after 15 s) and waits for the process to exit; its ports
   * then refuse connections. The agent can be started again with {@link #restart()}.
   *
   * @throws UnsupportedOperationException for an external agent
   */
  public synchronized void stop() {
    requireOwned("stop");
    if (process == null) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    process = null;
    if (shutdownHook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // the hook runs anyway
      }
      shutdownHook = null;
    }
  }

  /**
   * Stops the agent if it runs, then starts it again on the <em>same</em> ports and node name and
   * waits for a leader. With {@code -dev} the catalog and KV store start out empty again.
   *
   * @throws UnsupportedOperationException for an external agent
   * @throws IllegalStateException if the agent was never started, or no leader appears in time
   */
  public synchronized void restart() {
    requireOwned("restart");
    if (ports == null) {
      throw new IllegalStateException("restart() before start()");
    }
    stop();
    launch();
  }

  /** Stops an agent this class started; leaves an external agent alone. Idempotent. */
  @Override
  public synchronized void close() {
    if (externalAddress != null) {
      externalAddress = null;
      return;
    }
    stop();
  }

  // ---------------------------------------------------------------- accessors

  /** The HTTP API address as {@code "127.0.0.1:PORT"} (for an external agent: as configured). */
  public synchronized String httpAddress() {
    if (externalAddress != null) {
      return externalAddress;
    }
    requireStarted();
    return LOOPBACK + ":" + ports.http;
  }

  /** The base URI of the HTTP API, e.g. {@code http://127.0.0.1:PORT}. */
  public URI httpUri() {
    return URI.create("http://" + httpAddress());
  }

  /** The HTTP API port. */
  public synchronized int httpPort() {
    String address = httpAddress();
    return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
  }

  /** The DNS port of an agent this class started. */
  public synchronized int dnsPort() {
    requireOwned("dnsPort");
    requireStarted();
    return ports.dns;
  }

  /** The gRPC (xDS) port of an agent this class started. */
  public synchronized int grpcPort() {
    requireOwned("grpcPort");
    requireStarted();
    return ports.grpc;
  }

  /** The agent's node name (unique per instance, kept across restarts). */
  public String nodeName() {
    return nodeName;
  }

  /** The consul binary in use, once started (empty for an external agent). */
  public synchronized Optional<Path> binary() {
    return Optional.ofNullable(binary);
  }

  /** The log file of the most recent start (empty for an external agent or before start). */
  public synchronized Optional<Path> logFile() {
    return Optional.ofNullable(logFile);
  }

  /** Whether an agent process started by this class is alive. */
  public synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Whether this instance reuses an external agent from {@code CONSUL_HTTP_ADDR}. */
  public synchronized boolean isExternal() {
    return externalAddress != null;
  }

  /** The command line of the agent (valid once ports are chosen), for diagnostics. */
  public synchronized List<String> commandLine() {
    requireStarted();
    return command();
  }

  // ---------------------------------------------------------------- internals

  private void launch() {
    starts++;
    Path logDir = Paths.get("target", "consul").toAbsolutePath();
    logFile = logDir.resolve(nodeName + "-start" + starts + ".log");
    List<String> command = command();
    try {
      Files.createDirectories(logDir);
      Files.writeString(logFile, String.join(" ", command) + System.lineSeparator());
      process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
              .redirectInput(ProcessBuilder.Redirect.from(nullFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
    }
    Process started = process;
    shutdownHook = new Thread(started::destroyForcibly, "consul-agent-kill-" + nodeName);
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    try {
      awaitLeader(started);
    } catch (RuntimeException e) {
      stop();
      throw e;
    }
  }

  private List<String> command() {
    List<String> command = new java.util.ArrayList<>(List.of(
        binary.toString(), "agent", "-dev",
        "-bind", LOOPBACK, "-client", LOOPBACK,
        "-node", nodeName,
        "-http-port", Integer.toString(ports.http),
        "-dns-port", Integer.toString(ports.dns),
        "-serf-lan-port", Integer.toString(ports.serfLan),
        "-serf-wan-port", Integer.toString(ports.serfWan),
        "-server-port", Integer.toString(ports.server),
        "-grpc-port", Integer.toString(ports.grpc)));
    command.addAll(extraArgs);
    return command;
  }

  /** A CA roots answer that lists at least one root. */
  private static final java.util.regex.Pattern ROOT_LISTED = java.util.regex.Pattern.compile("\"Roots\"\\s*:\\s*\\[\\s*\\{");

  /**
   * Polls {@code /v1/status/leader} with a short backoff until a leader is reported and, when
   * Connect is on, the CA lists a root.
   */
  private void awaitLeader(Process started) {
    URI leaderUri = URI.create("http://" + httpAddress() + "/v1/status/leader");
    HttpRequest request = HttpRequest.newBuilder(leaderUri).timeout(Duration.ofSeconds(2)).GET().build();
    long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
    long backoffMillis = 25;
    String lastObservation = "no answer yet";
    while (true) {
      if (started != null && !started.isAlive()) {
        throw failure("consul agent exited with code " + started.exitValue() + " before electing a leader");
      }
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        String body = response.body().trim();
        if (response.statusCode() == 200 && body.length() > 2 && body.startsWith("\"")) {
          // e.g. "127.0.0.1:8300"; an empty leader is "". With Connect on (as in -dev), the CA
          // comes up a moment after the election: wait for its first root too, or tests that ask
          // for a leaf right away find "no CA root"
          HttpResponse<String> roots = http.send(HttpRequest.newBuilder(
              URI.create("http://" + httpAddress() + "/v1/agent/connect/ca/roots")).timeout(Duration.ofSeconds(2)).GET().build(),
              HttpResponse.BodyHandlers.ofString());
          if (roots.statusCode() != 200 || ROOT_LISTED.matcher(roots.body()).find()) {
            return;
          }
          lastObservation = "a leader, but no Connect CA root yet";
        } else {
          lastObservation = "HTTP " + response.statusCode() + " " + body;
        }
      } catch (IOException e) {
        lastObservation = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw failure("interrupted while waiting for a leader");
      }
      if (System.nanoTime() > deadline) {
        throw failure("no leader at " + leaderUri + " within " + STARTUP_TIMEOUT.toSeconds()
            + " s (last: " + lastObservation + ")");
      }
      try {
        // poll interval: returns at once if the agent exits meanwhile
        if (started != null) {
          started.waitFor(backoffMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        } else {
          new java.util.concurrent.CountDownLatch(1).await(backoffMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw failure("interrupted while waiting for a leader");
      }
      backoffMillis = Math.min(backoffMillis * 2, 500);
    }
  }

  private IllegalStateException failure(String what) {
    if (logFile == null) {
      return new IllegalStateException(what);
    }
    return new IllegalStateException(what + System.lineSeparator() + "--- last lines of " + logFile
        + " ---" + System.lineSeparator() + tail(logFile));
  }

  private void requireOwned(String operation) {
    if (externalAddress != null) {
      throw new UnsupportedOperationException(
          operation + "() on the external agent at CONSUL_HTTP_ADDR=" + externalAddress
              + "; use new ConsulAgent() for a test that needs it");
    }
  }

  private void requireStarted() {
    if (ports == null) {
      throw new IllegalStateException("the Consul agent was not started");
    }
  }

  // ---------------------------------------------------------------- finding the binary

  /** $CONSUL_BIN, PATH, .tools/consul/usr/bin/consul, else {@code scripts/consul.sh install}. */
  static Path findBinary() {
    return ServerBinaries.find("consul", "CONSUL_BIN", "consul", "consul.sh");
  }

  /** The nearest directory at or above the working directory that holds {@code .ci/} or {@code mvnw}. */
  static Path repositoryRoot() {
    return ServerBinaries.repositoryRoot();
  }

  private static java.io.File nullFile() {
    boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
    return new java.io.File(windows ? "NUL" : "/dev/null");
  }

  private static String tail(Path file) {
    if (file == null || !Files.isReadable(file)) {
      return "(no log)";
    }
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join(System.lineSeparator(),
          lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(cannot read " + file + ": " + e + ")";
    }
  }

  // ---------------------------------------------------------------- ports

  /** Six distinct loopback ports, each free for both TCP and UDP when picked. */
  private record Ports(int http, int dns, int serfLan, int serfWan, int server, int grpc) {

    static Ports pickFree() {
      InetAddress loopback = InetAddress.getLoopbackAddress();
      List<ServerSocket> held = new ArrayList<>();
      List<Integer> chosen = new ArrayList<>();
      try {
        for (int tries = 0; chosen.size() < 6; tries++) {
          if (tries > 100) {
            throw new IllegalStateException("cannot find 6 free loopback ports");
          }
          ServerSocket socket = new ServerSocket(0, 1, loopback);
          held.add(socket); // held open until all six are chosen, so they are distinct
          int port = socket.getLocalPort();
          if (udpFree(port, loopback)) {
            chosen.add(port);
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot pick free ports", e);
      } finally {
        for (ServerSocket socket : held) {
          try {
            socket.close();
          } catch (IOException ignored) {
            // best effort
          }
        }
      }
      return new Ports(chosen.get(0), chosen.get(1), chosen.get(2), chosen.get(3), chosen.get(4),
          chosen.get(5));
    }

    private static boolean udpFree(int port, InetAddress loopback) {
      try (DatagramSocket udp = new DatagramSocket(port, loopback)) {
        return udp.getLocalPort() == port;
      } catch (IOException e) {
        return false;
      }
    }
  }

  @Override
  public String toString() {
    return "ConsulAgent[" + nodeName + (externalAddress != null ? ", external " + externalAddress
        : ports != null ? ", http " + LOOPBACK + ":" + ports.http : "") + "]";
  }
}
