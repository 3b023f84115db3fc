package io.meshup.grpc.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.testing.security.DecisionTable;
import io.meshup.core.testing.security.FixedCredentials;
import io.meshup.core.testing.security.Row;
import io.meshup.core.testing.security.SecurityFixture;
import io.meshup.grpc.MeshServers;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decision table of issue 13 on a real gRPC server built by {@link MeshServers} (PERMISSIVE,
 * so plaintext rows reach it), called over loopback by real clients with real certificates of
 * both SPIFFE shapes and real JWTs; the server answers any method name, so a row's path is the
 * call's. The handler answers with the metadata it saw.
 */
class GrpcDecisionTableTest {
  static SecurityFixture f;
  static Mesh mesh;
  static Server server;
  static int port;

  static final MethodDescriptor.Marshaller<String> TEXT = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  };

  static MethodDescriptor<String, String> method(String fullName) {
    return MethodDescriptor.<String, String>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(fullName).setRequestMarshaller(TEXT).setResponseMarshaller(TEXT).build();
  }

  /** Answers any method with the metadata the call carried, one {@code name: value} per line. */
  static final class Echo extends HandlerRegistry {
    @Override
    public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
      ServerCallHandler<String, String> handler = (call, headers) -> {
        call.request(1);
        return new ServerCall.Listener<>() {
          @Override
          public void onMessage(String message) {
            Map<String, String> seen = new TreeMap<>();
            for (String k : headers.keys()) {
              if (!k.endsWith("-bin")) {
                seen.put(k, String.join(",", headers.getAll(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER))));
              }
            }
            StringBuilder b = new StringBuilder();
            seen.forEach((n, v) -> b.append(n).append(": ").append(v).append('\n'));
            call.sendHeaders(new Metadata());
            call.sendMessage(b.toString());
            call.close(Status.OK, new Metadata());
          }
        };
      };
      return ServerMethodDefinition.create(method(methodName), handler);
    }
  }

  @BeforeAll
  static void start() throws IOException {
    if (f == null) {
      f = new SecurityFixture();
    }
    mesh = Mesh.builder().service("payments").labels(Map.of("version", "v1")).certificates(f.serverSource)
        .mtlsMode(MtlsMode.PERMISSIVE).build();
    server = MeshServers.forAddress(mesh, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), MtlsMode.PERMISSIVE)
        .fallbackHandlerRegistry(new Echo()).build().start();
    port = server.getPort();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    mesh.close();
  }

  static Stream<Row> rows() {
    if (f == null) {
      f = new SecurityFixture();
    }
    return DecisionTable.rows(f).stream().filter(r -> r.on().contains(Row.Transport.GRPC));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void decidesAsTheQuotedSentenceSays(Row row) throws Exception {
    mesh.updatePolicies("table", row.policies().replace("{{PORT}}", Integer.toString(port)));
    Row.Call c = row.call();
    NettyChannelBuilder b = NettyChannelBuilder.forAddress("127.0.0.1", port)
        .overrideAuthority(c.sni() != null ? c.sni() : c.host());
    c.headers().stream().filter(h -> h.getKey().equals("user-agent")).findFirst().ifPresent(h -> b.userAgent(h.getValue()));
    if (c.caller() == null) {
      b.usePlaintext();
    } else {
      // not TlsContexts.client: MeshUp's own client context sends no server name, and rows check SNI
      FixedCredentials creds = new FixedCredentials(f.caller(c.caller()));
      b.sslContext(io.grpc.netty.GrpcSslContexts.forClient()
          .keyManager(new io.meshup.core.internal.tls.MeshKeyManager(creds))
          .trustManager(new io.meshup.core.internal.tls.MeshTrustManager(creds, MeshClock.system(), "payments",
              new SimpleMeterRegistry()))
          .build());
    }
    ManagedChannel channel = b.build();
    try {
      Metadata md = new Metadata();
      for (Map.Entry<String, String> h : c.headers()) {
        if (h.getKey().equals("user-agent")) {
          continue; // grpc-java writes its own, after the channel's userAgent
        }
        md.put(Metadata.Key.of(h.getKey(), Metadata.ASCII_STRING_MARSHALLER), h.getValue());
      }
      io.grpc.Channel ch = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md));
      Status status;
      String seen = "";
      try {
        seen = ClientCalls.blockingUnaryCall(ch, method(c.path().substring(1)),
            CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "hi");
        status = Status.OK;
      } catch (StatusRuntimeException e) {
        status = e.getStatus();
      }
      Set<Status.Code> expected = switch (row.expect()) {
        case ALLOW -> Set.of(Status.Code.OK);
        case DENY -> Set.of(Status.Code.PERMISSION_DENIED);
        case UNAUTHENTICATED -> Set.of(Status.Code.UNAUTHENTICATED);
        case MTLS_REQUIRED -> Set.of(Status.Code.UNAUTHENTICATED, Status.Code.UNAVAILABLE);
      };
      assertThat(status.getCode()).as(row.quote() + " (" + row.source() + "): " + status).isIn(expected);
      for (Map.Entry<String, String> s : row.seen().entrySet()) {
        if (s.getValue() == null) {
          assertThat(seen).as("the handler saw").doesNotContain(s.getKey() + ":");
        } else {
          assertThat(seen).as("the handler saw").contains(s.getKey() + ": " + s.getValue() + "\n");
        }
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
