package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.grpc.MeshChannels;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Consul registry against a real agent: discovery, KV policy, outage, self-registration. */
class ConsulRegistryTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();

  ConsulOps ops;
  final List<Server> servers = new ArrayList<>();
  final List<AutoCloseable> closers = new ArrayList<>();
  String service;

  @BeforeEach
  void setUp() {
    ops = new ConsulOps(consul.httpAddress());
    service = "payments-" + Long.toHexString(System.nanoTime());
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
    for (Server s : servers) {
      s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  Server server(String id) throws Exception {
    Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            out.onNext(SimpleResponse.newBuilder().setResponseMessage(id).build());
            out.onCompleted();
          }
        }).build().start();
    servers.add(s);
    return s;
  }

  Mesh mesh(String extra) {
    Mesh m = Mesh.fromYamlString("""
        mesh:
          service: checkout
          registry:
            type: consul
            consul:
              address: %s
              waitTime: 10s
        %s
        """.formatted(consul.httpAddress(), extra.indent(6)));
    closers.add(m);
    return m;
  }

  int v1Port;
  int v2Port;

  /** Registers v1 and v2 instances (real gRPC servers, started once) and makes them pass. */
  void registerV1AndV2() throws Exception {
    if (v1Port == 0) {
      v1Port = server("v1").getPort();
      v2Port = server("v2").getPort();
    }
    ops.register(service + "-v1", service, v1Port, Map.of("version", "v1"));
    ops.register(service + "-v2", service, v2Port, Map.of("version", "v2"));
    ops.pass(service + "-v1");
    ops.pass(service + "-v2");
  }

  static String policy(String service, int v1, int v2) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: %1$s }
        spec:
          host: %1$s
          subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: %1$s }
        spec:
          hosts: [%1$s]
          http:
          - route:
            - { destination: { host: %1$s, subset: v1 }, weight: %2$d }
            - { destination: { host: %1$s, subset: v2 }, weight: %3$d }
        """.formatted(service, v1, v2);
  }

  static Map<String, Integer> send(SimpleServiceGrpc.SimpleServiceBlockingStub stub, int n) {
    Map<String, Integer> seen = new ConcurrentHashMap<>();
    for (int i = 0; i < n; i++) {
      seen.merge(stub.unaryRpc(REQ).getResponseMessage(), 1, Integer::sum);
    }
    return seen;
  }

  SimpleServiceGrpc.SimpleServiceBlockingStub stub(Mesh mesh) {
    ManagedChannel ch = MeshChannels.forService(mesh, service);
    closers.add(() -> ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return SimpleServiceGrpc.newBlockingStub(ch);
  }

  /** The Consul service ID of an endpoint, whose id is {@code <node>/<service ID>}. */
  static String serviceId(Endpoint e) {
    return e.id().substring(e.id().indexOf('/') + 1);
  }

  long awaitEndpoints(Mesh mesh, List<String> ids) {
    long start = System.nanoTime();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2))
        .until(() -> mesh.endpoints(service).stream().map(ConsulRegistryTest::serviceId).sorted().toList().equals(ids));
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  @Test
  void registrationHealthAndDeregistrationReachRouting() throws Exception {
    Mesh mesh = mesh("");
    assertThat(mesh.endpoints(service)).isEmpty();
    int port = server("v1").getPort();
    ops.register(service + "-a", service, port, Map.of("version", "v1"));
    ops.pass(service + "-a");
    long up = awaitEndpoints(mesh, List.of(service + "-a"));
    Endpoint e = mesh.endpoints(service).get(0);
    assertThat(e.labels()).containsEntry("version", "v1");
    assertThat(e.port()).isEqualTo(port);

    ops.fail(service + "-a");
    long failing = awaitEndpoints(mesh, List.of());
    ops.pass(service + "-a");
    long recovered = awaitEndpoints(mesh, List.of(service + "-a"));
    ops.deregister(service + "-a");
    long gone = awaitEndpoints(mesh, List.of());
    System.out.printf("propagation ms: registered+passing %d, failing %d, recovered %d, deregistered %d%n",
        up, failing, recovered, gone);
  }

  @Test
  void instancesWithTheSameServiceIdOnTwoNodesAreTwoEndpoints() throws Exception {
    // Consul's default service ID is the service name, so two nodes often register the same ID
    Mesh mesh = mesh("");
    int a = server("v1").getPort();
    int b = server("v2").getPort();
    ops.register(service, service, a, Map.of());
    ops.pass(service);
    ops.registerOnNode("other-node", service, service, b);
    await().atMost(Duration.ofSeconds(5)).until(() -> mesh.endpoints(service).size() == 2);
    assertThat(mesh.endpoints(service)).extracting(Endpoint::port).containsExactlyInAnyOrder(a, b);
    assertThat(mesh.endpoints(service)).extracting(Endpoint::id).doesNotHaveDuplicates()
        .allMatch(id -> id.endsWith("/" + service));
  }

  String kvKey() {
    return "meshup/config/" + service + ".yaml";
  }

  /** v1 and v2 registered, a v1/v2 split in KV, and a mesh that routes by it. */
  Mesh meshWithKvPolicy(int v1, int v2) throws Exception {
    registerV1AndV2();
    ops.kvPut(kvKey(), policy(service, v1, v2));
    Mesh mesh = mesh("kv: { prefix: meshup/config/ }");
    await().atMost(Duration.ofSeconds(5)).until(() -> mesh.policyOrigins().contains(kvKey() + ": VirtualService " + service));
    awaitEndpoints(mesh, List.of(service + "-v1", service + "-v2"));
    return mesh;
  }

  @Test
  void kvPolicyChangeTakesEffectMidTrafficWithNoFailedCall() throws Exception {
    String key = kvKey();
    Mesh mesh = meshWithKvPolicy(90, 10);
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = stub(mesh);
    Map<String, Integer> before = send(stub, 2_000);
    assertThat(before.getOrDefault("v2", 0) / 20.0).isBetween(7.0, 13.0);

    AtomicInteger failed = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(50);
    Thread traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          stub.unaryRpc(REQ);
        } catch (StatusRuntimeException ex) {
          failed.incrementAndGet();
        }
        started.countDown();
      }
    });
    traffic.start();
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    long t0 = System.nanoTime();
    ops.kvPut(key, policy(service, 10, 90));
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2)).until(() ->
        mesh.router(service).select(new Attrs()).subset().equals("v2") && send(stub, 200).getOrDefault("v2", 0) > 150);
    System.out.printf("KV policy propagation ms: %d%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    Map<String, Integer> after = send(stub, 2_000);
    stop.set(true);
    traffic.join();
    assertThat(failed.get()).isZero();
    assertThat(after.getOrDefault("v2", 0) / 20.0).isBetween(87.0, 93.0);
  }

  @Test
  void malformedKvDocumentIsRejectedWithItsKeyWhileTheOldSplitServes() throws Exception {
    String key = kvKey();
    Mesh mesh = meshWithKvPolicy(100, 0);
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = stub(mesh);

    String badKey = "meshup/config/" + service + "-bad.yaml";
    ops.kvPut(badKey, policy(service, 100, 0).replace("DestinationRule", "DestinationRulez").replace("metadata: { name: " + service + " }\nspec:\n  host", "metadata: { name: other }\nspec:\n  host"));
    await().atMost(Duration.ofSeconds(5)).until(() -> rejected(mesh) >= 1);
    ops.kvPut(key, policy(service, 100, 0).replace("weight: 0", "weight: -1").replace("weight: 100", "weight: 101"));
    await().atMost(Duration.ofSeconds(5)).until(() -> rejected(mesh) >= 2);
    assertThat(send(stub, 500)).containsOnlyKeys("v1");
    assertThat(mesh.policyOrigins()).contains(key + ": VirtualService " + service);
  }

  @Test
  void consulSplitterAndResolverGiveTheSameSplitAsTheEquivalentVirtualService() throws Exception {
    registerV1AndV2();
    ops.configEntry("{\"Kind\":\"service-defaults\",\"Name\":\"" + service + "\",\"Protocol\":\"grpc\"}");
    ops.configEntry("""
        {"Kind":"service-resolver","Name":"%1$s","DefaultSubset":"v1",
         "Subsets":{"v1":{"Filter":"Service.Meta.version == v1"},"v2":{"Filter":"Service.Meta.version == v2"}}}
        """.formatted(service));
    ops.configEntry("""
        {"Kind":"service-splitter","Name":"%1$s",
         "Splits":[{"Weight":90,"ServiceSubset":"v1"},{"Weight":10,"ServiceSubset":"v2"}]}
        """.formatted(service));
    Mesh viaEntries = mesh("");
    await().atMost(Duration.ofSeconds(5)).until(() -> viaEntries.policyOrigins().stream()
        .anyMatch(o -> o.startsWith("consul config service-splitter/" + service)));
    awaitEndpoints(viaEntries, List.of(service + "-v1", service + "-v2"));
    Map<String, Integer> entries = send(stub(viaEntries), 5_000);

    ops.kvPut("meshup/config/" + service + ".yaml", policy(service, 90, 10));
    Mesh viaKv = mesh("kv: { prefix: meshup/config/ }\nconfigEntries: { enabled: false }");
    await().atMost(Duration.ofSeconds(5)).until(() -> viaKv.policyOrigins().contains("meshup/config/" + service + ".yaml: VirtualService " + service));
    awaitEndpoints(viaKv, List.of(service + "-v1", service + "-v2"));
    Map<String, Integer> kv = send(stub(viaKv), 5_000);
    System.out.printf("split v2 share: config entries %.2f%%, VirtualService %.2f%%%n",
        entries.getOrDefault("v2", 0) / 50.0, kv.getOrDefault("v2", 0) / 50.0);
    assertThat(entries.getOrDefault("v2", 0) / 50.0).isBetween(8.0, 12.0);
    assertThat(kv.getOrDefault("v2", 0) / 50.0).isBetween(8.0, 12.0);
    assertThat(viaEntries.policySources().keySet()).containsSubsequence("inline", "consul-config-entries", "consul-kv");
  }

  @Test
  void intentionsFromTheAgentAllowAndDenyCallersOfThisService() {
    Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: consul
            consul: { address: %s, waitTime: 10s, configEntries: { enabled: false } }
        """.formatted(service, consul.httpAddress()));
    closers.add(mesh);
    ops.intention("web", service, "deny");
    await().atMost(Duration.ofSeconds(5)).until(() -> !allowed(mesh, "web"));
    assertThat(mesh.authorizer().authorize(caller("web"), "/pkg.Db/Query", "POST").message())
        .contains("consul-intentions-deny rules[0]");
    assertThat(allowed(mesh, "api")).isTrue();

    ops.intention("*", service, "deny");
    ops.intention("api", service, "allow");
    await().atMost(Duration.ofSeconds(5)).until(() -> !allowed(mesh, "other"));
    assertThat(allowed(mesh, "api")).as("an exact source beats the wildcard").isTrue();
    assertThat(allowed(mesh, "web")).isFalse();
    assertThat(mesh.policySources().keySet()).containsSubsequence("consul-config-entries", "consul-intentions", "consul-kv");
  }

  static io.meshup.core.identity.WorkloadIdentity caller(String svc) {
    return io.meshup.core.identity.WorkloadIdentity.of("meshup.test", svc);
  }

  static boolean allowed(Mesh mesh, String svc) {
    return mesh.authorizer().authorize(caller(svc), "/pkg.Db/Query", "POST").allowed();
  }

  static double rejected(Mesh mesh) {
    var c = mesh.meterRegistry().find("mesh.policy.updates").tags("source", "consul-kv", "result", "rejected").counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void consulOutageFailsNoCallToHealthyEndpointsAndWatchesResume() throws Exception {
    registerV1AndV2();
    Mesh mesh = mesh("");
    awaitEndpoints(mesh, List.of(service + "-v1", service + "-v2"));
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = stub(mesh);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Thread traffic = new Thread(() -> {
      while (!stop.get()) {
        try {
          stub.unaryRpc(REQ);
          ok.incrementAndGet();
        } catch (StatusRuntimeException ex) {
          failed.incrementAndGet();
        }
      }
    });
    traffic.start();
    await().until(() -> ok.get() > 100);
    consul.stop();
    int atStop = ok.get();
    await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > atStop + 2_000);
    assertThat(mesh.endpoints(service)).hasSize(2);
    consul.restart();
    int atRestart = ok.get();
    // a -dev agent starts empty: the instances come back as a deployment would re-register them,
    // one of them failing its check, which the resumed watch must see
    registerV1AndV2();
    ops.fail(service + "-v2");
    await().atMost(Duration.ofSeconds(15)).until(() ->
        mesh.endpoints(service).stream().map(ConsulRegistryTest::serviceId).toList().equals(List.of(service + "-v1")));
    stop.set(true);
    traffic.join();
    System.out.printf("outage: %d calls ok while Consul was down, %d after restart, %d failed%n",
        atRestart - atStop, ok.get() - atRestart, failed.get());
    assertThat(failed.get()).isZero();
  }

  @Test
  void registersItselfAndDeregistersOnClose() {
    Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: %s
          registry:
            type: consul
            consul:
              address: %s
              registration: { address: 127.0.0.1, port: 7777, meta: { version: v3 }, check: { ttl: 10s }, drainTime: 0s }
        """.formatted(service, consul.httpAddress()));
    closers.add(mesh);
    await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(ops.catalog(service)).contains("\"ServicePort\":7777"));
    assertThat(ops.catalog(service)).contains("\"version\":\"v3\"");
    await().atMost(Duration.ofSeconds(2)).until(() -> ops.health(service).contains("\"ServiceID\":\"" + service + "-127.0.0.1-7777\""));
    await().atMost(Duration.ofSeconds(2)).until(() -> mesh.endpoints(service).size() == 1);
    // the labels it registers with are the workload's, which security policies' selectors match
    mesh.updatePolicies("authz", """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: deny-v3 }
        spec:
          selector: { matchLabels: { version: v3 } }
          action: DENY
          rules: [{}]
        """);
    assertThat(mesh.authorizer().authorize(null, "/a.B/C", "POST").policy()).isEqualTo("deny-v3");
    mesh.close();
    assertThat(ops.catalog(service)).isEqualTo("[]");
  }

  /** A request with no headers at path "/". */
  static final class Attrs implements io.meshup.core.route.RequestAttributes {
    @Override
    public String path() {
      return "/";
    }

    @Override
    public String method() {
      return "POST";
    }

    @Override
    public String header(String lowerCaseName) {
      return null;
    }
  }
}
