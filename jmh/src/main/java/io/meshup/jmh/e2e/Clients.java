package io.meshup.jmh.e2e;

import io.grpc.CallOptions;
import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.identity.PemFileCertificateSource;
import io.meshup.grpc.MeshChannels;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The client side of each configuration. */
final class Clients {
  /** The client's own service name (and SPIFFE ID with mTLS). */
  static final String CLIENT = "bench-client";

  /**
   * DestinationRule with subsets v1/v2, a Resilience4j breaker and outlier detection; VirtualService
   * with a weighted split (80/20; 67/33 for {@code mesh-plain-even}, one third per instance), and a
   * balancer (MeshUp's default, peak EWMA; round robin and least request for the tail experiment).
   * {@code %1$s} is the host, {@code %2$d} and {@code %3$d} the weights, {@code %4$s} the balancer.
   */
  static final String POLICY = """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: %1$s }
      spec:
        host: %1$s
        trafficPolicy:
          loadBalancer: { simple: %4$s }
          circuitBreaker:
            slidingWindowSize: 100
            minimumNumberOfCalls: 20
            failureRateThreshold: 50
            waitDurationInOpenState: 5s
            permittedNumberOfCallsInHalfOpenState: 3
          outlierDetection:
            consecutive5xxErrors: 5
            interval: 1s
            baseEjectionTime: 30s
        subsets:
          - { name: v1, labels: { version: v1 } }
          - { name: v2, labels: { version: v2 } }
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: %1$s }
      spec:
        hosts: [%1$s]
        http:
          - name: split
            route:
              - { destination: { host: %1$s, subset: v1 }, weight: %2$d }
              - { destination: { host: %1$s, subset: v2 }, weight: %3$d }
      """;

  private Clients() {}

  /** Everything a client needs to know about the servers and proxies of this run. */
  record Setup(int[] grpcPorts, int[] mtlsPorts, int[] httpPorts, int sidecarPlainPort, int sidecarTlsPort,
      Path certDir, int xdsPort) {}

  static Caller create(String config, Setup s) {
    return switch (config) {
      case "grpc-plain", "grpc-plain-again" -> grpcRoundRobin(s.grpcPorts());
      case "grpc-plain-direct" -> grpcRoundRobinDirect(s.grpcPorts());
      case "grpc-per-endpoint" -> grpcPerEndpoint(s.grpcPorts());
      case "grpc-xds" -> grpcXds(s);
      case "mesh-plain" -> meshGrpc(s.grpcPorts(), null);
      case "mesh-plain-even" -> meshGrpc(mesh(Echo.SERVICE, s.grpcPorts(), null, 67, "PEAK_EWMA"));
      case "mesh-plain-rr" -> meshGrpc(mesh(Echo.SERVICE, s.grpcPorts(), null, 80, "ROUND_ROBIN"));
      case "mesh-plain-lr" -> meshGrpc(mesh(Echo.SERVICE, s.grpcPorts(), null, 80, "LEAST_REQUEST"));
      case "mesh-mtls", "mesh-mtls-jdk" -> meshGrpc(s.mtlsPorts(), s.certDir());
      case "sidecar-plain" -> grpcDirect(s.sidecarPlainPort());
      case "sidecar-tls" -> grpcDirect(s.sidecarTlsPort());
      case "http-plain" -> httpPlain(s.httpPorts());
      case "http-mesh" -> httpMesh(s.httpPorts());
      case "server-warmup" -> all(grpcRoundRobin(s.grpcPorts()), meshGrpc(s.mtlsPorts(), s.certDir()),
          httpPlain(s.httpPorts()));
      default -> throw new IllegalArgumentException("unknown configuration " + config);
    };
  }

  /** Sends each call through the next of {@code callers} in turn (warms every server kind at once). */
  static Caller all(Caller... callers) {
    AtomicInteger next = new AtomicInteger();
    return new Caller() {
      @Override
      public void call(Done done) {
        callers[Math.floorMod(next.getAndIncrement(), callers.length)].call(done);
      }

      @Override
      public void close() {
        for (Caller c : callers) {
          c.close();
        }
      }
    };
  }

  /** Instances 0 and 1 are version v1, the rest v2. */
  static List<Endpoint> endpoints(int[] ports) {
    List<Endpoint> eps = new ArrayList<>();
    for (int i = 0; i < ports.length; i++) {
      eps.add(new Endpoint("echo-" + i, "127.0.0.1", ports[i], Map.of("version", i < 2 ? "v1" : "v2"), 1));
    }
    return eps;
  }

  static Mesh mesh(String host, int[] ports, Path certDir) {
    return mesh(host, ports, certDir, 80, "PEAK_EWMA");
  }

  static Mesh mesh(String host, int[] ports, Path certDir, int v1Weight, String balancer) {
    Mesh.Builder b = Mesh.builder().service(CLIENT).endpoints(host, endpoints(ports))
        .policies("bench", POLICY.formatted(host, v1Weight, 100 - v1Weight, balancer));
    if (certDir != null) {
      b.certificates(PemFileCertificateSource.load(Certs.chain(certDir, CLIENT), Certs.key(certDir, CLIENT),
          Certs.bundle(certDir)));
    }
    Mesh mesh = b.build();
    for (String subset : new String[] {"v1", "v2"}) {
      double closed = mesh.meterRegistry().get("mesh.circuitbreaker.state")
          .tags("service", host, "subset", subset, "state", "closed").gauge().value();
      if (closed != 1) {
        throw new IllegalStateException("expected a closed breaker on " + host + "/" + subset + ", gauge " + closed);
      }
    }
    return mesh;
  }

  // ---- gRPC ------------------------------------------------------------------------------

  static Caller grpcRoundRobin(int[] ports) {
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (int p : ports) {
      groups.add(new EquivalentAddressGroup(new InetSocketAddress("127.0.0.1", p)));
    }
    NameResolverRegistry.getDefaultRegistry().register(new StaticResolverProvider(groups));
    ManagedChannel ch = NettyChannelBuilder.forTarget(StaticResolverProvider.SCHEME + ":///" + Echo.SERVICE)
        .defaultLoadBalancingPolicy("round_robin").usePlaintext().build();
    return grpc(ch, null);
  }

  /**
   * As {@link #grpcRoundRobin}, made as fast as plain grpc-java goes: responses handled on the
   * transport's thread (no executor hop) and no retry layer (no RetriableStream per call).
   */
  static Caller grpcRoundRobinDirect(int[] ports) {
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (int p : ports) {
      groups.add(new EquivalentAddressGroup(new InetSocketAddress("127.0.0.1", p)));
    }
    NameResolverRegistry.getDefaultRegistry().register(new StaticResolverProvider(groups));
    ManagedChannel ch = NettyChannelBuilder.forTarget(StaticResolverProvider.SCHEME + ":///" + Echo.SERVICE)
        .defaultLoadBalancingPolicy("round_robin").usePlaintext().directExecutor().disableRetry().build();
    return grpc(ch, null);
  }

  /**
   * One plain channel per endpoint, the application picking the channel by the same 80/20 split
   * over the v1 and v2 instances (round robin within each): what a hand-rolled client does.
   */
  static Caller grpcPerEndpoint(int[] ports) {
    ManagedChannel[] chs = new ManagedChannel[ports.length];
    for (int i = 0; i < ports.length; i++) {
      chs[i] = NettyChannelBuilder.forAddress("127.0.0.1", ports[i]).usePlaintext().build();
    }
    int v1 = Math.min(2, ports.length);
    AtomicInteger next = new AtomicInteger();
    Caller[] callers = new Caller[ports.length];
    for (int i = 0; i < ports.length; i++) {
      callers[i] = grpc(chs[i], null);
    }
    return new Caller() {
      @Override
      public void call(Done done) {
        int n = next.getAndIncrement();
        int i = java.util.concurrent.ThreadLocalRandom.current().nextInt(100) < 80 || v1 == ports.length
            ? Math.floorMod(n, v1) : v1 + Math.floorMod(n, ports.length - v1);
        callers[i].call(done);
      }

      @Override
      public void close() {
        for (Caller c : callers) {
          c.close();
        }
      }
    };
  }

  /**
   * grpc-java's proxyless xDS client ({@code xds:///echo}), its policy from the xDS server in the
   * servers' JVM ({@link XdsControlPlane}): the same split, balancer, outlier detection and
   * concurrency breaker as MeshUp's policy where xDS has them.
   */
  static Caller grpcXds(Setup s) {
    try {
      Path bootstrap = XdsControlPlane.writeBootstrap(s.certDir(), s.xdsPort(), CLIENT);
      System.setProperty("io.grpc.xds.bootstrap", bootstrap.toString());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    ManagedChannel ch = io.grpc.Grpc.newChannelBuilder("xds:///" + Echo.SERVICE, io.grpc.InsecureChannelCredentials.create())
        .build();
    return grpc(ch, null);
  }

  static Caller grpcDirect(int port) {
    return grpc(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build(), null);
  }

  static Caller meshGrpc(int[] ports, Path certDir) {
    return meshGrpc(mesh(Echo.SERVICE, ports, certDir));
  }

  static Caller meshGrpc(Mesh mesh) {
    return grpc(MeshChannels.forService(mesh, Echo.SERVICE), mesh);
  }

  static Caller grpc(ManagedChannel ch, Mesh mesh) {
    byte[] payload = Echo.payload();
    return new Caller() {
      @Override
      public void call(Done done) {
        ClientCalls.asyncUnaryCall(ch.newCall(Echo.METHOD, CallOptions.DEFAULT), payload, new StreamObserver<>() {
          boolean ok;

          @Override
          public void onNext(byte[] value) {
            ok = value.length == Echo.PAYLOAD_BYTES;
          }

          @Override
          public void onError(Throwable t) {
            done.done(false);
          }

          @Override
          public void onCompleted() {
            done.done(ok);
          }
        });
      }

      @Override
      public void close() {
        ch.shutdownNow();
        try {
          ch.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        if (mesh != null) {
          mesh.close();
        }
      }
    };
  }

  /** Resolves {@code bench:///echo} to a fixed list of addresses, for plain grpc-java's round robin. */
  static final class StaticResolverProvider extends NameResolverProvider {
    static final String SCHEME = "bench";
    private final List<EquivalentAddressGroup> groups;

    StaticResolverProvider(List<EquivalentAddressGroup> groups) {
      this.groups = List.copyOf(groups);
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public String getDefaultScheme() {
      return SCHEME;
    }

    @Override
    public NameResolver newNameResolver(URI target, NameResolver.Args args) {
      if (!SCHEME.equals(target.getScheme())) {
        return null;
      }
      return new NameResolver() {
        @Override
        public String getServiceAuthority() {
          return Echo.SERVICE;
        }

        @Override
        public void start(Listener2 listener) {
          listener.onResult(ResolutionResult.newBuilder().setAddressesOrError(io.grpc.StatusOr.fromValue(groups)).build());
        }

        @Override
        public void shutdown() {}
      };
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------

  static Caller httpPlain(int[] ports) {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    byte[] payload = Echo.payload();
    HttpRequest[] requests = new HttpRequest[ports.length];
    for (int i = 0; i < ports.length; i++) {
      requests[i] = post(URI.create("http://127.0.0.1:" + ports[i] + "/echo"), payload);
    }
    AtomicInteger next = new AtomicInteger();
    return new Caller() {
      @Override
      public void call(Done done) {
        HttpRequest r = requests[Math.floorMod(next.getAndIncrement(), requests.length)];
        client.sendAsync(r, HttpResponse.BodyHandlers.ofByteArray()).whenComplete((res, err) -> done.done(ok(res, err)));
      }

      @Override
      public void close() {}
    };
  }

  static Caller httpMesh(int[] ports) {
    Mesh mesh = mesh(Echo.HTTP_SERVICE, ports, null);
    MeshHttpClient client = MeshHttp.client(mesh);
    HttpRequest r = post(URI.create("http://" + Echo.HTTP_SERVICE + "/echo"), Echo.payload());
    return new Caller() {
      @Override
      public void call(Done done) {
        client.sendAsync(r, HttpResponse.BodyHandlers.ofByteArray()).whenComplete((res, err) -> done.done(ok(res, err)));
      }

      @Override
      public void close() {
        mesh.close();
      }
    };
  }

  private static HttpRequest post(URI uri, byte[] payload) {
    return HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofByteArray(payload))
        .header("content-type", "application/octet-stream").build();
  }

  private static boolean ok(HttpResponse<byte[]> res, Throwable err) {
    return err == null && res.statusCode() == 200 && res.body().length == Echo.PAYLOAD_BYTES;
  }
}
