package io.meshup.jmh;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.call.AttemptEnd;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.spi.ServiceRegistry;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A simulated mesh in one JVM: {@code clients} client meshes, each calling every one of
 * {@code services} services of {@code endpoints} endpoints through its call engine (no transport:
 * MeshUp's own work only), all watching one shared in-process registry that churns one endpoint of
 * one service every {@code churnMillis}. Measures what grows with the size of the mesh: heap and
 * threads per client mesh, CPU per 1,000 calls under churn, and the time and allocation to apply
 * one change to every client (the registry delivers to each client's listener in turn on its own
 * thread, as one registry connection per client would, only serially). Prints {@code RESULT <json>}.
 *
 * <p>Usage: {@code MeshScale [clients] [services] [endpoints] [seconds] [churnMillis] [threads]}
 * (defaults 200 50 20 20 100 2).
 */
public final class MeshScale {
  private MeshScale() {}

  /** One registry for every client: full lists per service, pushed to every watcher. */
  static final class SharedRegistry implements ServiceRegistry {
    final Map<String, List<Endpoint>> lists = new ConcurrentHashMap<>();
    final Map<String, List<EndpointListener>> watchers = new ConcurrentHashMap<>();

    @Override
    public Watch watch(String service, EndpointListener listener) {
      watchers.computeIfAbsent(service, s -> new CopyOnWriteArrayList<>()).add(listener);
      listener.onEndpoints(lists.getOrDefault(service, List.of()));
      return () -> watchers.getOrDefault(service, List.of()).remove(listener);
    }

    /** Replaces one endpoint of {@code service} and pushes the new list to every client. */
    void change(String service, int index, int generation) {
      List<Endpoint> next = new ArrayList<>(lists.get(service));
      Endpoint old = next.get(index);
      next.set(index, new Endpoint(old.id().replaceAll("-g\\d+$", "") + "-g" + generation, old.host(), old.port() + 1,
          old.labels(), 1));
      List<Endpoint> copy = List.copyOf(next);
      lists.put(service, copy);
      for (EndpointListener l : watchers.getOrDefault(service, List.of())) {
        l.onEndpoints(copy);
      }
    }

    @Override
    public void close() {}
  }

  public static void main(String[] args) throws Exception {
    int clients = arg(args, 0, 200);
    int services = arg(args, 1, 50);
    int endpoints = arg(args, 2, 20);
    int seconds = arg(args, 3, 20);
    int churnMillis = arg(args, 4, 100);
    int threads = arg(args, 5, 2);

    SharedRegistry registry = new SharedRegistry();
    for (int s = 0; s < services; s++) {
      List<Endpoint> eps = new ArrayList<>();
      for (int e = 0; e < endpoints; e++) {
        eps.add(new Endpoint("svc-" + s + "-" + e, "10.1." + s + "." + e, 8080, Map.of("version", "v" + (e % 2 + 1)), 1));
      }
      registry.lists.put("svc-" + s, List.copyOf(eps));
    }
    RequestAttributes attrs = new RequestPathBenchmark.GrpcCall();

    int threadsBefore = Thread.activeCount();
    long heapBefore = heapAfterGc();
    Mesh[] meshes = new Mesh[clients];
    ServiceRouter[][] routers = new ServiceRouter[clients][services];
    for (int c = 0; c < clients; c++) {
      meshes[c] = Mesh.builder().service("client-" + c).registry(registry).build();
      for (int s = 0; s < services; s++) {
        routers[c][s] = meshes[c].router("svc-" + s);
        call(meshes[c], routers[c][s], attrs); // every destination used once: its state and meters exist
      }
    }
    long heapBuilt = heapAfterGc();
    int threadsBuilt = Thread.activeCount();

    // one change applied to every client, measured alone (no calls running)
    com.sun.management.ThreadMXBean tmx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long[] pushNanos = new long[21];
    long[] pushBytes = new long[21];
    for (int i = 0; i < pushNanos.length; i++) {
      long a0 = tmx.getCurrentThreadAllocatedBytes();
      long t0 = System.nanoTime();
      registry.change("svc-" + (i % services), i % endpoints, 1000 + i);
      pushNanos[i] = System.nanoTime() - t0;
      pushBytes[i] = tmx.getCurrentThreadAllocatedBytes() - a0;
    }
    Arrays.sort(pushNanos);
    Arrays.sort(pushBytes);

    // calls under churn
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong calls = new AtomicLong();
    AtomicLong changes = new AtomicLong();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int seed = t;
      Thread w = new Thread(() -> {
        long n = 0;
        int c = seed;
        int s = 0;
        while (!stop.get()) {
          c = (c + 1) % clients;
          s = (s + 7) % services;
          call(meshes[c], routers[c][s], attrs);
          n++;
        }
        calls.addAndGet(n);
      }, "scale-caller-" + t);
      workers.add(w);
    }
    Thread churn = new Thread(() -> {
      int g = 0;
      while (!stop.get()) {
        registry.change("svc-" + (g % services), g % endpoints, g);
        g++;
        changes.incrementAndGet();
        try {
          TimeUnit.MILLISECONDS.sleep(churnMillis); // a steady rate of registry changes, not a wait for a condition
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "scale-churn");
    long cpu0 = processCpuNanos();
    long wall0 = System.nanoTime();
    workers.forEach(Thread::start);
    churn.start();
    TimeUnit.SECONDS.sleep(seconds);
    stop.set(true);
    for (Thread w : workers) {
      w.join();
    }
    churn.interrupt();
    churn.join();
    long cpu = processCpuNanos() - cpu0;
    long wall = System.nanoTime() - wall0;

    long built = heapBuilt - heapBefore;
    System.out.println("RESULT {\"clients\":" + clients + ",\"services\":" + services + ",\"endpoints_per_service\":" + endpoints
        + ",\"heap_bytes\":" + built + ",\"heap_bytes_per_client\":" + built / clients
        + ",\"heap_bytes_per_client_destination\":" + built / ((long) clients * services)
        + ",\"threads_added\":" + (threadsBuilt - threadsBefore)
        + ",\"push_to_all_clients_p50_us\":" + pushNanos[pushNanos.length / 2] / 1000
        + ",\"push_to_all_clients_max_us\":" + pushNanos[pushNanos.length - 1] / 1000
        + ",\"push_to_all_clients_p50_bytes\":" + pushBytes[pushBytes.length / 2]
        + ",\"calls\":" + calls.get() + ",\"changes\":" + changes.get()
        + ",\"calls_per_second\":" + Math.round(calls.get() / (wall / 1e9))
        + ",\"cpu_ms_per_1k_calls\":" + String.format(java.util.Locale.ROOT, "%.4f", cpu / 1e6 / (calls.get() / 1000.0))
        + "}");
    System.out.flush();
    for (Mesh m : meshes) {
      m.close();
    }
  }

  static void call(Mesh mesh, ServiceRouter router, RequestAttributes attrs) {
    RequestPathBenchmark.BenchCall c = new RequestPathBenchmark.BenchCall(mesh.callEngine(), router, attrs);
    c.start(0, false, false, false);
    EndpointHandle e = c.endpoint();
    if (e != null) {
      c.attemptClosed(1, AttemptEnd.STATUS, 0);
    }
  }

  static int arg(String[] args, int i, int dflt) {
    return args.length > i ? Integer.parseInt(args[i]) : dflt;
  }

  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      TimeUnit.MILLISECONDS.sleep(100);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
