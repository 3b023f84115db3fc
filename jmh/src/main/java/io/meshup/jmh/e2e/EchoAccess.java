package io.meshup.jmh.e2e;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import java.util.concurrent.atomic.AtomicLong;

/** The end-to-end harness's echo service, for the in-process benchmarks. */
public final class EchoAccess {
  public static final String SERVICE = Echo.SERVICE;
  public static final MethodDescriptor<byte[], byte[]> METHOD = Echo.METHOD;

  private EchoAccess() {}

  public static byte[] payload() {
    return Echo.payload();
  }

  public static ServerServiceDefinition service(AtomicLong served) {
    return Echo.service(served);
  }
}
