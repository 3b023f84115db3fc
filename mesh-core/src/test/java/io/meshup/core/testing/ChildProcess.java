package io.meshup.core.testing;

import io.meshup.core.Endpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A server in a JVM of its own, for tests that freeze or kill an endpoint's process (SIGSTOP,
 * SIGKILL), as a frozen or crashed host does: the main class runs on this JVM's class path and
 * prints {@code PORT <n>} once it listens. Not thread-safe.
 */
public final class ChildProcess implements AutoCloseable {
  private final Process process;
  private final int port;

  private ChildProcess(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /**
   * Starts {@code mainClass} with {@code args} and waits (at most 30 s) for its {@code PORT} line.
   *
   * @throws IOException when it cannot start or exits before listening
   */
  public static ChildProcess start(Class<?> mainClass, String... args) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), mainClass.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String line;
    StringBuilder seen = new StringBuilder();
    while ((line = out.readLine()) != null) {
      if (line.startsWith("PORT ")) {
        int port = Integer.parseInt(line.substring(5).trim());
        Thread drain = new Thread(() -> {
          try {
            while (out.readLine() != null) {
              // keep the pipe flowing
            }
          } catch (IOException ignored) {
            // the process went
          }
        }, "child-output-" + port);
        drain.setDaemon(true);
        drain.start();
        return new ChildProcess(p, port);
      }
      seen.append(line).append('\n');
      if (System.nanoTime() > deadline) {
        break;
      }
    }
    p.destroyForcibly();
    throw new IOException(mainClass.getName() + " did not start listening:\n" + seen);
  }

  /**
   * Starts {@code n} processes of {@code mainClass} named {@code e0..e<n-1>} (each given its name
   * and a log file in {@code logDir}), adds them to {@code started} and returns them as endpoints
   * with those ids on loopback.
   */
  public static List<Endpoint> endpoints(Class<?> mainClass, int n, Path logDir, List<ChildProcess> started)
      throws IOException {
    List<Endpoint> eps = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ChildProcess p = start(mainClass, "e" + i, logDir.resolve("e" + i + ".log").toString());
      started.add(p);
      eps.add(new Endpoint("e" + i, "127.0.0.1", p.port(), Map.of(), 1));
    }
    return eps;
  }

  public int port() {
    return port;
  }

  public long pid() {
    return process.pid();
  }

  /** Freezes the process (SIGSTOP): its sockets stay open, nothing answers. */
  public void freeze() throws IOException, InterruptedException {
    signal("STOP");
  }

  /** Lets a frozen process go on (SIGCONT). */
  public void resume() throws IOException, InterruptedException {
    signal("CONT");
  }

  /** Kills the process at once (SIGKILL), as a crash would. */
  public void kill() throws InterruptedException {
    killAll(List.of(this));
  }

  /** Kills several processes at the same moment (SIGKILL to each, then waits for all). */
  public static void killAll(List<ChildProcess> processes) throws InterruptedException {
    for (ChildProcess p : processes) {
      p.process.destroyForcibly();
    }
    for (ChildProcess p : processes) {
      p.process.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private void signal(String name) throws IOException, InterruptedException {
    Process k = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
    if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
      throw new IOException("kill -" + name + " " + process.pid() + " failed");
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      try {
        resume();
      } catch (IOException ignored) {
        // it is killed next anyway
      }
      kill();
    }
  }
}
