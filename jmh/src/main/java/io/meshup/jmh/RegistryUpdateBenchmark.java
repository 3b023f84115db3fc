package io.meshup.jmh;

import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.route.EndpointHandle;
import io.meshup.core.route.RequestAttributes;
import io.meshup.core.route.ServiceRouter;
import io.meshup.core.spi.ServiceRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Time from a registry change to the routing table: a registry pushes a complete new endpoint list
 * of service {@code payments} (N endpoints, every one different from the previous list), and the
 * operation ends when {@code router.select(...)}'s balancer pick returns an endpoint of the new list.
 * The registry is an in-process one that calls the mesh's listener on the benchmark thread, as a
 * registry's watch thread would; what is measured is MeshUp's own work (endpoint state, subsets,
 * balancers, the swap), not a registry's propagation delay (for Consul, see mesh-consul-registry's
 * tests). Same policy as {@link RequestPathBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class RegistryUpdateBenchmark {
  @Param({"10", "1000", "10000"})
  public int endpoints;

  private final PushRegistry registry = new PushRegistry();
  private final RequestAttributes attrs = new RequestPathBenchmark.GrpcCall();
  private Mesh mesh;
  private ServiceRouter router;
  private List<Endpoint> listA;
  private List<Endpoint> listB;
  private boolean nextIsB;

  @Setup(Level.Trial)
  public void setUp() {
    listA = list(endpoints, 10000);
    listB = list(endpoints, 30000);
    registry.current = listA;
    mesh = Mesh.builder().service("bench").registry(registry).policies("bench-policy", RequestPathBenchmark.policy(""))
        .build();
    router = mesh.router(RequestPathBenchmark.SERVICE);
    nextIsB = true;
    if (pushAndPick() < 30000 || pushAndPick() >= 30000) {
      throw new IllegalStateException("the router did not follow the registry");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    mesh.close();
  }

  /** Push the other list; pick until the router returns one of its endpoints (the first pick does). */
  @Benchmark
  public int pushAndPick() {
    List<Endpoint> next = nextIsB ? listB : listA;
    int base = nextIsB ? 30000 : 10000;
    nextIsB = !nextIsB;
    registry.push(next);
    for (int i = 0; i < 1_000_000; i++) {
      EndpointHandle e = ((io.meshup.core.internal.routing.Target) router.select(attrs)).pick(null);
      int port = e.endpoint().port();
      if (port >= base && port < base + endpoints) {
        return port;
      }
    }
    throw new IllegalStateException("the router still picks old endpoints after 1,000,000 picks");
  }

  static List<Endpoint> list(int n, int basePort) {
    Map<String, String> v1 = Map.of("version", "v1");
    Map<String, String> v2 = Map.of("version", "v2");
    List<Endpoint> eps = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      eps.add(Endpoint.of("127.0.0.1", basePort + i, i % 2 == 0 ? v1 : v2));
    }
    return List.copyOf(eps);
  }

  /** A registry of one service whose list the benchmark replaces; listeners run on the caller's thread. */
  static final class PushRegistry implements ServiceRegistry {
    private final List<EndpointListener> listeners = new CopyOnWriteArrayList<>();
    volatile List<Endpoint> current = List.of();

    @Override
    public Watch watch(String service, EndpointListener listener) {
      if (!RequestPathBenchmark.SERVICE.equals(service)) {
        listener.onEndpoints(List.of());
        return () -> {};
      }
      listeners.add(listener);
      listener.onEndpoints(current);
      return () -> listeners.remove(listener);
    }

    void push(List<Endpoint> endpoints) {
      current = endpoints;
      for (EndpointListener l : listeners) {
        l.onEndpoints(endpoints);
      }
    }

    @Override
    public void close() {
      listeners.clear();
    }
  }
}
