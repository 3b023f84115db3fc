package io.meshup.extauthz;

import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.DeniedHttpResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.envoyproxy.envoy.type.v3.StatusCode;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * An ext_authz server built on Envoy's published protos ({@code envoy.service.auth.v3}), as OPA's
 * Envoy plugin is: it decides by the request's path. {@code /allow...} allows and adds
 * {@code x-ext-user: alice}; {@code /deny...} denies 403 with a body and {@code x-ext-reason};
 * {@code /unauth...} denies 401; {@code /error...} fails the RPC; {@code /slow...} never answers;
 * {@code /hold...} answers OK once {@link #release} counts down; anything else is allowed.
 */
final class ExtAuthzServer implements AutoCloseable {
  final List<CheckRequest> checks = new CopyOnWriteArrayList<>();
  final CountDownLatch holding = new CountDownLatch(1);
  final CountDownLatch release = new CountDownLatch(1);
  private final Server server;

  ExtAuthzServer() throws IOException {
    server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .addService(new AuthorizationGrpc.AuthorizationImplBase() {
          @Override
          public void check(CheckRequest request, StreamObserver<CheckResponse> answer) {
            checks.add(request);
            String path = request.getAttributes().getRequest().getHttp().getPath();
            if (path.startsWith("/allow")) {
              answer.onNext(CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                  .setOkResponse(OkHttpResponse.newBuilder().addHeaders(header("x-ext-user", "alice"))).build());
              answer.onCompleted();
            } else if (path.startsWith("/deny")) {
              answer.onNext(denied(StatusCode.Forbidden, "denied by the external authorizer's policy"));
              answer.onCompleted();
            } else if (path.startsWith("/unauth")) {
              answer.onNext(denied(StatusCode.Unauthorized, "log in first"));
              answer.onCompleted();
            } else if (path.startsWith("/error")) {
              answer.onError(Status.INTERNAL.withDescription("the policy engine failed").asRuntimeException());
            } else if (path.startsWith("/slow")) {
              // never answers: the mesh's timeout must decide
            } else if (path.startsWith("/hold")) {
              holding.countDown();
              new Thread(() -> {
                try {
                  release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                answer.onNext(CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(0)).build());
                answer.onCompleted();
              }).start();
            } else {
              answer.onNext(CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(0)).build());
              answer.onCompleted();
            }
          }
        }).build().start();
  }

  private static HeaderValueOption header(String name, String value) {
    return HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(name).setValue(value)).build();
  }

  private static CheckResponse denied(StatusCode code, String body) {
    return CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(7))
        .setDeniedResponse(DeniedHttpResponse.newBuilder().setStatus(HttpStatus.newBuilder().setCode(code))
            .setBody(body).addHeaders(header("x-ext-reason", "policy")))
        .build();
  }

  int port() {
    return server.getPort();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
