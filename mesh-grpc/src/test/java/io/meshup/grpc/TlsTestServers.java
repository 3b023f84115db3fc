package io.meshup.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
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
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.spi.CertificateSource;
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
 * A gRPC server on an ephemeral loopback port built by {@link MeshServers}; it answers with the
 * caller's identity ({@code anonymous} when there is none) and records the serial of each
 * caller's certificate.
 */
final class TlsTestServers {
  private static final Context.Key<BigInteger> SERIAL = Context.key("test-serial");

  private TlsTestServers() {}

  /** A running server and what it saw. */
  static final class Running implements AutoCloseable {
    final Server server;
    final Mesh mesh;
    /** The leaf serial of each TLS caller, in call order. */
    final List<BigInteger> callerSerials = new CopyOnWriteArrayList<>();
    /** When set, calls wait for it (after recording the caller) before answering. */
    final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CountDownLatch> hold =
        new java.util.concurrent.atomic.AtomicReference<>();

    Running(Server server, Mesh mesh) {
      this.server = server;
      this.mesh = mesh;
    }

    int port() {
      return server.getPort();
    }

    Endpoint endpoint() {
      return new Endpoint("payments-0", "127.0.0.1", port(), Map.of(), 1);
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

  /** Starts service {@code service} with these certificates (null for none) in {@code mode}. */
  static Running start(String service, CertificateSource certificates, MtlsMode mode) throws IOException {
    Mesh.Builder b = Mesh.builder().service(service).mtlsMode(mode);
    if (certificates != null) {
      b.certificates(certificates);
    }
    Mesh mesh = b.build();
    Running[] self = new Running[1];
    Server server = MeshServers.forAddress(mesh, new InetSocketAddress("127.0.0.1", 0), mode)
        .addService(new SimpleServiceGrpc.SimpleServiceImplBase() {
          @Override
          public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            WorkloadIdentity caller = MeshServers.CALLER.get();
            BigInteger serial = SERIAL.get();
            if (serial != null) {
              self[0].callerSerials.add(serial);
            }
            java.util.concurrent.CountDownLatch latch = self[0].hold.get();
            if (latch != null) {
              try {
                latch.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
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

  /** A source that always returns the same credentials. */
  static CertificateSource fixed(Credentials credentials) {
    return new CertificateSource() {
      @Override
      public Credentials current() {
        return credentials;
      }

      @Override
      public Subscription subscribe(Listener listener) {
        return () -> {};
      }
    };
  }
}
