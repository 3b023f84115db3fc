package io.meshup.http.internal;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLSession;

/**
 * The response of a route's injected abort (the configured status, a one-line text body, and
 * header {@code x-meshup-fault: abort}) or of its direct response or redirect; the request never
 * left the process. The body goes through
 * the caller's {@code BodyHandler}, so any handler works. Immutable.
 */
final class InjectedResponse<T> implements HttpResponse<T> {
  static final String FAULT_HEADER = "x-meshup-fault";

  private final HttpRequest request;
  private final int status;
  private final HttpHeaders headers;
  private final T body;

  private InjectedResponse(HttpRequest request, int status, HttpHeaders headers, T body) {
    this.request = request;
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** Runs {@code handler} over the abort's body and completes with the response. */
  static <T> CompletableFuture<HttpResponse<T>> of(HttpRequest request, int status, String route,
      HttpResponse.BodyHandler<T> handler) {
    byte[] text = ("meshup: fault injected by route " + route).getBytes(StandardCharsets.UTF_8);
    HttpHeaders headers = HttpHeaders.of(Map.of(
        "content-type", List.of("text/plain; charset=utf-8"),
        "content-length", List.of(Integer.toString(text.length)),
        FAULT_HEADER, List.of("abort")), (n, v) -> true);
    return of(request, status, headers, text, handler);
  }

  /**
   * A route's direct response or redirect: its status, its body (none for null), {@code Location}
   * for a redirect, then the route's response header changes; the request never left the process.
   */
  static <T> CompletableFuture<HttpResponse<T>> direct(HttpRequest request, int status, byte[] body, String location,
      List<String> extra, java.util.function.Consumer<EditedHeaders> edits, HttpResponse.BodyHandler<T> handler) {
    byte[] text = body == null ? new byte[0] : body;
    EditedHeaders h = new EditedHeaders(HttpHeaders.of(Map.of(), (n, v) -> true));
    h.set("content-length", Integer.toString(text.length));
    if (body != null) {
      h.set("content-type", "text/plain");
    }
    if (location != null) {
      h.set("location", location);
    }
    for (int i = 0; i + 1 < extra.size(); i += 2) {
      h.set(extra.get(i), extra.get(i + 1));
    }
    edits.accept(h);
    return of(request, status, h.headers(), text, handler);
  }

  private static <T> CompletableFuture<HttpResponse<T>> of(HttpRequest request, int status, HttpHeaders headers,
      byte[] text, HttpResponse.BodyHandler<T> handler) {
    HttpResponse.BodySubscriber<T> subscriber = handler.apply(new HttpResponse.ResponseInfo() {
      @Override
      public int statusCode() {
        return status;
      }

      @Override
      public HttpHeaders headers() {
        return headers;
      }

      @Override
      public HttpClient.Version version() {
        return HttpClient.Version.HTTP_1_1;
      }
    });
    subscriber.onSubscribe(new Flow.Subscription() {
      private final AtomicBoolean done = new AtomicBoolean();

      @Override
      public void request(long n) {
        if (!done.compareAndSet(false, true)) {
          return;
        }
        if (n <= 0) {
          subscriber.onError(new IllegalArgumentException("non-positive request: " + n));
          return;
        }
        if (text.length > 0) {
          subscriber.onNext(List.of(ByteBuffer.wrap(text)));
        }
        subscriber.onComplete();
      }

      @Override
      public void cancel() {
        done.set(true);
      }
    });
    return subscriber.getBody().toCompletableFuture()
        .thenApply(b -> new InjectedResponse<>(request, status, headers, b));
  }

  @Override
  public int statusCode() {
    return status;
  }

  @Override
  public HttpRequest request() {
    return request;
  }

  @Override
  public Optional<HttpResponse<T>> previousResponse() {
    return Optional.empty();
  }

  @Override
  public HttpHeaders headers() {
    return headers;
  }

  @Override
  public T body() {
    return body;
  }

  @Override
  public Optional<SSLSession> sslSession() {
    return Optional.empty();
  }

  @Override
  public URI uri() {
    return request.uri();
  }

  @Override
  public HttpClient.Version version() {
    return HttpClient.Version.HTTP_1_1;
  }

  @Override
  public String toString() {
    return "(" + request.method() + " " + request.uri() + ") " + status + " (injected by meshup)";
  }
}
