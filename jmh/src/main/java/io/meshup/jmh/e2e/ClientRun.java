package io.meshup.jmh.e2e;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One configuration's client, in a JVM of its own, so that its CPU time and heap are the client's
 * alone. In order: heap after GC with nothing built; build the client; warm-up (closed loop);
 * closed loop measured (throughput, CPU); heap after GC; open loop at a fixed rate (latency).
 * Prints one line {@code RESULT <json>}.
 *
 * <p>Arguments ({@code --name value}): config, grpc, mtls, http (comma-separated ports),
 * sidecarPlain, sidecarTls (ports), certs (folder), warmup, closed, open (seconds), concurrency,
 * rate (requests per second), proxyPids, serverPid (CPU read from /proc), clkTck.
 */
public final class ClientRun {
  /** Sender wakes this long before a send is due and spins the rest, to send on time. */
  private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(80);

  private ClientRun() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = LoadDriver.args(args);
    String config = a.get("config");
    Clients.Setup setup = new Clients.Setup(ports(a.get("grpc")), ports(a.get("mtls")), ports(a.get("http")),
        Integer.parseInt(a.getOrDefault("sidecarPlain", "0")), Integer.parseInt(a.getOrDefault("sidecarTls", "0")),
        Path.of(a.get("certs")), Integer.parseInt(a.getOrDefault("xds", "0")));
    double warmup = Double.parseDouble(a.get("warmup"));
    double closed = Double.parseDouble(a.get("closed"));
    double open = Double.parseDouble(a.get("open"));
    int concurrency = Integer.parseInt(a.get("concurrency"));
    int rate = Integer.parseInt(a.get("rate"));
    long[] proxyPids = pids(a.getOrDefault("proxyPids", ""));
    long serverPid = Long.parseLong(a.getOrDefault("serverPid", "0"));
    long clkTck = Long.parseLong(a.getOrDefault("clkTck", "100"));

    long heapIdle = heapAfterGc();
    Caller caller = Clients.create(config, setup);
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("config", config);
    try {
      // one call first, waited for (an xDS client resolves listener, routes, clusters and endpoints
      // before its first call goes out), then a few: fail fast on a broken setup
      java.util.concurrent.CompletableFuture<Boolean> first = new java.util.concurrent.CompletableFuture<>();
      caller.call(first::complete);
      if (!first.get(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException(config + ": the first call failed");
      }
      ClosedLoop probe = new ClosedLoop(caller);
      probe.run(1, 0.3);
      if (probe.completed.get() == 0) {
        throw new IllegalStateException(config + ": no successful call in 0.3 s (" + probe.errors.get() + " errors)");
      }

      ClosedLoop loop = new ClosedLoop(caller);
      loop.start(concurrency);
      // warm-up, sampled each second: shows whether the JIT had settled before the measurement
      List<Long> warmupRps = new ArrayList<>();
      long wEnd = System.nanoTime() + (long) (warmup * 1e9);
      for (long prev = 0; wEnd - System.nanoTime() >= 1_000_000_000L; ) {
        Thread.sleep(1000);
        long now = loop.completed.get();
        warmupRps.add(now - prev);
        prev = now;
      }
      Thread.sleep(Math.max(0, (wEnd - System.nanoTime()) / 1_000_000));
      r.put("warmup_per_second", warmupRps);
      long c0 = loop.completed.get();
      long e0 = loop.errors.get();
      long alloc0 = allocatedBytes();
      long cpu0 = processCpuNanos();
      long proxy0 = procCpuTicks(proxyPids);
      long server0 = procCpuTicks(new long[] {serverPid});
      long t0 = System.nanoTime();
      sleep(closed);
      long t1 = System.nanoTime();
      long cpu1 = processCpuNanos();
      long alloc1 = allocatedBytes();
      long proxy1 = procCpuTicks(proxyPids);
      long server1 = procCpuTicks(new long[] {serverPid});
      long c1 = loop.completed.get();
      long e1 = loop.errors.get();
      loop.stop();

      double secs = (t1 - t0) / 1e9;
      long n = c1 - c0;
      double clientCpu = (cpu1 - cpu0) / 1e9;
      double proxyCpu = (proxy1 - proxy0) / (double) clkTck;
      double serverCpu = (server1 - server0) / (double) clkTck;
      r.put("concurrency", concurrency);
      r.put("closed_seconds", secs);
      r.put("closed_completed", n);
      r.put("closed_errors", e1 - e0);
      r.put("throughput_rps", n / secs);
      r.put("cpu_client_s", clientCpu);
      r.put("alloc_per_request_bytes", (alloc1 - alloc0) / (double) n);
      r.put("cpu_proxies_s", proxyCpu);
      r.put("cpu_server_s", serverCpu);
      r.put("cpu_per_1k_client_s", clientCpu / n * 1000);
      r.put("cpu_per_1k_proxies_s", proxyCpu / n * 1000);
      r.put("cpu_per_1k_client_side_s", (clientCpu + proxyCpu) / n * 1000);
      r.put("cpu_per_1k_server_s", serverCpu / n * 1000);

      long heapLive = heapAfterGc();
      r.put("heap_idle_bytes", heapIdle);
      r.put("heap_with_client_bytes", heapLive);
      r.put("heap_client_bytes", heapLive - heapIdle);

      OpenLoop ol = new OpenLoop(caller, rate);
      ol.run(open);
      Histogram h = ol.latency.getIntervalHistogram();
      Histogram s = ol.service.getIntervalHistogram();
      r.put("rate_rps", rate);
      r.put("open_seconds", open);
      r.put("open_sent", ol.sent);
      r.put("open_completed", h.getTotalCount());
      r.put("open_errors", ol.errors.get());
      r.put("open_saturated", ol.saturated);
      r.put("p50_us", h.getValueAtPercentile(50) / 1e3);
      r.put("p90_us", h.getValueAtPercentile(90) / 1e3);
      r.put("p99_us", h.getValueAtPercentile(99) / 1e3);
      r.put("p999_us", h.getValueAtPercentile(99.9) / 1e3);
      r.put("max_us", h.getMaxValue() / 1e3);
      r.put("service_p50_us", s.getValueAtPercentile(50) / 1e3);
      r.put("service_p99_us", s.getValueAtPercentile(99) / 1e3);
      r.put("send_late_p99_us", ol.late.getIntervalHistogram().getValueAtPercentile(99) / 1e3);
      // after the measurements (it loads netty-tcnative if present): which TLS engine Netty had
      r.put("netty_openssl", io.netty.handler.ssl.OpenSsl.isAvailable());
    } finally {
      caller.close();
    }
    System.out.println("RESULT " + Json.write(r));
    System.out.flush();
    System.exit(0);
  }

  /** Fixed concurrency: each completion sends the next request at once. */
  static final class ClosedLoop {
    final Caller caller;
    final AtomicLong completed = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    final AtomicLong inFlight = new AtomicLong();
    volatile boolean running;

    ClosedLoop(Caller caller) {
      this.caller = caller;
    }

    void start(int concurrency) {
      running = true;
      for (int i = 0; i < concurrency; i++) {
        inFlight.incrementAndGet();
        next();
      }
    }

    private void next() {
      if (!running) {
        inFlight.decrementAndGet();
        return;
      }
      caller.call(ok -> {
        (ok ? completed : errors).incrementAndGet();
        next();
      });
    }

    void stop() throws InterruptedException {
      running = false;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (inFlight.get() > 0 && System.nanoTime() < until) {
        Thread.sleep(5);
      }
    }

    void run(int concurrency, double seconds) throws InterruptedException {
      start(concurrency);
      sleep(seconds);
      stop();
    }
  }

  /**
   * A fixed rate: request i is due at {@code start + i / rate} and its latency counts from then,
   * not from when it was actually sent, so a stall (in the client, the network or the server)
   * shows in every request it delays (coordinated omission accounted for, as wrk2 does).
   */
  static final class OpenLoop {
    final Caller caller;
    final long periodNanos;
    final Recorder latency = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    final Recorder service = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    final Recorder late = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
    final AtomicLong errors = new AtomicLong();
    final AtomicLong outstanding = new AtomicLong();
    final long maxOutstanding;
    long sent;
    boolean saturated;

    OpenLoop(Caller caller, int rate) {
      this.caller = caller;
      this.periodNanos = TimeUnit.SECONDS.toNanos(1) / rate;
      this.maxOutstanding = Math.max(1000, 2L * rate);
    }

    void run(double seconds) throws InterruptedException {
      long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1);
      long end = start + (long) (seconds * 1e9);
      for (long i = 0; ; i++) {
        long due = start + i * periodNanos;
        if (due >= end) {
          break;
        }
        long now = System.nanoTime();
        if (due - now > SPIN_NANOS) {
          LockSupport.parkNanos(due - now - SPIN_NANOS);
        }
        while ((now = System.nanoTime()) < due) {
          Thread.onSpinWait();
        }
        late.recordValue(now - due);
        if (outstanding.incrementAndGet() > maxOutstanding) {
          saturated = true;
          outstanding.decrementAndGet();
          break;
        }
        sent++;
        long sentAt = now;
        caller.call(ok -> {
          long done = System.nanoTime();
          if (ok) {
            latency.recordValue(done - due);
            service.recordValue(done - sentAt);
          } else {
            errors.incrementAndGet();
          }
          outstanding.decrementAndGet();
        });
      }
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (outstanding.get() > 0 && System.nanoTime() < until) {
        Thread.sleep(5);
      }
    }
  }

  static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * Bytes allocated so far by the JVM's live threads (HotSpot's per-thread counters). A thread that
   * ends inside the window takes its count with it, so this can only undercount.
   */
  static long allocatedBytes() {
    com.sun.management.ThreadMXBean t = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (long b : t.getThreadAllocatedBytes(t.getAllThreadIds())) {
      if (b > 0) {
        sum += b;
      }
    }
    return sum;
  }

  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** utime + stime of the processes (all their threads), in clock ticks; 0 for pid 0. */
  static long procCpuTicks(long[] pids) {
    long sum = 0;
    for (long pid : pids) {
      if (pid <= 0) {
        continue;
      }
      try {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        sum += Long.parseLong(f[11]) + Long.parseLong(f[12]);
      } catch (Exception e) {
        throw new IllegalStateException("cannot read the CPU time of process " + pid, e);
      }
    }
    return sum;
  }

  static void sleep(double seconds) throws InterruptedException {
    Thread.sleep((long) (seconds * 1000));
  }

  static int[] ports(String csv) {
    if (csv == null || csv.isEmpty()) {
      return new int[0];
    }
    String[] p = csv.split(",");
    int[] out = new int[p.length];
    for (int i = 0; i < p.length; i++) {
      out[i] = Integer.parseInt(p[i].trim());
    }
    return out;
  }

  static long[] pids(String csv) {
    if (csv.isEmpty()) {
      return new long[0];
    }
    String[] p = csv.split(",");
    long[] out = new long[p.length];
    for (int i = 0; i < p.length; i++) {
      out[i] = Long.parseLong(p[i].trim());
    }
    return out;
  }
}
