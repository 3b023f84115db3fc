package io.meshup.jmh;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.RouteTarget;
import io.meshup.core.route.ServiceRouter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Heap held by a mesh that knows 1,000 services with 10 endpoints each: the static endpoints are
 * given to {@link Mesh.Builder#endpoints} (10,000 endpoints written as YAML would pass the bootstrap
 * text's node limit, {@code maxNodes}, which bounds every text the mesh reads), and every service's
 * router is created and used once (runtimes and routing tables are built on first use). Heap is
 * measured after full GCs, before and after, with the mesh reachable. Prints {@code RESULT <json>}.
 *
 * <p>Usage: {@code MeshFootprint [services] [endpointsPerService]}
 */
public final class MeshFootprint {
  private MeshFootprint() {}

  public static void main(String[] args) throws Exception {
    int services = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int perService = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    long before = heapAfterGc();
    long t0 = System.nanoTime();
    Mesh.Builder builder = Mesh.builder().service("bench");
    int port = 10000;
    for (int s = 0; s < services; s++) {
      List<Endpoint> endpoints = new ArrayList<>(perService);
      for (int e = 0; e < perService; e++) {
        endpoints.add(new Endpoint("svc-" + s + "-" + e, "10.0." + (s / 250) + "." + (s % 250), port + e,
            Map.of("version", "v" + (e % 2 + 1)), 1));
      }
      builder.endpoints("svc-" + s, endpoints);
    }
    Mesh mesh = builder.build();
    List<ServiceRouter> routers = new ArrayList<>(services);
    RequestAttributes attrs = new RequestPathBenchmark.GrpcCall();
    int picked = 0;
    for (int s = 0; s < services; s++) {
      ServiceRouter r = mesh.router("svc-" + s);
      routers.add(r);
      RouteTarget t = r.select(attrs);
      if (t != null && ((io.meshup.core.internal.routing.Target) t).pick(null) != null) {
        picked++;
      }
    }
    long buildNanos = System.nanoTime() - t0;
    long after = heapAfterGc();
    if (picked != services) {
      throw new IllegalStateException("only " + picked + " of " + services + " services picked an endpoint");
    }
    long bytes = after - before;
    System.out.println("RESULT {\"services\":" + services + ",\"endpoints_per_service\":" + perService
        + ",\"heap_bytes\":" + bytes + ",\"heap_bytes_per_service\":" + (bytes / services)
        + ",\"heap_bytes_per_endpoint\":" + (bytes / ((long) services * perService))
        + ",\"build_ms\":" + (buildNanos / 1_000_000) + "}");
    System.out.flush();
    mesh.close();
    if (routers.isEmpty()) {
      System.out.println();
    }
  }

  static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
