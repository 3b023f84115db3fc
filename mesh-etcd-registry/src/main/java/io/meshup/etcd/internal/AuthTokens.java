package io.meshup.etcd.internal;

import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.meshup.etcd.internal.proto.AuthenticateRequest;
import io.meshup.etcd.internal.proto.AuthenticateResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * etcd password authentication: an {@code Authenticate} call yields a token, which every other call
 * carries in its {@code token} header. The token is fetched on first use and kept until a call is
 * refused as unauthenticated (etcd's simple tokens expire, and a restarted member forgets them);
 * then the next call authenticates again. Waiting for a token never blocks a thread: calls are held
 * by gRPC until the token arrives. The password goes only into the {@code Authenticate} request,
 * never into a header, a log line or an error message. Thread-safe.
 */
final class AuthTokens extends CallCredentials {
  static final Metadata.Key<String> TOKEN = Metadata.Key.of("token", Metadata.ASCII_STRING_MARSHALLER);

  private final Channel channel;
  private final String username;
  private final String password;
  private final Duration timeout;
  private final AtomicReference<CompletableFuture<String>> current = new AtomicReference<>();

  AuthTokens(Channel channel, String username, String password, Duration timeout) {
    this.channel = channel;
    this.username = username;
    this.password = password;
    this.timeout = timeout;
  }

  @Override
  public void applyRequestMetadata(RequestInfo info, Executor appExecutor, MetadataApplier applier) {
    token().whenComplete((token, error) -> {
      if (error != null) {
        applier.fail(Status.UNAUTHENTICATED.withDescription("etcd: cannot authenticate as user '" + username + "': "
            + describe(error)));
        return;
      }
      Metadata headers = new Metadata();
      headers.put(TOKEN, token);
      applier.apply(headers);
    });
  }

  /** Drops the token in use, so the next call authenticates again. */
  void invalidate() {
    CompletableFuture<String> f = current.get();
    if (f != null && f.isDone()) {
      current.compareAndSet(f, null);
    }
  }

  private CompletableFuture<String> token() {
    while (true) {
      CompletableFuture<String> f = current.get();
      if (f != null && !f.isCompletedExceptionally()) {
        return f;
      }
      CompletableFuture<String> fresh = new CompletableFuture<>();
      if (current.compareAndSet(f, fresh)) {
        authenticate(fresh);
        return fresh;
      }
    }
  }

  private void authenticate(CompletableFuture<String> result) {
    AuthenticateRequest request = AuthenticateRequest.newBuilder().setName(username).setPassword(password).build();
    // the channel's own calls carry these credentials; this one must not wait for itself
    ClientCalls.asyncUnaryCall(channel.newCall(EtcdMethods.AUTHENTICATE,
        CallOptions.DEFAULT.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)), request,
        new StreamObserver<AuthenticateResponse>() {
          @Override
          public void onNext(AuthenticateResponse value) {
            result.complete(value.getToken());
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            result.completeExceptionally(new IllegalStateException("Authenticate returned no token"));
          }
        });
  }

  private static String describe(Throwable t) {
    Throwable c = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    if (c instanceof io.grpc.StatusRuntimeException s) {
      return s.getStatus().getCode() + (s.getStatus().getDescription() == null ? "" : " " + s.getStatus().getDescription());
    }
    return c.toString();
  }

  @Override
  public String toString() {
    return "AuthTokens[user " + username + ", password not shown]";
  }
}
