package io.meshup.http.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Flow;
import org.junit.jupiter.api.Test;

/**
 * A response body whose verdict comes after its headers: nothing is asked of the connection before
 * the verdict; then the caller's subscriber gets every signal in order, or the body is drained and
 * dropped.
 */
class DeferredBodyTest {
  static final HttpResponse.ResponseInfo INFO = new HttpResponse.ResponseInfo() {
    @Override
    public int statusCode() {
      return 503;
    }

    @Override
    public HttpHeaders headers() {
      return HttpHeaders.of(Map.of(), (a, b) -> true);
    }

    @Override
    public HttpClient.Version version() {
      return HttpClient.Version.HTTP_1_1;
    }
  };

  /** A subscription that records demand and cancellation. */
  static final class Recorded implements Flow.Subscription {
    final List<Long> requested = new ArrayList<>();
    boolean cancelled;

    @Override
    public void request(long n) {
      requested.add(n);
    }

    @Override
    public void cancel() {
      cancelled = true;
    }
  }

  static List<ByteBuffer> bytes(String s) {
    return List.of(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void nothingIsReadBeforeTheVerdictThenTheCallerGetsTheWholeBody() {
    List<HttpResponse.ResponseInfo> asked = new ArrayList<>();
    DeferredBody<String> d = new DeferredBody<>(INFO, info -> {
      asked.add(info);
      return HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
    });
    Recorded s = new Recorded();
    d.onSubscribe(s);
    assertThat(s.requested).as("no demand before the verdict").isEmpty();
    assertThat(asked).as("the caller's handler is not asked before the verdict").isEmpty();

    d.decide(true);
    assertThat(asked).containsExactly(INFO);
    assertThat(s.requested).as("the caller's subscriber asks").isNotEmpty();
    d.onNext(bytes("v1"));
    d.onNext(bytes("a"));
    d.onComplete();
    assertThat(d.getBody().toCompletableFuture().join()).isEqualTo("v1a");
  }

  @Test
  void anEndBeforeTheVerdictIsPassedOnAfterTheSubscription() {
    DeferredBody<String> d = new DeferredBody<>(INFO, info -> HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8));
    d.onSubscribe(new Recorded());
    d.onComplete(); // an empty body may end with no demand
    d.decide(true);
    assertThat(d.getBody().toCompletableFuture().join()).isEmpty();

    DeferredBody<String> failed = new DeferredBody<>(INFO, info -> HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8));
    failed.onSubscribe(new Recorded());
    failed.onError(new java.io.IOException("reset"));
    failed.decide(true);
    assertThat(failed.getBody().toCompletableFuture()).isCompletedExceptionally();
  }

  @Test
  void aVerdictBeforeTheSubscriptionWaitsForIt() {
    DeferredBody<String> d = new DeferredBody<>(INFO, info -> HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8));
    d.decide(true);
    Recorded s = new Recorded();
    d.onSubscribe(s);
    assertThat(s.requested).isNotEmpty();
    d.onNext(bytes("ok"));
    d.onComplete();
    assertThat(d.getBody().toCompletableFuture().join()).isEqualTo("ok");
  }

  @Test
  void aDiscardedBodyIsDrainedNeverHandedToTheCaller() {
    List<HttpResponse.ResponseInfo> asked = new ArrayList<>();
    DeferredBody<String> d = new DeferredBody<>(INFO, info -> {
      asked.add(info);
      return HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
    });
    Recorded s = new Recorded();
    d.onSubscribe(s);
    d.decide(false);
    assertThat(asked).isEmpty();
    assertThat(s.requested).as("drained so the connection can be reused").containsExactly(Long.MAX_VALUE);
    d.onNext(bytes("ignored"));
    d.onComplete();
    assertThat(d.getBody().toCompletableFuture().join()).isNull();
  }

  @Test
  void aCallerHandlerThatThrowsFailsTheBodyAndCancelsTheRead() {
    DeferredBody<String> d = new DeferredBody<>(INFO, info -> {
      throw new IllegalStateException("handler refused");
    });
    Recorded s = new Recorded();
    d.onSubscribe(s);
    d.decide(true);
    assertThat(s.cancelled).isTrue();
    assertThat(d.getBody().toCompletableFuture()).isCompletedExceptionally();
  }
}
