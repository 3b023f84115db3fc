package io.meshup.examples;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.grpc.MeshServers;
import io.meshup.grpc.MeshChannels;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The MeshUp demo: in one JVM, a {@code payments} service with two v1 instances and one v2
 * instance (real gRPC servers on loopback ports), and a client that calls it by name through an
 * 80/20 VirtualService. It shows the split, then v2 failing and its circuit breaker opening, then
 * recovery. Needs nothing but a JDK.
 */
public final class PaymentsDemo {
  private static final int CALLERS = 4;
  private static final java.util.concurrent.atomic.AtomicReference<WorkloadIdentity> CALLER_SEEN =
      new java.util.concurrent.atomic.AtomicReference<>();
  private static final SimpleRequest CHARGE = SimpleRequest.newBuilder().setRequestMessage("charge 42").build();

  private PaymentsDemo() {}

  /**
   * Runs the demo; ends by itself. With {@code --consul host:port} the instances register
   * themselves in that Consul agent and the policy is read from its KV store; with
   * {@code --etcd host:port} the same happens in that etcd (leases, watches, KV). With
   * {@code --admin PORT} the caller's mesh serves its admin endpoint on 127.0.0.1:PORT and the
   * payments servers' mesh on PORT+1 ({@code /metrics}, {@code /config_dump}, {@code /healthz},
   * {@code /ready}), and after the scenario the demo keeps calling payments (a few calls a second,
   * v2 failing every tenth) until it is stopped, for Prometheus and Grafana to watch.
   */
  public static void main(String[] args) throws Exception {
    String consul = args.length >= 2 && args[0].equals("--consul") ? args[1] : null;
    String etcd = args.length >= 2 && args[0].equals("--etcd") ? args[1] : null;
    int admin = -1;
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals("--admin")) {
        admin = Integer.parseInt(args[i + 1]);
      }
    }
    String store = consul != null ? consul : etcd;
    String source = consul != null ? "consul-kv" : "etcd-kv";
    AtomicBoolean v2Broken = new AtomicBoolean();
    List<Server> servers = new ArrayList<>();
    List<AutoCloseable> instances = new ArrayList<>();
    // mTLS on by default: a development CA inside the library issues each side a SPIFFE identity
    DevCertificateAuthority ca = DevCertificateAuthority.create("meshup.demo");
    Mesh.Builder serverBuilder = Mesh.builder().service("payments").certificates(ca.source("payments"));
    if (admin >= 0) {
      serverBuilder.adminAddress(new java.net.InetSocketAddress("127.0.0.1", admin == 0 ? 0 : admin + 1));
    }
    Mesh serverMesh = serverBuilder.build();
    instances.add(serverMesh);
    Server v1a = start("payments-v1-a", new AtomicBoolean(), servers, serverMesh);
    Server v1b = start("payments-v1-b", new AtomicBoolean(), servers, serverMesh);
    Server v2 = start("payments-v2", v2Broken, servers, serverMesh);
    say("Started payments v1 on 127.0.0.1:%d and 127.0.0.1:%d, v2 on 127.0.0.1:%d",
        v1a.getPort(), v1b.getPort(), v2.getPort());
    String policy = resource("payments-policy.yaml");
    Mesh.Builder client;
    AutoCloseable v2Registration = null;
    if (store == null) {
      Map<String, String> env = Map.of(
          "PAYMENTS_V1A_PORT", String.valueOf(v1a.getPort()),
          "PAYMENTS_V1B_PORT", String.valueOf(v1b.getPort()),
          "PAYMENTS_V2_PORT", String.valueOf(v2.getPort()));
      client = Mesh.builder().yaml(resource("payments-demo.yaml")).env(n -> env.getOrDefault(n, System.getenv(n)))
          .policies("payments-policy.yaml", policy).certificates(ca.source("checkout"));
    } else if (consul != null) {
      say("Consul mode: agent at %s", consul);
      instances.add(registerInstance(consul, "payments-v1-a", v1a.getPort(), "v1"));
      instances.add(registerInstance(consul, "payments-v1-b", v1b.getPort(), "v1"));
      v2Registration = registerInstance(consul, "payments-v2", v2.getPort(), "v2");
      instances.add(v2Registration);
      putKv(consul, "meshup/config/payments.yaml", policy);
      say("Each instance registered itself; the policy is in Consul KV at meshup/config/payments.yaml");
      Map<String, String> env = Map.of("CONSUL_HTTP_ADDR", consul);
      client = Mesh.builder().yaml(resource("payments-demo-consul.yaml")).env(n -> env.getOrDefault(n, System.getenv(n)))
          .certificates(ca.source("checkout"));
    } else {
      say("etcd mode: member at %s", etcd);
      instances.add(registerEtcdInstance(etcd, "payments-v1-a", v1a.getPort(), "v1"));
      instances.add(registerEtcdInstance(etcd, "payments-v1-b", v1b.getPort(), "v1"));
      v2Registration = registerEtcdInstance(etcd, "payments-v2", v2.getPort(), "v2");
      instances.add(v2Registration);
      putEtcd(etcd, "meshup/config/payments.yaml", policy);
      say("Each instance registered itself under a lease (keys services/payments/<id>, etcd's Go naming layout);"
          + " the policy is in etcd at meshup/config/payments.yaml");
      Map<String, String> env = Map.of("ETCD_ENDPOINTS", etcd);
      client = Mesh.builder().yaml(resource("payments-demo-etcd.yaml")).env(n -> env.getOrDefault(n, System.getenv(n)))
          .certificates(ca.source("checkout"));
    }

    if (admin >= 0) {
      client.adminAddress(new java.net.InetSocketAddress("127.0.0.1", admin));
    }
    try (Mesh mesh = client.build()) {
      if (admin >= 0) {
        say("Admin endpoints: checkout http://127.0.0.1:%d/ and payments http://127.0.0.1:%d/ (/metrics, /config_dump,"
            + " /healthz, /ready)", mesh.adminAddress().orElseThrow().getPort(),
            serverMesh.adminAddress().orElseThrow().getPort());
      }
      if (store != null) {
        awaitEndpoints(mesh, 3);
      }
      say("Mesh for service '%s'; policy sources %s; in force: %s", mesh.serviceName(), mesh.policySources(),
          mesh.policyOrigins());
      ManagedChannel channel = MeshChannels.forService(mesh, "payments");
      SimpleServiceGrpc.SimpleServiceBlockingStub payments = SimpleServiceGrpc.newBlockingStub(channel);

      say("mTLS (%s): the client is %s; the servers are %s", serverMesh.mtlsMode(),
          mesh.certificates().orElseThrow().current().identity(), serverMesh.certificates().orElseThrow().current().identity());

      say("%n1. 5,000 calls through the 80/20 VirtualService");
      report(run(payments, 5_000));
      say("   the payments servers saw the caller as %s (verified from its certificate)", CALLER_SEEN.get());

      say("%n2. payments-v2 starts failing (INTERNAL); 300 more calls");
      v2Broken.set(true);
      report(run(payments, 300));
      say("   v2 circuit breaker: %s", breakerState(mesh, "v2"));

      say("%n3. payments-v2 recovers; the breaker stays open for its wait, then lets trial calls through");
      v2Broken.set(false);
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3) + TimeUnit.MILLISECONDS.toNanos(100);
      Tally waiting = new Tally();
      while (System.nanoTime() < until) {
        waiting.add(run(payments, 50));
        TimeUnit.MILLISECONDS.sleep(100); // pacing the demo's traffic, not waiting for a condition
      }
      report(waiting);
      say("   v2 circuit breaker: %s", breakerState(mesh, "v2"));
      report(run(payments, 2_000));
      say("   v2 circuit breaker: %s", breakerState(mesh, "v2"));

      if (store != null) {
        say("%n4. Retiring v2: the split moves to 100/0 in " + (consul != null ? "Consul KV" : "etcd")
            + " (hot reload), then payments-v2 deregisters");
        String retired = policy.replace("weight: 80 }", "weight: 100 }").replace("weight: 20 }", "weight: 0 }");
        if (consul != null) {
          putKv(consul, "meshup/config/payments.yaml", retired);
        } else {
          putEtcd(etcd, "meshup/config/payments.yaml", retired);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (mesh.meterRegistry().get("mesh.policy.updates").tags("source", source, "result", "accepted").counter().count() < 2
            && System.nanoTime() < deadline) {
          TimeUnit.MILLISECONDS.sleep(10);
        }
        say("   policy in force: %s", mesh.policyOrigins());
        instances.remove(v2Registration);
        v2Registration.close();
        awaitEndpoints(mesh, 2);
        report(run(payments, 1_000));
      }

      say("%nMetrics (mesh.client.requests by subset and outcome; mesh.client.rejections by reason):");
      mesh.meterRegistry().get("mesh.client.requests").timers().stream()
          .filter(t -> t.count() > 0)
          .forEach(t -> say("   subset=%-3s outcome=%-13s count=%5d mean=%.3f ms", t.getId().getTag("subset"),
              t.getId().getTag("outcome"), t.count(), t.mean(TimeUnit.MILLISECONDS)));
      mesh.meterRegistry().get("mesh.client.rejections").counters().stream()
          .filter(c -> c.count() > 0)
          .forEach(c -> say("   subset=%-3s rejected=%-12s count=%5d", c.getId().getTag("subset"),
              c.getId().getTag("reason"), (long) c.count()));
      if (admin >= 0) {
        say("%nServing traffic for Prometheus and Grafana (docs/observability.md); stop with Ctrl-C.");
        for (long n = 0; ; n++) {
          v2Broken.set(n % 10 == 0);
          try {
            payments.withDeadlineAfter(2, TimeUnit.SECONDS).unaryRpc(CHARGE);
          } catch (io.grpc.StatusRuntimeException e) {
            // v2 failing or its breaker open: the dashboard shows it
          }
          Thread.sleep(200); // a demo's pace, not a test's wait
        }
      }
      channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
    } finally {
      for (AutoCloseable i : instances) {
        i.close();
      }
      for (Server s : servers) {
        s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    say("%nDone.");
  }

  /** A payments instance's own mesh, which registers it in Consul with a TTL check. */
  private static Mesh registerInstance(String consul, String id, int port, String version) throws IOException {
    Map<String, String> env = Map.of("CONSUL_HTTP_ADDR", consul, "INSTANCE_ID", id,
        "INSTANCE_PORT", String.valueOf(port), "INSTANCE_VERSION", version);
    return Mesh.builder().yaml(resource("payments-instance-consul.yaml")).env(n -> env.getOrDefault(n, System.getenv(n))).build();
  }

  /** A payments instance's own mesh, which registers it in etcd under a lease it keeps alive. */
  private static Mesh registerEtcdInstance(String etcd, String id, int port, String version) throws IOException {
    Map<String, String> env = Map.of("ETCD_ENDPOINTS", etcd, "INSTANCE_ID", id,
        "INSTANCE_PORT", String.valueOf(port), "INSTANCE_VERSION", version);
    return Mesh.builder().yaml(resource("payments-instance-etcd.yaml")).env(n -> env.getOrDefault(n, System.getenv(n))).build();
  }

  /** Writes a key through etcd's JSON gateway ({@code /v3/kv/put}, keys and values in base64). */
  private static void putEtcd(String etcd, String key, String value) throws IOException, InterruptedException {
    java.util.Base64.Encoder b64 = java.util.Base64.getEncoder();
    String body = "{\"key\":\"" + b64.encodeToString(key.getBytes(StandardCharsets.UTF_8)) + "\",\"value\":\""
        + b64.encodeToString(value.getBytes(StandardCharsets.UTF_8)) + "\"}";
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://" + etcd + "/v3/kv/put")).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("etcd put " + key + ": " + r.statusCode() + " " + r.body());
    }
  }

  private static void awaitEndpoints(Mesh mesh, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (mesh.endpoints("payments").size() != n) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("payments has " + mesh.endpoints("payments") + ", expected " + n + " endpoints");
      }
      TimeUnit.MILLISECONDS.sleep(10);
    }
    say("   the registry lists %d healthy payments instances: %s", n,
        mesh.endpoints("payments").stream().map(e -> e.id() + "@" + e.authority()).toList());
  }

  private static void putKv(String consul, String key, String value) throws IOException, InterruptedException {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://" + consul + "/v1/kv/" + key)).PUT(HttpRequest.BodyPublishers.ofString(value)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("PUT " + key + ": " + r.statusCode() + " " + r.body());
    }
  }

  /** The breaker's state as the {@code mesh.circuitbreaker.state} gauges report it. */
  private static String breakerState(Mesh mesh, String subset) {
    return mesh.meterRegistry().get("mesh.circuitbreaker.state").tags("service", "payments", "subset", subset)
        .gauges().stream().filter(g -> g.value() == 1).map(g -> g.getId().getTag("state")).findFirst().orElse("unknown");
  }

  private static Server start(String id, AtomicBoolean broken, List<Server> servers, Mesh mesh) throws IOException {
    Server s = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), MtlsMode.STRICT)
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            CALLER_SEEN.compareAndSet(null, MeshServers.CALLER.get());
            if (broken.get()) {
              out.onError(Status.INTERNAL.withDescription(id + " is failing").asRuntimeException());
              return;
            }
            out.onNext(SimpleResponse.newBuilder().setResponseMessage(id).build());
            out.onCompleted();
          }
        })
        .build()
        .start();
    servers.add(s);
    return s;
  }

  /** Outcomes of a batch of calls. */
  static final class Tally {
    final Map<String, Integer> byInstance = new TreeMap<>();
    final Map<String, Integer> failures = new TreeMap<>();
    int calls;

    void add(Tally o) {
      calls += o.calls;
      o.byInstance.forEach((k, v) -> byInstance.merge(k, v, Integer::sum));
      o.failures.forEach((k, v) -> failures.merge(k, v, Integer::sum));
    }
  }

  /** Sends {@code n} calls from {@link #CALLERS} concurrent callers, as a service under load would. */
  private static Tally run(SimpleServiceGrpc.SimpleServiceBlockingStub stub, int n) throws InterruptedException {
    Tally total = new Tally();
    List<Thread> callers = new ArrayList<>();
    for (int c = 0; c < CALLERS; c++) {
      int share = n / CALLERS + (c < n % CALLERS ? 1 : 0);
      Thread th = new Thread(() -> {
        Tally t = new Tally();
        for (int i = 0; i < share; i++) {
          t.calls++;
          try {
            t.byInstance.merge(stub.unaryRpc(CHARGE).getResponseMessage(), 1, Integer::sum);
          } catch (StatusRuntimeException e) {
            String d = String.valueOf(e.getStatus().getDescription());
            String kind = d.contains("circuit breaker is open") ? "failed fast: " + d
                : e.getStatus().getCode() + " from server: " + d;
            t.failures.merge(kind, 1, Integer::sum);
          }
        }
        synchronized (total) {
          total.add(t);
        }
      });
      th.start();
      callers.add(th);
    }
    for (Thread th : callers) {
      th.join();
    }
    return total;
  }

  private static void report(Tally t) {
    int v1 = t.byInstance.entrySet().stream().filter(e -> e.getKey().contains("v1")).mapToInt(Map.Entry::getValue).sum();
    int v2 = t.byInstance.getOrDefault("payments-v2", 0);
    say("   %d calls: %d ok to v1 (%.1f%%), %d ok to v2 (%.1f%%), %d failed", t.calls, v1, 100.0 * v1 / t.calls,
        v2, 100.0 * v2 / t.calls, t.calls - v1 - v2);
    t.byInstance.forEach((k, v) -> say("     %-14s %5d", k, v));
    t.failures.forEach((k, v) -> say("     %5d x %s", v, k));
  }

  private static String resource(String name) throws IOException {
    try (InputStream in = PaymentsDemo.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("missing resource " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static void say(String format, Object... args) {
    System.out.println(String.format(format, args));
  }
}
