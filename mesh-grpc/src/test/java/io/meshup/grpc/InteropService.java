package io.meshup.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A test service shaped after gRPC's interop test service (empty, unary, client-, server- and
 * bidi-streaming calls), with messages of raw bytes so that sizes are exact: a request is a small
 * header of {@code key=value;...} settings (response size, status to answer, sleep, compression)
 * and a payload; a response is {@code size} zero bytes. The server echoes the interop metadata keys
 * and records each call's headers. Written for MeshUp; only the case list and payload sizes come
 * from gRPC's interop test descriptions.
 */
final class InteropService {
  static final String SERVICE = "meshup.interop.TestService";
  static final Metadata.Key<String> ECHO_INITIAL = Metadata.Key.of("x-grpc-test-echo-initial", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<byte[]> ECHO_TRAILING = Metadata.Key.of("x-grpc-test-echo-trailing-bin", Metadata.BINARY_BYTE_MARSHALLER);
  static final Metadata.Key<String> TIMEOUT = Metadata.Key.of("grpc-timeout", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> ENCODING = Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);

  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> EMPTY = method("EmptyCall", MethodDescriptor.MethodType.UNARY);
  static final MethodDescriptor<byte[], byte[]> UNARY = method("UnaryCall", MethodDescriptor.MethodType.UNARY);
  static final MethodDescriptor<byte[], byte[]> STREAMING_INPUT = method("StreamingInputCall", MethodDescriptor.MethodType.CLIENT_STREAMING);
  static final MethodDescriptor<byte[], byte[]> STREAMING_OUTPUT = method("StreamingOutputCall", MethodDescriptor.MethodType.SERVER_STREAMING);
  static final MethodDescriptor<byte[], byte[]> FULL_DUPLEX = method("FullDuplexCall", MethodDescriptor.MethodType.BIDI_STREAMING);
  /** Bidi; the server reads one message only each time {@link #readOne} is released. */
  static final MethodDescriptor<byte[], byte[]> FLOW_CONTROL = method("FlowControlCall", MethodDescriptor.MethodType.BIDI_STREAMING);
  /** Not registered on the server. */
  static final MethodDescriptor<byte[], byte[]> UNIMPLEMENTED = method("UnimplementedCall", MethodDescriptor.MethodType.UNARY);
  /** A service the server does not have. */
  static final MethodDescriptor<byte[], byte[]> OTHER_SERVICE = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("meshup.interop.UnimplementedService/UnimplementedCall")
      .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

  /** The headers each call arrived with, in order. */
  final List<Metadata> headers = new CopyOnWriteArrayList<>();
  /** Released once per message the flow-control call may read. */
  final java.util.concurrent.Semaphore readOne = new java.util.concurrent.Semaphore(0);
  /** Messages the flow-control call read. */
  final java.util.concurrent.atomic.AtomicInteger flowControlRead = new java.util.concurrent.atomic.AtomicInteger();

  static MethodDescriptor<byte[], byte[]> method(String name, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder().setType(type)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
  }

  /** A request: settings, then {@code payload} zero bytes. */
  static byte[] request(String settings, int payload) {
    byte[] h = settings.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + h.length + payload);
    b.putInt(h.length).put(h);
    return b.array();
  }

  static Map<String, String> settings(byte[] request) {
    ByteBuffer b = ByteBuffer.wrap(request);
    int n = b.getInt();
    String s = new String(request, 4, n, StandardCharsets.UTF_8);
    Map<String, String> out = new LinkedHashMap<>();
    for (String kv : s.split(";")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        out.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    return out;
  }

  static int payload(byte[] request) {
    return request.length - 4 - ByteBuffer.wrap(request).getInt();
  }

  ServerServiceDefinition definition() {
    ServerServiceDefinition d = ServerServiceDefinition.builder(SERVICE)
        .addMethod(EMPTY, ServerCalls.asyncUnaryCall((req, out) -> {
          out.onNext(new byte[0]);
          out.onCompleted();
        }))
        .addMethod(UNARY, ServerCalls.asyncUnaryCall(this::unary))
        .addMethod(STREAMING_INPUT, ServerCalls.asyncClientStreamingCall(this::streamingInput))
        .addMethod(STREAMING_OUTPUT, ServerCalls.asyncServerStreamingCall(this::streamingOutput))
        .addMethod(FULL_DUPLEX, ServerCalls.asyncBidiStreamingCall(this::fullDuplex))
        .addMethod(FLOW_CONTROL, ServerCalls.asyncBidiStreamingCall(this::flowControl))
        .build();
    return ServerInterceptors.intercept(d, new Echo());
  }

  private void unary(byte[] req, StreamObserver<byte[]> out) {
    Map<String, String> s = settings(req);
    sleep(s);
    if (s.containsKey("code")) {
      out.onError(Status.fromCodeValue(Integer.parseInt(s.get("code"))).withDescription(s.get("msg")).asRuntimeException());
      return;
    }
    if ("1".equals(s.get("compress"))) {
      ((ServerCallStreamObserver<byte[]>) out).setCompression("gzip");
    }
    out.onNext(new byte[Integer.parseInt(s.getOrDefault("size", "0"))]);
    out.onCompleted();
  }

  private StreamObserver<byte[]> streamingInput(StreamObserver<byte[]> out) {
    return new StreamObserver<>() {
      long total;

      @Override
      public void onNext(byte[] value) {
        total += payload(value);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        out.onNext(request("aggregate=" + total, 0));
        out.onCompleted();
      }
    };
  }

  private void streamingOutput(byte[] req, StreamObserver<byte[]> out) {
    Map<String, String> s = settings(req);
    if ("1".equals(s.get("compress"))) {
      ((ServerCallStreamObserver<byte[]>) out).setCompression("gzip");
    }
    for (String size : s.getOrDefault("sizes", "").split(",")) {
      if (!size.isEmpty()) {
        sleep(s);
        out.onNext(new byte[Integer.parseInt(size)]);
      }
    }
    out.onCompleted();
  }

  private StreamObserver<byte[]> fullDuplex(StreamObserver<byte[]> out) {
    return new StreamObserver<>() {
      @Override
      public void onNext(byte[] value) {
        Map<String, String> s = settings(value);
        sleep(s);
        if (s.containsKey("code")) {
          out.onError(Status.fromCodeValue(Integer.parseInt(s.get("code"))).withDescription(s.get("msg")).asRuntimeException());
          return;
        }
        out.onNext(new byte[Integer.parseInt(s.getOrDefault("size", "0"))]);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        out.onCompleted();
      }
    };
  }

  private StreamObserver<byte[]> flowControl(StreamObserver<byte[]> out) {
    ServerCallStreamObserver<byte[]> call = (ServerCallStreamObserver<byte[]>) out;
    call.disableAutoRequest();
    Thread reader = new Thread(() -> {
      try {
        while (!call.isCancelled()) {
          if (readOne.tryAcquire(100, TimeUnit.MILLISECONDS)) {
            call.request(1);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "interop-flow-control");
    reader.setDaemon(true);
    reader.start();
    return new StreamObserver<>() {
      @Override
      public void onNext(byte[] value) {
        flowControlRead.incrementAndGet();
      }

      @Override
      public void onError(Throwable t) {
        reader.interrupt();
      }

      @Override
      public void onCompleted() {
        reader.interrupt();
        out.onCompleted();
      }
    };
  }

  private static void sleep(Map<String, String> s) {
    if (s.containsKey("sleepMillis")) {
      try {
        TimeUnit.MILLISECONDS.sleep(Long.parseLong(s.get("sleepMillis")));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Records the headers and echoes the interop metadata keys (initial and trailing). */
  private final class Echo implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata h,
        ServerCallHandler<ReqT, RespT> next) {
      headers.add(h);
      String initial = h.get(ECHO_INITIAL);
      byte[] trailing = h.get(ECHO_TRAILING);
      return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
        @Override
        public void sendHeaders(Metadata responseHeaders) {
          if (initial != null) {
            responseHeaders.put(ECHO_INITIAL, initial);
          }
          super.sendHeaders(responseHeaders);
        }

        @Override
        public void close(Status status, Metadata trailers) {
          if (trailing != null) {
            trailers.put(ECHO_TRAILING, trailing);
          }
          super.close(status, trailers);
        }
      }, h);
    }
  }
}
