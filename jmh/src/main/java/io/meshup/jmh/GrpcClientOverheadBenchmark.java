package io.meshup.jmh;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.grpc.MeshChannels;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What MeshUp's gRPC client adds to a call, in bytes and time: the same 1 KiB unary echo to the
 * same loopback grpc-java server, through a plain Netty channel to it (the baseline) and through a
 * mesh channel (one endpoint, the default policy: peak EWMA, breaker, meters), in the same run and
 * JVM. Client and server share the JVM, so {@code gc.alloc.rate.norm} counts both; the server's and
 * Netty's share is the same in both benchmarks, and the difference is the mesh's.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class GrpcClientOverheadBenchmark {
  Server server;
  Mesh mesh;
  ManagedChannel plain;
  ManagedChannel meshed;
  byte[] payload;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(io.meshup.jmh.e2e.EchoAccess.service(new AtomicLong())).build().start();
    int port = server.getPort();
    mesh = Mesh.builder().service("bench").endpoints(io.meshup.jmh.e2e.EchoAccess.SERVICE,
        List.of(new Endpoint("echo-0", "127.0.0.1", port, Map.of(), 1))).build();
    plain = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    meshed = MeshChannels.forService(mesh, io.meshup.jmh.e2e.EchoAccess.SERVICE);
    payload = io.meshup.jmh.e2e.EchoAccess.payload();
    plainCall();
    meshCall();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    plain.shutdownNow();
    meshed.shutdownNow();
    mesh.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  @Benchmark
  public byte[] plainCall() {
    return ClientCalls.blockingUnaryCall(plain, io.meshup.jmh.e2e.EchoAccess.METHOD, CallOptions.DEFAULT, payload);
  }

  @Benchmark
  public byte[] meshCall() {
    return ClientCalls.blockingUnaryCall(meshed, io.meshup.jmh.e2e.EchoAccess.METHOD, CallOptions.DEFAULT, payload);
  }
}
