package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * MeshUp with Connect certificates and Consul 1.8's built-in Connect proxy ({@code consul connect
 * proxy}) on either side: the proxy's public listener in front of a plain gRPC server, and the
 * proxy's upstream listener in front of a MeshUp server. The built-in proxy offers ALPN {@code h2}
 * on both sides, so gRPC over TLS works through it.
 */
class ConnectProxyInteropTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  final List<AutoCloseable> closers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
    new ConsulOps(consul.httpAddress()).deleteIntentions();
  }

  <T extends AutoCloseable> T closing(T c) {
    closers.add(c);
    return c;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Starts {@code consul connect proxy <args>} and waits until {@code port} accepts connections; skips the test if it cannot start. */
  Process proxy(int port, String... args) throws IOException {
    Path bin = consul.binary().orElseThrow();
    Path log = Paths.get("target", "consul", "proxy-" + port + ".log").toAbsolutePath();
    Files.createDirectories(log.getParent());
    List<String> cmd = new ArrayList<>(List.of(bin.toString(), "connect", "proxy", "-http-addr", consul.httpAddress()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    closing(() -> {
      p.destroy();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    });
    try {
      await().atMost(Duration.ofSeconds(20)).until(() -> {
        if (!p.isAlive()) {
          return true;
        }
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 500);
          return true;
        } catch (IOException e) {
          return false;
        }
      });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      Assumptions.abort("consul connect proxy did not listen on " + port + " within 20 s: " + Files.readString(log));
    }
    Assumptions.assumeTrue(p.isAlive(), () -> "consul connect proxy exited at start: " + readQuietly(log));
    return p;
  }

  static String readQuietly(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** A plaintext gRPC server (no mesh) answering {@code answer}. */
  Server plainServer(String answer) throws IOException {
    Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            out.onNext(SimpleResponse.newBuilder().setResponseMessage(answer).build());
            out.onCompleted();
          }
        }).build().start();
    closing(() -> s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return s;
  }

  @Test
  void meshUpClientCallsAPlainServerBehindTheBuiltInProxyUnlessAnIntentionDenies() throws Exception {
    Server db = plainServer("plain db");
    int listen = freePort();
    proxy(listen, "-service", "db", "-service-addr", "127.0.0.1:" + db.getPort(), "-listen", "127.0.0.1:" + listen);
    Mesh web = closing(Mesh.builder().yaml(ConnectTestServers.yaml("web", consul.httpAddress(), ""))
        .endpoints("db", List.of(new io.meshup.core.Endpoint("db-proxy", "127.0.0.1", listen, java.util.Map.of(), 1)))
        .build());

    // MeshUp verified the proxy's leaf as service db of the cluster's trust domain; the proxy
    // verified ours and asked the agent to authorize web -> db
    assertThat(ConnectTestServers.callOnNewChannel(web, "db")).isEqualTo("plain db");

    new ConsulOps(consul.httpAddress()).intention("web", "db", "deny");
    await().atMost(Duration.ofSeconds(20)).ignoreExceptionsInstanceOf(IllegalStateException.class)
        .until(() -> denied(() -> ConnectTestServers.callOnNewChannel(web, "db")) != null);
    StatusRuntimeException e = denied(() -> ConnectTestServers.callOnNewChannel(web, "db"));
    System.out.println("intention deny web -> db, the proxy refuses MeshUp's client: " + e.getStatus() + " " + causes(e));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void builtInProxyUpstreamReachesAMeshUpServerThatSeesAndAuthorizesTheProxysIdentity() throws Exception {
    ConsulOps ops = new ConsulOps(consul.httpAddress());
    ConnectTestServers.Running api = closing(ConnectTestServers.start(
        Mesh.fromYamlString(ConnectTestServers.yaml("api", consul.httpAddress(), ""))));
    // a Connect-native service: the proxy's upstream discovers it and dials it with mTLS directly
    ops.registerJson("{\"ID\":\"api-1\",\"Name\":\"api\",\"Address\":\"127.0.0.1\",\"Port\":" + api.port()
        + ",\"Connect\":{\"Native\":true}}");
    int upstream = freePort();
    proxy(upstream, "-service", "legacy", "-upstream", "api:" + upstream);
    ManagedChannel plain = NettyChannelBuilder.forAddress("127.0.0.1", upstream).usePlaintext().build();
    closing(() -> plain.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = SimpleServiceGrpc.newBlockingStub(plain);
    String td = ops.trustDomain();

    // the upstream may need a moment to discover api
    String caller = await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(ConnectTestServers.REQ).getResponseMessage(),
            r -> r != null);
    System.out.println("built-in proxy upstream -> MeshUp server: caller " + caller + ", serial "
        + api.lastCallerSerial().toString(16));
    assertThat(caller).isEqualTo("spiffe://" + td + "/ns/default/dc/dc1/svc/legacy");

    api.mesh.updatePolicies("test", """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: no-legacy }
        spec:
          action: DENY
          rules:
          - from: [{ source: { principals: ["%s/ns/default/dc/dc1/svc/legacy"] } }]
        """.formatted(td));
    assertThatThrownBy(() -> stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(ConnectTestServers.REQ))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
  }

  @Test
  void builtInProxyRefusesAMeshUpServerPresentingAnotherServicesLeaf() throws Exception {
    ConsulOps ops = new ConsulOps(consul.httpAddress());
    ConnectTestServers.Running api = closing(ConnectTestServers.start(
        Mesh.fromYamlString(ConnectTestServers.yaml("api", consul.httpAddress(), ""))));
    // registered as billing, but its certificate says api: the proxy must not talk to it
    ops.registerJson("{\"ID\":\"billing-1\",\"Name\":\"billing\",\"Address\":\"127.0.0.1\",\"Port\":" + api.port()
        + ",\"Connect\":{\"Native\":true}}");
    int upstream = freePort();
    proxy(upstream, "-service", "legacy", "-upstream", "billing:" + upstream);
    ManagedChannel plain = NettyChannelBuilder.forAddress("127.0.0.1", upstream).usePlaintext().build();
    closing(() -> plain.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));

    assertThatThrownBy(() -> SimpleServiceGrpc.newBlockingStub(plain).withDeadlineAfter(5, TimeUnit.SECONDS)
        .unaryRpc(ConnectTestServers.REQ))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    assertThat(api.callerSerials).isEmpty();
  }

  interface Call {
    Object run() throws Exception;
  }

  /** The failure of {@code call}, or null if it succeeded. */
  static StatusRuntimeException denied(Call call) throws Exception {
    try {
      call.run();
      return null;
    } catch (StatusRuntimeException e) {
      return e;
    }
  }

  static String causes(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t.getCause(); c != null && sb.length() < 600; c = c.getCause()) {
      sb.append(" <- ").append(c);
    }
    return sb.toString();
  }
}
