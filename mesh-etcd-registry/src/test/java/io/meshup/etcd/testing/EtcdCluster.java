package io.meshup.etcd.testing;

import io.meshup.core.testing.ServerBinaries;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Real etcd members for tests: one, or a cluster of several, on free loopback ports, each with its
 * own data directory under {@code target/etcd/}.
 *
 * <p>Use it as a JUnit 5 extension on a <em>static</em> field; it starts before the first test of
 * the class and stops after the last:
 *
 * <pre>{@code
 * @RegisterExtension static EtcdCluster etcd = EtcdCluster.single();
 * @RegisterExtension static EtcdCluster cluster = EtcdCluster.of(3);
 *
 * @Test void survivesTheLeader() {
 *   String endpoints = cluster.clientEndpoints();   // "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
 *   cluster.kill(cluster.leader());                 // SIGKILL
 *   cluster.start(i);                               // the same member again, with its data
 * }
 * }</pre>
 *
 * <p>or without JUnit: {@link #start()} then {@link #close()} (try-with-resources).
 *
 * <h2>The binary</h2>
 *
 * Found as {@code scripts/etcd.sh install} finds it: {@code $ETCD_BIN} if set and executable, else
 * {@code etcd} on {@code PATH}, else {@code .tools/etcd/usr/bin/etcd} under the repository root; if
 * none exists, it runs {@code scripts/etcd.sh install}, which extracts Debian's {@code etcd-server}
 * 3.4 package there. The repository root is the nearest directory at or above the working
 * directory that holds {@code .ci/} or {@code mvnw}.
 *
 * <h2>The members</h2>
 *
 * Each member listens for clients on {@code 127.0.0.1:<client port>} (plaintext, or TLS with
 * {@link #withTls}, and then also in plaintext on another port, which only the tests' own
 * {@link EtcdOps} use), for peers on another port (plaintext), and serves {@code /health} on a third
 * (plaintext, whatever the client side). Elections are fast ({@code --heartbeat-interval 50
 * --election-timeout 500}) so that losing a leader costs well under a second. {@link #start()}
 * launches every member and waits up to 30 s until each reports itself healthy; a failure message
 * carries the tail of the members' logs ({@code target/etcd/<cluster>/<member>.log}).
 */
public final class EtcdCluster implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
  /** How long {@link #start()} waits for health. */
  public static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(30);

  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
  private static final String LOOPBACK = "127.0.0.1";
  private static final int LOG_TAIL_LINES = 40;
  private static final AtomicInteger SEQUENCE = new AtomicInteger();

  private final int size;
  private final String name;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(1)).build();
  private final Member[] members;
  private Path binary;
  private Path dir;
  private Tls tls;
  private List<String> extraArgs = List.of();
  private int users;
  private Thread shutdownHook;

  /** The certificate files of TLS client listeners: the server's, and the CA that signs clients. */
  public record Tls(Path certFile, Path keyFile, Path trustedCaFile, boolean clientCertAuth) {}

  private static final class Member {
    final String name;
    int client;
    int peer;
    int metrics;
    int admin; // plaintext client port beside a TLS one, for the tests' own calls
    Process process;
    Path log;
    int starts;

    Member(String name) {
      this.name = name;
    }
  }

  private EtcdCluster(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("a cluster has at least one member");
    }
    this.size = size;
    this.name = "etcd-" + SEQUENCE.incrementAndGet() + "-" + UUID.randomUUID().toString().substring(0, 8);
    this.members = new Member[size];
    for (int i = 0; i < size; i++) {
      members[i] = new Member("m" + i);
    }
  }

  /** One member. */
  public static EtcdCluster single() {
    return new EtcdCluster(1);
  }

  /** A cluster of {@code size} members. */
  public static EtcdCluster of(int size) {
    return new EtcdCluster(size);
  }

  /** Serves clients over TLS with these files; call before the first start. */
  public synchronized EtcdCluster withTls(Tls tls) {
    this.tls = tls;
    return this;
  }

  /** Adds command-line arguments to every member; call before the first start. */
  public synchronized EtcdCluster withArgs(String... args) {
    this.extraArgs = List.of(args);
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
   * Starts every member that is not running (the first time with fresh data directories and ports)
   * and waits until each is healthy.
   *
   * @throws IllegalStateException when a member exits or is not healthy in time; with the logs' tails
   */
  public synchronized EtcdCluster start() {
    if (binary == null) {
      binary = findBinary();
      dir = Paths.get("target", "etcd", name).toAbsolutePath();
      pickPorts();
      shutdownHook = new Thread(this::killAll, "etcd-kill-" + name);
      Runtime.getRuntime().addShutdownHook(shutdownHook);
    }
    for (int i = 0; i < size; i++) {
      if (!isRunning(i)) {
        launch(i);
      }
    }
    for (int i = 0; i < size; i++) {
      awaitHealthy(i);
    }
    return this;
  }

  /** Starts member {@code i} again (same ports, same data) and waits until it is healthy. */
  public synchronized void start(int i) {
    if (!isRunning(i)) {
      launch(i);
    }
    awaitHealthy(i);
  }

  /**
   * Starts member {@code i} again without waiting for health, for a member that cannot be healthy
   * alone (a cluster still without quorum).
   */
  public synchronized void launchOnly(int i) {
    if (!isRunning(i)) {
      launch(i);
    }
  }

  /** SIGKILLs member {@code i} and waits for it to exit; its data stays. */
  public synchronized void kill(int i) {
    Member m = members[i];
    if (m.process == null) {
      return;
    }
    m.process.destroyForcibly();
    waitExit(m.process);
    m.process = null;
  }

  /** Stops member {@code i} (SIGTERM, then SIGKILL after 10 s); its data stays. */
  public synchronized void stop(int i) {
    Member m = members[i];
    if (m.process == null) {
      return;
    }
    m.process.destroy();
    if (!waitExit(m.process)) {
      m.process.destroyForcibly();
      waitExit(m.process);
    }
    m.process = null;
  }

  /**
   * For a single member: stops it, deletes its data and starts it again on the same ports, as a new
   * cluster (revisions start over, the cluster id changes).
   */
  public synchronized void wipeAndRestart() {
    if (size != 1) {
      throw new IllegalStateException("wipeAndRestart() is for single members");
    }
    stop(0);
    deleteTree(dataDir(0));
    start(0);
  }

  /** Stops every member. Idempotent. */
  @Override
  public synchronized void close() {
    for (int i = 0; i < size; i++) {
      stop(i);
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
    for (Member m : members) {
      if (m.process != null) {
        m.process.destroyForcibly();
      }
    }
  }

  // ---------------------------------------------------------------- accessors

  /** How many members the cluster has. */
  public int size() {
    return size;
  }

  /** Whether member {@code i}'s process is alive. */
  public synchronized boolean isRunning(int i) {
    return members[i].process != null && members[i].process.isAlive();
  }

  /** Every member's client address, comma-separated: {@code 127.0.0.1:P1,127.0.0.1:P2}. */
  public synchronized String clientEndpoints() {
    requireStarted();
    return Arrays.stream(members).map(m -> LOOPBACK + ":" + m.client).collect(Collectors.joining(","));
  }

  /** Member {@code i}'s client address, {@code 127.0.0.1:PORT}. */
  public synchronized String clientEndpoint(int i) {
    requireStarted();
    return LOOPBACK + ":" + members[i].client;
  }

  /** Member {@code i}'s client URL: {@code http://} or, with TLS, {@code https://}. */
  public synchronized String clientUrl(int i) {
    return (tls != null ? "https://" : "http://") + clientEndpoint(i);
  }

  /** Member {@code i}'s log file of its latest start. */
  public synchronized Optional<Path> logFile(int i) {
    return Optional.ofNullable(members[i].log);
  }

  /**
   * The index of the member the running members agree is the leader (as their
   * {@code /v3/maintenance/status} reports), or -1 when none is known. Plaintext clusters only.
   */
  public synchronized int leader() {
    String leaderId = null;
    List<String> memberIds = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      memberIds.add(null);
      if (!isRunning(i)) {
        continue;
      }
      String body;
      try {
        body = post(i, "/v3/maintenance/status", "{}");
      } catch (IllegalStateException e) {
        body = null;
      }
      if (body == null) {
        continue;
      }
      memberIds.set(i, field(body, "member_id"));
      String l = field(body, "leader");
      if (l != null && !l.equals("0")) {
        leaderId = l;
      }
    }
    return leaderId == null ? -1 : memberIds.indexOf(leaderId);
  }

  /** Whether member {@code i} answers {@code /health} with {@code "health":"true"}. */
  public synchronized boolean isHealthy(int i) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + LOOPBACK + ":"
          + members[i].metrics + "/health")).timeout(Duration.ofSeconds(2)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 && r.body().contains("\"health\":\"true\"");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * POSTs JSON to member {@code i}'s gRPC gateway (on the plaintext port); null when it cannot be reached.
   *
   * @throws IllegalStateException with etcd's answer when it answers with an error
   */
  synchronized String post(int i, String path, String json) {
    return post(i, path, json, null);
  }

  /** As {@link #post(int, String, String)}, with etcd's auth token in the Authorization header. */
  String post(int i, String path, String json, String token) {
    int port;
    synchronized (this) {
      port = tls != null ? members[i].admin : members[i].client;
    }
    try {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + LOOPBACK + ":" + port + path))
          .timeout(Duration.ofSeconds(3)).POST(HttpRequest.BodyPublishers.ofString(json));
      if (token != null) {
        b.header("Authorization", token);
      }
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("POST " + path + " to " + members[i].name + ": HTTP " + r.statusCode() + " " + r.body());
      }
      return r.body();
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** The string value of a top-level or nested {@code "name": "value"} in gateway JSON. */
  static String field(String json, String name) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\"\\s*:\\s*\"?([^\",}]*)\"?").matcher(json);
    return m.find() ? m.group(1) : null;
  }

  // ---------------------------------------------------------------- internals

  private Path dataDir(int i) {
    return dir.resolve(members[i].name + ".data");
  }

  private void launch(int i) {
    Member m = members[i];
    m.starts++;
    m.log = dir.resolve(m.name + "-start" + m.starts + ".log");
    List<String> command = command(i);
    try {
      Files.createDirectories(dir);
      Files.writeString(m.log, String.join(" ", command) + System.lineSeparator());
      m.process = new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(m.log.toFile()))
          .redirectInput(ProcessBuilder.Redirect.from(nullFile()))
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
    }
  }

  private List<String> command(int i) {
    Member m = members[i];
    String scheme = tls != null ? "https" : "http";
    String cluster = Arrays.stream(members).map(o -> o.name + "=http://" + LOOPBACK + ":" + o.peer)
        .collect(Collectors.joining(","));
    List<String> c = new ArrayList<>(List.of(binary.toString(),
        "--name", m.name,
        "--data-dir", dataDir(i).toString(),
        "--listen-client-urls", scheme + "://" + LOOPBACK + ":" + m.client
            + (tls != null ? ",http://" + LOOPBACK + ":" + m.admin : ""),
        "--advertise-client-urls", scheme + "://" + LOOPBACK + ":" + m.client,
        "--listen-peer-urls", "http://" + LOOPBACK + ":" + m.peer,
        "--initial-advertise-peer-urls", "http://" + LOOPBACK + ":" + m.peer,
        "--listen-metrics-urls", "http://" + LOOPBACK + ":" + m.metrics,
        "--initial-cluster", cluster,
        "--initial-cluster-token", name,
        "--initial-cluster-state", "new",
        "--heartbeat-interval", "50",
        "--election-timeout", "500",
        "--logger", "zap",
        "--log-outputs", "stderr"));
    if (tls != null) {
      c.addAll(List.of("--cert-file", tls.certFile().toString(), "--key-file", tls.keyFile().toString()));
      if (tls.trustedCaFile() != null) {
        c.addAll(List.of("--trusted-ca-file", tls.trustedCaFile().toString()));
      }
      if (tls.clientCertAuth()) {
        c.add("--client-cert-auth");
      }
    }
    c.addAll(extraArgs);
    return c;
  }

  private void awaitHealthy(int i) {
    Member m = members[i];
    long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
    long pause = 20;
    while (!isHealthy(i)) {
      if (m.process == null || !m.process.isAlive()) {
        throw failure("etcd member " + m.name + " exited" + (m.process == null ? "" : " with code " + m.process.exitValue()));
      }
      if (System.nanoTime() > deadline) {
        throw failure("etcd member " + m.name + " was not healthy within " + STARTUP_TIMEOUT.toSeconds() + " s");
      }
      try {
        // poll interval; returns at once if the member exits meanwhile
        m.process.waitFor(pause, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw failure("interrupted while waiting for " + m.name);
      }
      pause = Math.min(pause * 2, 200);
    }
  }

  private boolean waitExit(Process p) {
    try {
      return p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      return false;
    }
  }

  private IllegalStateException failure(String what) {
    StringBuilder sb = new StringBuilder(what);
    for (Member m : members) {
      if (m.log != null) {
        sb.append(System.lineSeparator()).append("--- last lines of ").append(m.log).append(" ---")
            .append(System.lineSeparator()).append(tail(m.log));
      }
    }
    return new IllegalStateException(sb.toString());
  }

  private void requireStarted() {
    if (binary == null) {
      throw new IllegalStateException("the etcd cluster was not started");
    }
  }

  private void pickPorts() {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    List<ServerSocket> held = new ArrayList<>();
    try {
      // held open until all are chosen, so they are distinct
      for (Member m : members) {
        ServerSocket a = new ServerSocket(0, 1, loopback);
        ServerSocket b = new ServerSocket(0, 1, loopback);
        ServerSocket c = new ServerSocket(0, 1, loopback);
        ServerSocket d = new ServerSocket(0, 1, loopback);
        held.addAll(List.of(a, b, c, d));
        m.client = a.getLocalPort();
        m.peer = b.getLocalPort();
        m.metrics = c.getLocalPort();
        m.admin = d.getLocalPort();
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
  }

  // ---------------------------------------------------------------- finding the binary

  /** $ETCD_BIN, PATH, .tools/etcd/usr/bin/etcd, else {@code scripts/etcd.sh install}. */
  static Path findBinary() {
    return ServerBinaries.find("etcd", "ETCD_BIN", "etcd", "etcd.sh");
  }

  /** The nearest directory at or above the working directory that holds {@code .ci/} or {@code mvnw}. */
  static Path repositoryRoot() {
    return ServerBinaries.repositoryRoot();
  }

  private static java.io.File nullFile() {
    boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
    return new java.io.File(windows ? "NUL" : "/dev/null");
  }

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + root, e);
    }
  }

  static String tail(Path file) {
    if (file == null || !Files.isReadable(file)) {
      return "(no log)";
    }
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join(System.lineSeparator(), lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(cannot read " + file + ": " + e + ")";
    }
  }

  @Override
  public String toString() {
    return "EtcdCluster[" + name + ", " + size + " member(s)" + (binary != null ? ", " + clientEndpoints() : "") + "]";
  }
}
