package io.meshup.grpc;

import static io.meshup.grpc.InteropService.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.meshup.core.Endpoint;
import io.meshup.core.Mesh;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.MtlsMode;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * grpc-java's interop test cases (the list of its {@code interop-testing} module and gRPC's interop
 * test descriptions, with their payload sizes), written for MeshUp and run through a mesh channel
 * four ways: {@link MeshChannels#forService} and {@code ManagedChannelBuilder.forTarget("meshup://...")},
 * each in plaintext and with mutual TLS, against a real server on loopback.
 */
@ParameterizedClass(name = "{0}")
@MethodSource("modes")
class InteropTest {
  enum Mode {
    FOR_SERVICE_PLAINTEXT(false, false),
    FOR_SERVICE_MTLS(false, true),
    TARGET_PLAINTEXT(true, false),
    TARGET_MTLS(true, true);

    final boolean target;
    final boolean tls;

    Mode(boolean target, boolean tls) {
      this.target = target;
      this.tls = tls;
    }
  }

  static Stream<Mode> modes() {
    return Stream.of(Mode.values());
  }

  /** One server and one client mesh per mode, shared by the mode's cases. */
  static final class Env {
    final InteropService service = new InteropService();
    final Mesh serverMesh;
    final Server server;
    final Mesh clientMesh;
    final ManagedChannel channel;

    Env(Mode mode) throws Exception {
      DevCertificateAuthority ca = DevCertificateAuthority.create("interop.test");
      Mesh.Builder sb = Mesh.builder().service("interop");
      if (mode.tls) {
        sb.certificates(ca.source("interop"));
      }
      serverMesh = sb.build();
      server = MeshServers.forAddress(serverMesh, new InetSocketAddress("127.0.0.1", 0),
              mode.tls ? MtlsMode.STRICT : MtlsMode.DISABLE)
          .maxInboundMessageSize(16 << 20)
          .addService(service.definition())
          .build().start();
      String client = "interop-client-" + mode.name().toLowerCase().replace('_', '-');
      Mesh.Builder cb = Mesh.builder().service(client)
          .endpoints("interop", List.of(new Endpoint("i0", "127.0.0.1", server.getPort(), Map.of(), 1)));
      if (mode.tls) {
        cb.certificates(ca.source(client));
      }
      clientMesh = cb.build();
      channel = mode.target
          ? ManagedChannelBuilder.forTarget("meshup://" + client + "/interop").build()
          : MeshChannels.forService(clientMesh, "interop");
    }

    void close() throws InterruptedException {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      clientMesh.close();
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      serverMesh.close();
    }
  }

  static final Map<Mode, Env> ENVS = new ConcurrentHashMap<>();

  @AfterAll
  static void closeAll() throws InterruptedException {
    for (Env e : ENVS.values()) {
      e.close();
    }
    ENVS.clear();
  }

  @Parameter
  Mode mode;

  Env env() {
    return ENVS.computeIfAbsent(mode, m -> {
      try {
        return new Env(m);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
  }

  Channel channel() {
    return env().channel;
  }

  byte[] unary(MethodDescriptor<byte[], byte[]> m, CallOptions o, byte[] req) {
    return ClientCalls.blockingUnaryCall(channel(), m, o.withDeadlineAfter(20, TimeUnit.SECONDS), req);
  }

  static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  /** Collects a stream's messages and its end. */
  static class Recorder implements StreamObserver<byte[]> {
    final List<byte[]> values = new CopyOnWriteArrayList<>();
    final CountDownLatch done = new CountDownLatch(1);
    volatile Throwable error;

    @Override
    public void onNext(byte[] value) {
      values.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
      done.countDown();
    }

    @Override
    public void onCompleted() {
      done.countDown();
    }

    Recorder await() throws InterruptedException {
      assertThat(done.await(20, TimeUnit.SECONDS)).as("the stream ended").isTrue();
      return this;
    }

    List<Integer> sizes() {
      return values.stream().map(v -> v.length).toList();
    }
  }

  // ---- the cases -------------------------------------------------------------------------------

  @Test
  void emptyUnary() {
    assertThat(unary(InteropService.EMPTY, CallOptions.DEFAULT, new byte[0])).isEmpty();
  }

  @Test
  void largeUnary() {
    assertThat(unary(InteropService.UNARY, CallOptions.DEFAULT, request("size=314159", 271828))).hasSize(314159);
  }

  @Test
  void clientCompressedUnary() {
    int before = env().service.headers.size();
    assertThat(unary(InteropService.UNARY, CallOptions.DEFAULT.withCompression("gzip"), request("size=314159", 271828)))
        .hasSize(314159);
    assertThat(env().service.headers.get(before).get(InteropService.ENCODING)).isEqualTo("gzip");
  }

  @Test
  void serverCompressedUnary() {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    byte[] r = ClientCalls.blockingUnaryCall(ClientInterceptors.intercept(channel(), capture(headers, null)),
        InteropService.UNARY, CallOptions.DEFAULT, request("size=314159;compress=1", 271828));
    assertThat(r).hasSize(314159);
    assertThat(headers.get().get(InteropService.ENCODING)).isEqualTo("gzip");
  }

  @Test
  void clientStreaming() throws Exception {
    Recorder rec = new Recorder();
    StreamObserver<byte[]> in = ClientCalls.asyncClientStreamingCall(
        channel().newCall(InteropService.STREAMING_INPUT, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), rec);
    for (int size : new int[] {27182, 8, 1828, 45904}) {
      in.onNext(request("", size));
    }
    in.onCompleted();
    rec.await();
    assertThat(rec.error).isNull();
    assertThat(InteropService.settings(rec.values.get(0))).containsEntry("aggregate", "74922");
  }

  @Test
  void clientCompressedStreaming() throws Exception {
    int before = env().service.headers.size();
    Recorder rec = new Recorder();
    StreamObserver<byte[]> in = ClientCalls.asyncClientStreamingCall(channel().newCall(InteropService.STREAMING_INPUT,
        CallOptions.DEFAULT.withCompression("gzip").withDeadlineAfter(20, TimeUnit.SECONDS)), rec);
    in.onNext(request("", 27182));
    in.onNext(request("", 45904));
    in.onCompleted();
    rec.await();
    assertThat(InteropService.settings(rec.values.get(0))).containsEntry("aggregate", "73086");
    assertThat(env().service.headers.get(before).get(InteropService.ENCODING)).isEqualTo("gzip");
  }

  @Test
  void serverStreaming() throws Exception {
    Recorder rec = new Recorder();
    ClientCalls.asyncServerStreamingCall(channel().newCall(InteropService.STREAMING_OUTPUT,
        CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), request("sizes=31415,9,2653,58979", 0), rec);
    rec.await();
    assertThat(rec.error).isNull();
    assertThat(rec.sizes()).containsExactly(31415, 9, 2653, 58979);
  }

  @Test
  void serverCompressedStreaming() throws Exception {
    Recorder rec = new Recorder();
    ClientCalls.asyncServerStreamingCall(channel().newCall(InteropService.STREAMING_OUTPUT,
        CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), request("sizes=31415,92653;compress=1", 0), rec);
    rec.await();
    assertThat(rec.sizes()).containsExactly(31415, 92653);
  }

  @Test
  void pingPong() throws Exception {
    int[][] sizes = {{27182, 31415}, {8, 9}, {1828, 2653}, {45904, 58979}};
    java.util.concurrent.BlockingQueue<byte[]> answers = new java.util.concurrent.LinkedBlockingQueue<>();
    Recorder end = new Recorder() {
      @Override
      public void onNext(byte[] value) {
        answers.add(value);
      }
    };
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(
        channel().newCall(InteropService.FULL_DUPLEX, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), end);
    for (int[] s : sizes) {
      out.onNext(request("size=" + s[1], s[0]));
      byte[] a = answers.poll(20, TimeUnit.SECONDS);
      assertThat(a).as("answer to " + s[0]).hasSize(s[1]);
    }
    out.onCompleted();
    end.await();
    assertThat(end.error).isNull();
  }

  @Test
  void emptyStream() throws Exception {
    Recorder rec = new Recorder();
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(
        channel().newCall(InteropService.FULL_DUPLEX, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), rec);
    out.onCompleted();
    rec.await();
    assertThat(rec.error).isNull();
    assertThat(rec.values).isEmpty();
  }

  @Test
  void cancelAfterBegin() throws Exception {
    Recorder rec = new Recorder();
    ClientCall<byte[], byte[]> call = channel().newCall(InteropService.STREAMING_INPUT, CallOptions.DEFAULT);
    ClientCalls.asyncClientStreamingCall(call, rec);
    call.cancel("cancelled by the test", null);
    rec.await();
    assertThat(code(rec.error)).isEqualTo(Status.Code.CANCELLED);
  }

  @Test
  void cancelAfterFirstResponse() throws Exception {
    CountDownLatch first = new CountDownLatch(1);
    Recorder rec = new Recorder() {
      @Override
      public void onNext(byte[] value) {
        super.onNext(value);
        first.countDown();
      }
    };
    ClientCall<byte[], byte[]> call = channel().newCall(InteropService.FULL_DUPLEX, CallOptions.DEFAULT);
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(call, rec);
    out.onNext(request("size=31415", 27182));
    assertThat(first.await(20, TimeUnit.SECONDS)).isTrue();
    call.cancel("cancelled by the test", null);
    rec.await();
    assertThat(code(rec.error)).isEqualTo(Status.Code.CANCELLED);
    assertThat(rec.sizes()).containsExactly(31415);
  }

  @Test
  void timeoutOnSleepingServer() throws Exception {
    Recorder rec = new Recorder();
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(
        channel().newCall(InteropService.FULL_DUPLEX, CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.MILLISECONDS)), rec);
    try {
      out.onNext(request("size=31415;sleepMillis=50", 27182));
    } catch (IllegalStateException ignored) {
      // the call may be over already
    }
    rec.await();
    assertThat(code(rec.error)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
  }

  @Test
  void customMetadata() throws Exception {
    Metadata extra = new Metadata();
    extra.put(InteropService.ECHO_INITIAL, "test_initial_metadata_value");
    extra.put(InteropService.ECHO_TRAILING, new byte[] {(byte) 0xab, (byte) 0xab, (byte) 0xab});
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    Channel ch = ClientInterceptors.intercept(channel(), capture(headers, trailers), add(extra));
    ClientCalls.blockingUnaryCall(ch, InteropService.UNARY, CallOptions.DEFAULT, request("size=314159", 271828));
    assertThat(headers.get().get(InteropService.ECHO_INITIAL)).isEqualTo("test_initial_metadata_value");
    assertThat(trailers.get().get(InteropService.ECHO_TRAILING)).containsExactly((byte) 0xab, (byte) 0xab, (byte) 0xab);

    headers.set(null);
    trailers.set(null);
    Recorder rec = new Recorder();
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(ch.newCall(InteropService.FULL_DUPLEX,
        CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), rec);
    out.onNext(request("size=314159", 271828));
    out.onCompleted();
    rec.await();
    assertThat(headers.get().get(InteropService.ECHO_INITIAL)).isEqualTo("test_initial_metadata_value");
    assertThat(trailers.get().get(InteropService.ECHO_TRAILING)).containsExactly((byte) 0xab, (byte) 0xab, (byte) 0xab);
  }

  @Test
  void statusCodeAndMessage() throws Exception {
    assertThatThrownBy(() -> unary(InteropService.UNARY, CallOptions.DEFAULT, request("code=2;msg=test status message", 0)))
        .satisfies(e -> {
          assertThat(code(e)).isEqualTo(Status.Code.UNKNOWN);
          assertThat(((StatusRuntimeException) e).getStatus().getDescription()).isEqualTo("test status message");
        });
    Recorder rec = new Recorder();
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(
        channel().newCall(InteropService.FULL_DUPLEX, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), rec);
    out.onNext(request("code=2;msg=test status message", 0));
    out.onCompleted();
    rec.await();
    assertThat(((StatusRuntimeException) rec.error).getStatus().getDescription()).isEqualTo("test status message");
  }

  @Test
  void specialStatusMessage() {
    String msg = "\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n";
    assertThatThrownBy(() -> unary(InteropService.UNARY, CallOptions.DEFAULT, request("code=2;msg=" + msg, 0)))
        .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getDescription()).isEqualTo(msg));
  }

  @Test
  void unimplementedMethod() {
    assertThatThrownBy(() -> unary(InteropService.UNIMPLEMENTED, CallOptions.DEFAULT, new byte[0]))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.UNIMPLEMENTED));
  }

  @Test
  void unimplementedService() {
    assertThatThrownBy(() -> unary(InteropService.OTHER_SERVICE, CallOptions.DEFAULT, new byte[0]))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.UNIMPLEMENTED));
  }

  @Test
  void deadlineExceededUnary() {
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel(), InteropService.UNARY,
        CallOptions.DEFAULT.withDeadlineAfter(50, TimeUnit.MILLISECONDS), request("size=1;sleepMillis=500", 0)))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
  }

  @Test
  void deadlineExceededServerStreaming() throws Exception {
    Recorder rec = new Recorder();
    ClientCalls.asyncServerStreamingCall(channel().newCall(InteropService.STREAMING_OUTPUT,
        CallOptions.DEFAULT.withDeadlineAfter(300, TimeUnit.MILLISECONDS)), request("sizes=1,1,1,1,1,1,1,1,1,1;sleepMillis=100", 0), rec);
    rec.await();
    assertThat(code(rec.error)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(rec.values.size()).isBetween(1, 4);
  }

  @Test
  void deadlineInThePast() {
    int before = env().service.headers.size();
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel(), InteropService.UNARY,
        CallOptions.DEFAULT.withDeadlineAfter(-10, TimeUnit.SECONDS), request("size=1", 0)))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    assertThat(env().service.headers).as("nothing was sent").hasSize(before);
  }

  @Test
  void theServerSeesTheDeadlineAsGrpcTimeout() {
    int before = env().service.headers.size();
    unary(InteropService.EMPTY, CallOptions.DEFAULT, new byte[0]);
    String timeout = env().service.headers.get(before).get(InteropService.TIMEOUT);
    assertThat(timeout).as("about 20 s left, in grpc-timeout's units").matches("\\d+[mun]");
  }

  @Test
  void veryLargeRequest() {
    assertThat(unary(InteropService.UNARY, CallOptions.DEFAULT, request("size=10", 12 << 20))).hasSize(10);
  }

  @Test
  void veryLargeResponse() {
    assertThat(unary(InteropService.UNARY, CallOptions.DEFAULT.withMaxInboundMessageSize(16 << 20),
        request("size=" + (12 << 20), 0))).hasSize(12 << 20);
  }

  @Test
  void maxInboundSizeExactAndTooBig() {
    assertThat(unary(InteropService.UNARY, CallOptions.DEFAULT.withMaxInboundMessageSize(314159),
        request("size=314159", 0))).hasSize(314159);
    assertThatThrownBy(() -> unary(InteropService.UNARY, CallOptions.DEFAULT.withMaxInboundMessageSize(314158),
        request("size=314159", 0))).satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
  }

  @Test
  void maxOutboundSizeExactAndTooBig() {
    byte[] req = request("size=1", 271828);
    assertThat(unary(InteropService.UNARY, CallOptions.DEFAULT.withMaxOutboundMessageSize(req.length), req)).hasSize(1);
    // as with a plain grpc-java channel: the send fails locally and the call ends CANCELLED, the
    // cause saying the message was too large
    assertThatThrownBy(() -> unary(InteropService.UNARY, CallOptions.DEFAULT.withMaxOutboundMessageSize(req.length - 1), req))
        .satisfies(e -> {
          assertThat(code(e)).isEqualTo(Status.Code.CANCELLED);
          assertThat(java.util.Objects.toString(e.getCause())).contains("RESOURCE_EXHAUSTED");
        });
  }

  @Test
  void flowControlPushesBackOnTheSender() throws Exception {
    Recorder rec = new Recorder();
    AtomicReference<ClientCallStreamObserver<byte[]>> sender = new AtomicReference<>();
    CountDownLatch readyAgain = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean waiting = new java.util.concurrent.atomic.AtomicBoolean();
    ClientResponseObserver<byte[], byte[]> observer = new ClientResponseObserver<>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
        sender.set(requestStream);
        requestStream.setOnReadyHandler(() -> {
          if (waiting.get() && requestStream.isReady()) {
            readyAgain.countDown();
          }
        });
      }

      @Override
      public void onNext(byte[] value) {
        rec.onNext(value);
      }

      @Override
      public void onError(Throwable t) {
        rec.onError(t);
      }

      @Override
      public void onCompleted() {
        rec.onCompleted();
      }
    };
    int readBefore = env().service.flowControlRead.get();
    ClientCalls.asyncBidiStreamingCall(channel().newCall(InteropService.FLOW_CONTROL,
        CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS)), observer);
    await().atMost(Duration.ofSeconds(10)).until(() -> sender.get().isReady());
    int sent = 0;
    byte[] chunk = request("", 1 << 20);
    while (sender.get().isReady() && sent < 256) {
      sender.get().onNext(chunk);
      sent++;
    }
    assertThat(sender.get().isReady()).as("the server reads nothing: the sender is pushed back").isFalse();
    assertThat(sent).isLessThan(256);
    waiting.set(true);
    int sentTotal = sent;
    env().service.readOne.release(sentTotal);
    assertThat(readyAgain.await(20, TimeUnit.SECONDS)).as("ready again once the server reads").isTrue();
    await().atMost(Duration.ofSeconds(20)).until(() -> env().service.flowControlRead.get() - readBefore == sentTotal);
    sender.get().onCompleted();
    rec.await();
    assertThat(rec.error).isNull();
  }

  @Test
  void theClientSeesLocalAndRemoteAddresses() {
    AtomicReference<Attributes> attrs = new AtomicReference<>();
    ClientInterceptor capture = new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        ClientCall<Q, R> call = next.newCall(method, options);
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onHeaders(Metadata h) {
                attrs.set(call.getAttributes());
                super.onHeaders(h);
              }
            }, headers);
          }
        };
      }
    };
    ClientCalls.blockingUnaryCall(ClientInterceptors.intercept(channel(), capture), InteropService.EMPTY,
        CallOptions.DEFAULT, new byte[0]);
    InetSocketAddress remote = (InetSocketAddress) attrs.get().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    assertThat(remote.getPort()).isEqualTo(env().server.getPort());
    assertThat(attrs.get().get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR)).isInstanceOf(InetSocketAddress.class);
    assertThat(attrs.get().get(Grpc.TRANSPORT_ATTR_SSL_SESSION) != null).as("an SSL session with mTLS").isEqualTo(mode.tls);
  }

  @Test
  void interceptorsOfTheChannelRunOncePerLogicalCall() {
    java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
    ClientInterceptor counting = new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        seen.incrementAndGet();
        return next.newCall(method, options);
      }
    };
    ManagedChannel ch = mode.target
        ? ManagedChannelBuilder.forTarget("meshup://" + env().clientMesh.serviceName() + "/interop").intercept(counting).build()
        : MeshChannels.builder(env().clientMesh, "interop").intercept(counting).build();
    try {
      for (int i = 0; i < 5; i++) {
        ClientCalls.blockingUnaryCall(ch, InteropService.EMPTY, CallOptions.DEFAULT, new byte[0]);
      }
      assertThat(seen.get()).isEqualTo(5);
    } finally {
      ch.shutdownNow();
    }
  }

  static ClientInterceptor capture(AtomicReference<Metadata> headers, AtomicReference<Metadata> trailers) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata h) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onHeaders(Metadata m) {
                if (headers != null) {
                  headers.set(m);
                }
                super.onHeaders(m);
              }

              @Override
              public void onClose(Status status, Metadata t) {
                if (trailers != null) {
                  trailers.set(t);
                }
                super.onClose(status, t);
              }
            }, h);
          }
        };
      }
    };
  }

  static ClientInterceptor add(Metadata extra) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata h) {
            h.merge(extra);
            super.start(listener, h);
          }
        };
      }
    };
  }


}
