package io.meshup.core;

import io.meshup.core.testing.HostileDocuments;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Measures, outside the unit tests, how long each hostile document takes to be refused and the
 * peak heap meanwhile; prints a markdown table. Run it with a small heap to prove the bound, as
 * {@code docs/security.md} says:
 *
 * <pre>
 * ./mvnw -q -B -ntp -pl mesh-core test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java -Xmx64m -cp mesh-core/target/test-classes:mesh-core/target/classes:$(cat mesh-core/target/cp.txt) io.meshup.core.HostilePolicyMeasure
 * </pre>
 *
 * <p>Each case runs five times on one mesh (the first warms the code up); the time reported is the
 * median of the last four. The peak heap is the most heap in use (garbage included) that a thread
 * sampling {@code MemoryMXBean} every millisecond saw during any of the five, after a GC before
 * each: it includes the mesh itself (a few MB) and the document text the caller holds (for the
 * 50 MB text, 50 MB of the peak). The bytes the refusing thread allocated are given as well.
 */
public final class HostilePolicyMeasure {
  private HostilePolicyMeasure() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("meshup-hostile");
    Map<String, Supplier<String>> cases = new LinkedHashMap<>();
    cases.put("alias doubling, 2^30 nodes (updatePolicies)", () -> HostileDocuments.aliasDoubling(30));
    cases.put("10,000-deep nesting (updatePolicies)", () -> HostileDocuments.deepSequences(10_000));
    cases.put("2,000-deep mappings (updatePolicies)", () -> HostileDocuments.deepMappings(2_000));
    cases.put("scalar alias bomb through ${BIG} (updatePolicies)", () -> HostileDocuments.scalarAliasBomb(150_000));
    cases.put("substitution flood through ${BIG} (updatePolicies)", () -> HostileDocuments.substitutionFlood(50));
    cases.put("overflowing duration (updatePolicies)", HostileDocuments::overflowingDuration);
    cases.put("1 MB kind (updatePolicies)", () -> HostileDocuments.hugeKind(1_000_000));
    cases.put("50 MB text (updatePolicies; the text itself is on the heap)", () -> HostileDocuments.large(50 << 20));
    System.out.println("| document | refusal, median of 4 (ms) | peak heap in use (MB) | allocated by the refusal (MB) | refused with |");
    System.out.println("|---|---|---|---|---|");
    try (Mesh mesh = Mesh.builder().service("checkout")
        .endpoints("payments", List.of(new Endpoint("p1", "127.0.0.1", 9001, Map.of(), 1)))
        .env(k -> k.equals("BIG") ? HostileDocuments.bigVariable() : null)
        .policies("base", HostileDocuments.goodVirtualService("good"))
        .build()) {
      for (Map.Entry<String, Supplier<String>> c : cases.entrySet()) {
        measure(c.getKey(), () -> {
          String doc = c.getValue().get();
          return () -> mesh.updatePolicies("attacker", doc);
        });
        if (!mesh.policyOrigins().equals(List.of("base: VirtualService good"))) {
          throw new AssertionError("the policy in force changed: " + mesh.policyOrigins());
        }
      }
    }
    Path big = dir.resolve("big.yaml");
    try (java.io.Writer w = Files.newBufferedWriter(big)) {
      for (int i = 0; i < 50; i++) {
        w.write(HostileDocuments.large(1 << 20));
      }
    }
    Path bad = dir.resolve("bad.yaml");
    Files.write(bad, HostileDocuments.invalidUtf8());
    for (Path p : List.of(big, bad)) {
      Path boot = dir.resolve("boot-" + p.getFileName());
      Files.writeString(boot, "mesh:\n  service: checkout\n  registry: { type: static, static: { services: { payments: "
          + "[{ address: 127.0.0.1, port: 9001 }] } } }\n  policy: { files: [" + p.getFileName() + "] }\n");
      measure((p == big ? "50 MB policy file" : "invalid UTF-8 policy file") + " (Mesh.fromYaml)",
          () -> () -> Mesh.fromYaml(boot).close());
    }
    Files.delete(big);
  }

  interface Refusal {
    void run();
  }

  private static void measure(String name, Supplier<Refusal> setup) throws InterruptedException {
    long[] times = new long[5];
    long peak = 0;
    long allocated = 0;
    String message = "";
    java.lang.management.MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    for (int i = 0; i < times.length; i++) {
      Refusal r = setup.get();
      System.gc();
      java.util.concurrent.atomic.AtomicLong max = new java.util.concurrent.atomic.AtomicLong();
      java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
      Thread sampler = new Thread(() -> {
        while (!done.get()) {
          max.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
          java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
      });
      max.set(memory.getHeapMemoryUsage().getUsed());
      sampler.start();
      long a0 = threads.getCurrentThreadAllocatedBytes();
      long t0 = System.nanoTime();
      try {
        r.run();
        throw new AssertionError(name + " was accepted");
      } catch (MeshConfigException e) {
        message = e.getMessage();
      }
      times[i] = System.nanoTime() - t0;
      allocated = Math.max(allocated, threads.getCurrentThreadAllocatedBytes() - a0);
      max.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
      done.set(true);
      sampler.join();
      peak = Math.max(peak, max.get());
    }
    long[] last = java.util.Arrays.copyOfRange(times, 1, times.length);
    java.util.Arrays.sort(last);
    double median = (last[1] + last[2]) / 2e6;
    String why = message.length() > 110 ? message.substring(0, 110) + "..." : message;
    System.out.printf("| %s | %.1f | %.1f | %.1f | %s |%n", name, median, peak / 1048576.0, allocated / 1048576.0,
        why.replace("|", "\\|"));
  }
}
