package io.meshup.http.internal;

import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.Function;

/**
 * The body of a response whose fate the engine decides a moment later ({@code Verdict.LATER}):
 * nothing is read (no demand is signalled) until {@link #decide} hands the body to the caller's
 * subscriber or discards it, so nothing is buffered either. Signals that came before the verdict
 * (the subscription, an early end) are passed on when it comes, in their order.
 */
final class DeferredBody<T> implements HttpResponse.BodySubscriber<T> {
  private final HttpResponse.ResponseInfo info;
  private final Function<HttpResponse.ResponseInfo, HttpResponse.BodySubscriber<T>> caller;
  private final CompletableFuture<T> body = new CompletableFuture<>();
  // guarded by this
  private volatile HttpResponse.BodySubscriber<T> target;
  private Flow.Subscription subscription;
  private boolean ended;
  private Throwable error;

  DeferredBody(HttpResponse.ResponseInfo info, Function<HttpResponse.ResponseInfo, HttpResponse.BodySubscriber<T>> caller) {
    this.info = info;
    this.caller = caller;
  }

  /** Hands the body to the caller's subscriber ({@code commit}) or discards it. */
  void decide(boolean commit) {
    HttpResponse.BodySubscriber<T> t;
    try {
      t = commit ? caller.apply(info) : HttpResponse.BodySubscribers.replacing(null);
    } catch (RuntimeException | Error e) {
      body.completeExceptionally(e);
      synchronized (this) {
        if (subscription != null) {
          subscription.cancel();
        }
        target = HttpResponse.BodySubscribers.replacing(null); // later signals go nowhere
      }
      return;
    }
    t.getBody().whenComplete((v, e) -> {
      if (e != null) {
        body.completeExceptionally(e);
      } else {
        body.complete(v);
      }
    });
    synchronized (this) {
      target = t;
      if (subscription != null) {
        t.onSubscribe(subscription);
      }
      if (ended) {
        if (error != null) {
          t.onError(error);
        } else {
          t.onComplete();
        }
      }
    }
  }

  @Override
  public CompletionStage<T> getBody() {
    return body;
  }

  @Override
  public synchronized void onSubscribe(Flow.Subscription s) {
    subscription = s;
    if (target != null) {
      target.onSubscribe(s);
    }
  }

  @Override
  public void onNext(List<ByteBuffer> items) {
    target.onNext(items); // only after demand, which only the decided target signals
  }

  @Override
  public synchronized void onError(Throwable e) {
    if (target != null) {
      target.onError(e);
      return;
    }
    ended = true;
    error = e;
  }

  @Override
  public synchronized void onComplete() {
    if (target != null) {
      target.onComplete();
      return;
    }
    ended = true;
  }
}
