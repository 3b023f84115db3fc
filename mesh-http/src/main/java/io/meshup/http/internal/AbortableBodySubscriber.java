package io.meshup.http.internal;

import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * A body subscriber that another thread can end: {@link #abort} cancels the subscription and fails
 * the delegate, so a blocking {@code HttpClient.send} reading a stalled body returns. Used for the
 * route deadline on the blocking path, where no future can be cancelled. Signals to the delegate
 * are serialized; none follows the first terminal one.
 */
final class AbortableBodySubscriber<T> implements HttpResponse.BodySubscriber<T> {
  private final HttpResponse.BodySubscriber<T> delegate;
  private Flow.Subscription subscription;
  private Throwable abortedWith;
  private boolean terminated;

  AbortableBodySubscriber(HttpResponse.BodySubscriber<T> delegate) {
    this.delegate = delegate;
  }

  /** Ends the body with {@code cause}, now or as soon as it is subscribed. */
  synchronized void abort(Throwable cause) {
    if (terminated || abortedWith != null) {
      return;
    }
    abortedWith = cause;
    if (subscription != null) {
      terminated = true;
      subscription.cancel();
      delegate.onError(cause);
    }
  }

  @Override
  public CompletionStage<T> getBody() {
    return delegate.getBody();
  }

  @Override
  public synchronized void onSubscribe(Flow.Subscription s) {
    subscription = s;
    delegate.onSubscribe(s);
    if (abortedWith != null && !terminated) {
      terminated = true;
      s.cancel();
      delegate.onError(abortedWith);
    }
  }

  @Override
  public synchronized void onNext(List<ByteBuffer> item) {
    if (!terminated) {
      delegate.onNext(item);
    }
  }

  @Override
  public synchronized void onError(Throwable t) {
    if (!terminated) {
      terminated = true;
      delegate.onError(t);
    }
  }

  @Override
  public synchronized void onComplete() {
    if (!terminated) {
      terminated = true;
      delegate.onComplete();
    }
  }
}
