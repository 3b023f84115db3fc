package io.meshup.consul;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.grpc.MeshChannels;
import io.meshup.grpc.MeshServers;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Meshes whose certificates come from Consul Connect, and a gRPC server built by
 * {@link MeshServers} that answers with the caller's identity and records each caller's leaf serial.
 */
final class ConnectTestServers {
  static final SimpleRequest REQ = SimpleRequest.newBuilder().setRequestMessage("hi").build();
  private static final Context.Key<BigInteger> SERIAL = Context.key("test-serial");

  private ConnectTestServers() {}

  /** The {@code mesh:} YAML of {@code service} with {@code certificates: consul-connect} on {@code agent}. */
  static String yaml(String service, String agent, String extra) {
    return """
        mesh:
          service: %s
          tls:
            certificates: consul-connect
            consul-connect:
              address: %s
              waitTime: 2s
              %s
        """.formatted(service, agent, extra);
  }

  /** A client mesh of {@code service}, routing {@code destination} to {@code server}. */
  static Mesh client(String service, String agent, String destination, Running server) {
    return Mesh.builder().yaml(yaml(service, agent, "")).endpoints(destination, List.of(server.endpoint())).build();
  }

  /** One call on a new channel (so a new connection and handshake); returns what the server answered. */
  /** A call on a new connection: the mesh's open connections are retired first. */
  static String callOnNewChannel(Mesh mesh, String destination) throws InterruptedException {
    io.meshup.grpc.internal.GrpcConnections.of(mesh).retireAll();
    ManagedChannel ch = MeshChannels.forService(mesh, destination);
    try {
      return SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(REQ).getResponseMessage();
    } finally {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** A running server and what it saw. */
  static final class Running implements AutoCloseable {
    final Server server;
    final Mesh mesh;
    /** The leaf serial of each TLS caller, in call order. */
    final List<BigInteger> callerSerials = new CopyOnWriteArrayList<>();

    Running(Server server, Mesh mesh) {
      this.server = server;
      this.mesh = mesh;
    }

    int port() {
      return server.getPort();
    }

    Endpoint endpoint() {
      return new Endpoint(mesh.serviceName() + "-0", "127.0.0.1", port(), Map.of(), 1);
    }

    BigInteger lastCallerSerial() {
      return callerSerials.get(callerSerials.size() - 1);
    }

    @Override
    public void close() {
      server.shutdownNow();
      try {
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        mesh.close();
      }
    }
  }

  /** Starts a server on an ephemeral loopback port for {@code mesh}, in its mTLS mode. */
  static Running start(Mesh mesh) throws IOException {
    Running[] self = new Running[1];
    Server server = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), mesh.mtlsMode())
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            WorkloadIdentity caller = MeshServers.CALLER.get();
            BigInteger serial = SERIAL.get();
            if (serial != null) {
              self[0].callerSerials.add(serial);
            }
            out.onNext(SimpleResponse.newBuilder()
                .setResponseMessage(caller == null ? "anonymous" : caller.toString()).build());
            out.onCompleted();
          }
        })
        .intercept(new SerialInterceptor())
        .build()
        .start();
    self[0] = new Running(server, mesh);
    return self[0];
  }

  /** Records the TLS caller's leaf serial in the call's context. */
  private static final class SerialInterceptor implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
      if (session == null) {
        return next.startCall(call, headers);
      }
      try {
        BigInteger serial = ((X509Certificate) session.getPeerCertificates()[0]).getSerialNumber();
        return Contexts.interceptCall(Context.current().withValue(SERIAL, serial), call, headers, next);
      } catch (SSLPeerUnverifiedException e) {
        return next.startCall(call, headers);
      }
    }
  }
}
