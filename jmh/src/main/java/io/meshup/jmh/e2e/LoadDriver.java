package io.meshup.jmh.e2e;

import io.meshup.core.identity.DevCertificateAuthority;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One end-to-end run: starts the echo servers in a JVM of their own, the two HAProxy sidecar pairs
 * (plaintext and TLS between the proxies), then, one after another, one client JVM per
 * configuration ({@link ClientRun}), and finally {@link io.meshup.jmh.MeshFootprint}. Writes
 * {@code <out>.json} (every figure) and {@code <out>.txt} (the log).
 *
 * <p>Arguments ({@code --name value}): out (path without extension), haproxy (binary; without it
 * the sidecar configurations are skipped), configs (comma-separated, default all), warmup, closed,
 * open (seconds per configuration), concurrency, rate (open loop, gRPC), httpRate (open loop, HTTP),
 * instances, clkTck, serverWarmup (seconds of load on every server kind before the first
 * configuration), reverse (true: configurations in reverse order), clientJvmArgs (space-separated,
 * added to each client JVM, e.g. a JFR recording).
 */
public final class LoadDriver {
  static final List<String> ALL = List.of("grpc-plain", "grpc-plain-direct", "grpc-per-endpoint", "grpc-xds", "mesh-plain", "mesh-mtls", "mesh-mtls-jdk", "sidecar-plain", "sidecar-tls",
      "http-plain", "http-mesh", "grpc-plain-again");

  private LoadDriver() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = args(argv);
    Path out = Path.of(a.getOrDefault("out", "jmh/results/e2e"));
    String haproxy = a.getOrDefault("haproxy", "");
    List<String> configs = new ArrayList<>(List.of(a.getOrDefault("configs", String.join(",", ALL)).split(",")));
    if (Boolean.parseBoolean(a.getOrDefault("reverse", "false"))) {
      java.util.Collections.reverse(configs);
    }
    String serverWarmup = a.getOrDefault("serverWarmup", "15");
    List<String> clientJvmArgs = a.containsKey("clientJvmArgs") ? List.of(a.get("clientJvmArgs").split(" ")) : List.of();
    String warmup = a.getOrDefault("warmup", "10");
    String closed = a.getOrDefault("closed", "8");
    String open = a.getOrDefault("open", "8");
    String concurrency = a.getOrDefault("concurrency", "16");
    String rate = a.getOrDefault("rate", "1000");
    String httpRate = a.getOrDefault("httpRate", "500");
    int instances = Integer.parseInt(a.getOrDefault("instances", "3"));
    String clkTck = a.getOrDefault("clkTck", "100");
    // CPU sets (taskset -c): the client JVMs on one, the servers' JVM and the proxies on the other
    clientCpus = a.getOrDefault("clientCpus", "");
    serverCpus = a.getOrDefault("serverCpus", "");

    Path work = Files.createTempDirectory("meshup-e2e");
    Files.createDirectories(out.toAbsolutePath().getParent());
    try (PrintWriter log = new PrintWriter(Files.newBufferedWriter(Path.of(out + ".txt")), true)) {
      Map<String, Object> run = new LinkedHashMap<>();
      run.put("started", Instant.now().toString());
      run.put("machine", machine());
      Map<String, Object> params = new LinkedHashMap<>();
      params.put("warmup_s", warmup);
      params.put("closed_s", closed);
      params.put("open_s", open);
      params.put("concurrency", concurrency);
      params.put("rate_rps", rate);
      params.put("http_rate_rps", httpRate);
      params.put("instances", instances);
      params.put("server_warmup_s", serverWarmup);
      params.put("order", String.join(",", configs));
      params.put("payload_bytes", Echo.PAYLOAD_BYTES);
      params.put("client_cpus", clientCpus.isEmpty() ? "any" : clientCpus);
      params.put("server_cpus", serverCpus.isEmpty() ? "any" : serverCpus);
      run.put("params", params);
      say(log, "run " + out + ": " + params + ", work folder " + work);

      DevCertificateAuthority ca = DevCertificateAuthority.create(Certs.TRUST_DOMAIN);
      for (String s : List.of(Echo.SERVICE, Clients.CLIENT, "proxy-local", "proxy-remote")) {
        Certs.write(ca, s, work);
      }
      Certs.writeBundle(ca, work);

      Process server = java(serverCpus, "-Xms1g", "-Xmx1g", EchoServers.class.getName(), work.toString(),
          Integer.toString(instances)).start();
      BufferedReader sout = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
      String ready = null;
      for (String line; (line = sout.readLine()) != null; ) {
        log.println("[servers] " + line);
        if (line.startsWith("READY ")) {
          ready = line;
          break;
        }
      }
      if (ready == null) {
        throw new IllegalStateException("the servers' JVM exited before it was ready; see " + out + ".txt");
      }
      BlockingQueue<String> counts = new LinkedBlockingQueue<>();
      drain(sout, log, "[servers] ", counts);
      PrintWriter serverIn = new PrintWriter(server.getOutputStream(), true, StandardCharsets.UTF_8);
      Map<String, String> ports = new LinkedHashMap<>();
      for (String kv : ready.substring(6).split(" ")) {
        String[] p = kv.split("=");
        ports.put(p[0], p[1]);
      }
      run.put("server_pid", server.pid());

      Haproxy plainPair = null;
      Haproxy tlsPair = null;
      List<Object> results = new ArrayList<>();
      try {
        if (!haproxy.isEmpty()) {
          int[] grpcPorts = ClientRun.ports(ports.get("grpc"));
          plainPair = Haproxy.start(pinned(serverCpus, haproxy), work, "sidecar-plain", false, grpcPorts, work);
          tlsPair = Haproxy.start(pinned(serverCpus, haproxy), work, "sidecar-tls", true, grpcPorts, work);
          run.put("haproxy", version(haproxy));
        }
        // the servers' JVM is cold: warm its gRPC, mTLS and HTTP paths before the first configuration,
        // so that whichever configuration runs first is not measured against cold servers
        say(log, "server warm-up: " + serverWarmup + " s");
        child(List.of("-Xmx512m", ClientRun.class.getName(), "--config", "server-warmup", "--grpc", ports.get("grpc"),
            "--mtls", ports.get("mtls"), "--http", ports.get("http"), "--certs", work.toString(), "--warmup", serverWarmup,
            "--closed", "0.5", "--open", "0.5", "--concurrency", concurrency, "--rate", "100"), log, "server-warmup");
        servedSince(serverIn, counts);
        for (String config : configs) {
          boolean sidecar = config.startsWith("sidecar-");
          if (sidecar && plainPair == null) {
            say(log, config + ": skipped, no haproxy");
            results.add(Map.of("config", config, "skipped", "no haproxy binary"));
            continue;
          }
          Haproxy pair = config.equals("sidecar-tls") ? tlsPair : plainPair;
          List<String> cmd = new ArrayList<>(clientJvmArgs);
          if (config.equals("mesh-mtls-jdk")) {
            // the JDK's TLS instead of BoringSSL (netty-tcnative is on the class path)
            cmd.add("-Dio.netty.handler.ssl.noOpenSsl=true");
          }
          cmd.addAll(List.of("-Xms512m", "-Xmx512m", ClientRun.class.getName(),
              "--config", config, "--grpc", ports.get("grpc"), "--mtls", ports.get("mtls"), "--http", ports.get("http"),
              "--xds", ports.get("xds"),
              "--certs", work.toString(), "--warmup", warmup, "--closed", closed, "--open", open,
              "--concurrency", concurrency, "--rate", config.startsWith("http-") ? httpRate : rate, "--serverPid", Long.toString(server.pid()),
              "--clkTck", clkTck));
          if (sidecar) {
            cmd.addAll(List.of("--sidecarPlain", Integer.toString(plainPair.port), "--sidecarTls",
                Integer.toString(tlsPair.port), "--proxyPids", pair.pids()));
          }
          say(log, config + ": running");
          Object r = child(cmd, log, config);
          String served = servedSince(serverIn, counts);
          results.add(r instanceof Json.Raw raw
              ? new Json.Raw(raw.json().substring(0, raw.json().length() - 1) + ",\"served\":\"" + served + "\"}")
              : r);
          say(log, config + ": " + r + "; calls served per instance: " + served);
        }
        say(log, "footprint: running");
        Object fp = child(List.of("-Xms1g", "-Xmx1g", io.meshup.jmh.MeshFootprint.class.getName()), log,
            "footprint");
        run.put("footprint", fp);
        say(log, "footprint: " + fp);
      } finally {
        if (plainPair != null) {
          plainPair.close();
        }
        if (tlsPair != null) {
          tlsPair.close();
        }
        server.getOutputStream().close();
        server.waitFor();
      }
      run.put("results", results);
      run.put("finished", Instant.now().toString());
      run.put("load_after", Files.readString(Path.of("/proc/loadavg")).trim());
      Files.writeString(Path.of(out + ".json"), Json.write(run) + "\n");
      say(log, "wrote " + out + ".json");
    }
  }

  /** Calls each server instance served since the last call of this method, as the servers' JVM prints them. */
  private static String servedSince(PrintWriter serverIn, BlockingQueue<String> counts) throws InterruptedException {
    serverIn.println("COUNTS");
    String c = counts.poll(5, TimeUnit.SECONDS);
    return c == null ? "?" : c;
  }

  /** Runs a child JVM to its end and returns its {@code RESULT} line (or a map saying why there is none). */
  private static Object child(List<String> cmd, PrintWriter log, String tag)
      throws IOException, InterruptedException {
    Process p = java(clientCpus, cmd.toArray(String[]::new)).redirectErrorStream(true).start();
    String result = null;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("RESULT ")) {
          result = line.substring(7);
        } else {
          log.println("[" + tag + "] " + line);
        }
      }
    }
    int rc = p.waitFor();
    if (result == null) {
      say(log, tag + ": failed (exit " + rc + "); see the log");
      Map<String, Object> failed = new LinkedHashMap<>();
      failed.put("config", tag);
      failed.put("failed", "exit " + rc);
      return failed;
    }
    log.println("[" + tag + "] RESULT " + result);
    return new Json.Raw(result);
  }

  private static String clientCpus = "";
  private static String serverCpus = "";

  /** {@code binary} and its leading arguments, under {@code taskset -c cpus} when cpus are given. */
  static List<String> pinned(String cpus, String binary) {
    return cpus.isEmpty() ? List.of(binary) : List.of("taskset", "-c", cpus, binary);
  }

  private static ProcessBuilder java(String cpus, String... args) {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(pinned(cpus, javaBin));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd);
  }

  private static void drain(BufferedReader r, PrintWriter log, String prefix, BlockingQueue<String> counts) {
    Thread t = new Thread(() -> {
      try {
        for (String line; (line = r.readLine()) != null; ) {
          log.println(prefix + line);
          if (line.startsWith("COUNTS ")) {
            counts.add(line.substring(7));
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "drain");
    t.setDaemon(true);
    t.start();
  }

  private static Map<String, Object> machine() throws IOException {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cpus", Runtime.getRuntime().availableProcessors());
    String model = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
        .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
    m.put("cpu", model);
    m.put("kernel", Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
    m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    m.put("mem_total", Files.readAllLines(Path.of("/proc/meminfo")).get(0).replaceAll("\\s+", " "));
    m.put("load_before", Files.readString(Path.of("/proc/loadavg")).trim());
    return m;
  }

  private static String version(String haproxy) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(haproxy, "-v").redirectErrorStream(true).start();
    String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().findFirst().orElse("?");
    p.waitFor();
    return v;
  }

  private static void say(PrintWriter log, String line) {
    log.println(line);
    System.err.println("e2e: " + line);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** {@code --name value} pairs. */
  static Map<String, String> args(String[] argv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      if (!argv[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --name value, got " + argv[i]);
      }
      m.put(argv[i].substring(2), argv[i + 1]);
    }
    return m;
  }
}
