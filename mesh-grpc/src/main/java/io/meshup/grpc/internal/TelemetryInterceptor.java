package io.meshup.grpc.internal;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.meshup.core.internal.tls.TlsPeers;
import io.meshup.core.route.InboundTelemetry;
import io.opentelemetry.context.Scope;
import java.util.ArrayList;
import java.util.List;

/**
 * Records each inbound gRPC call with the mesh's {@link InboundTelemetry}: {@code mesh.server.requests}
 * by caller and status, and (with a tracer installed) a SERVER span continuing the caller's trace,
 * current while the handler's callbacks run so the calls it makes through the mesh are its
 * children. Placed outside the authorizing interceptor, so refused calls count with their status.
 * Thread-safe.
 */
public final class TelemetryInterceptor implements ServerInterceptor {
  private static final InboundTelemetry.Headers<Metadata> HEADERS = new InboundTelemetry.Headers<>() {
    @Override
    public Iterable<String> names(Metadata m) {
      List<String> names = new ArrayList<>();
      for (String k : m.keys()) {
        if (!k.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
          names.add(k);
        }
      }
      return names;
    }

    @Override
    public String get(Metadata m, String name) {
      if (name.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        return null;
      }
      try {
        return m.get(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER));
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
  };

  private final InboundTelemetry telemetry;

  public TelemetryInterceptor(InboundTelemetry telemetry) {
    this.telemetry = telemetry;
  }

  /** The stream tracers that count inbound calls' bytes on the wire ({@code mesh.server.bytes}). */
  public io.grpc.ServerStreamTracer.Factory bytes() {
    io.grpc.ServerStreamTracer tracer = new io.grpc.ServerStreamTracer() {
      @Override
      public void outboundWireSize(long bytes) {
        telemetry.grpcBytes(bytes, 0);
      }

      @Override
      public void inboundWireSize(long bytes) {
        telemetry.grpcBytes(0, bytes);
      }
    };
    return new io.grpc.ServerStreamTracer.Factory() {
      @Override
      public io.grpc.ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        return tracer; // stateless: one for every stream
      }
    };
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    InboundTelemetry.Call observed = telemetry.begin(true, call.getMethodDescriptor().getFullMethodName(), headers,
        HEADERS, TlsPeers.identityOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION)));
    ServerCall<ReqT, RespT> wrapped = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        observed.end(status.getCode().value());
        super.close(status, trailers);
      }
    };
    ServerCall.Listener<ReqT> listener;
    try (Scope s = observed.makeCurrent()) {
      listener = next.startCall(wrapped, headers);
    } catch (RuntimeException | Error e) {
      observed.end(Status.Code.UNKNOWN.value());
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onMessage(ReqT message) {
        try (Scope s = observed.makeCurrent()) {
          super.onMessage(message);
        }
      }

      @Override
      public void onHalfClose() {
        try (Scope s = observed.makeCurrent()) {
          super.onHalfClose();
        }
      }

      @Override
      public void onCancel() {
        observed.end(Status.Code.CANCELLED.value());
        try (Scope s = observed.makeCurrent()) {
          super.onCancel();
        }
      }

      @Override
      public void onComplete() {
        try (Scope s = observed.makeCurrent()) {
          super.onComplete();
        }
      }

      @Override
      public void onReady() {
        try (Scope s = observed.makeCurrent()) {
          super.onReady();
        }
      }
    };
  }
}
