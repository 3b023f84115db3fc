package io.meshup.jmh.e2e;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicLong;

/** The echo service every configuration calls: one unary method that returns its 1 KiB request. */
final class Echo {
  /** Request and response size, bytes. */
  static final int PAYLOAD_BYTES = 1024;
  /** The logical service name (mesh routing, SPIFFE ID of the servers). */
  static final String SERVICE = "echo";
  /** The HTTP service's logical name. */
  static final String HTTP_SERVICE = "echo-http";

  static final MethodDescriptor<byte[], byte[]> METHOD = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("echo.Echo/Call")
      .setRequestMarshaller(Bytes.INSTANCE)
      .setResponseMarshaller(Bytes.INSTANCE)
      .build();

  private Echo() {}

  static byte[] payload() {
    byte[] b = new byte[PAYLOAD_BYTES];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) ('a' + i % 26);
    }
    return b;
  }

  /** The echo service; {@code served} counts its calls. */
  static ServerServiceDefinition service(AtomicLong served) {
    return ServerServiceDefinition.builder("echo.Echo")
        .addMethod(METHOD, ServerCalls.asyncUnaryCall((req, obs) -> {
          served.incrementAndGet();
          obs.onNext(req);
          obs.onCompleted();
        }))
        .build();
  }

  /** Raw bytes on the wire, no protobuf. */
  enum Bytes implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

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
  }
}
