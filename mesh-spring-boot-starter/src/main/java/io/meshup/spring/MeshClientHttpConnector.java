package io.meshup.spring;

import io.meshup.http.MeshHttpClient;
import io.meshup.spring.internal.JdkRequests;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.HttpCookie;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ResponseCookie;
import org.springframework.http.client.reactive.AbstractClientHttpRequest;
import org.springframework.http.client.reactive.ClientHttpConnector;
import org.springframework.http.client.reactive.ClientHttpRequest;
import org.springframework.http.client.reactive.ClientHttpResponse;
import org.springframework.util.LinkedMultiValueMap;
import org.springframework.util.MultiValueMap;
import reactor.adapter.JdkFlowAdapter;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Sends {@code WebClient} requests through the mesh with a {@link MeshHttpClient}'s
 * {@code sendAsync}: the URI's host is the destination service ({@code http://payments/...}, no
 * port), and every request is routed, balanced, bounded and retried by the destination's policy
 * without blocking (backoffs and delays run on the mesh's scheduler).
 *
 * <pre>{@code
 * WebClient payments = WebClient.builder()
 *     .baseUrl("http://payments")
 *     .clientConnector(new MeshClientHttpConnector(meshHttpClient))
 *     .build();
 * }</pre>
 *
 * <p>The starter injects such a client into {@code @MeshClient("payments") WebClient} fields and
 * parameters. The request body is joined into one buffer before sending, so a retry sends it whole
 * again; the response body streams. Cancelling the subscription cancels the attempt in flight.
 * Thread-safe.
 */
public final class MeshClientHttpConnector implements ClientHttpConnector {
  private final MeshHttpClient client;
  private final DataBufferFactory buffers = DefaultDataBufferFactory.sharedInstance;

  /** A connector sending with {@code client}. */
  public MeshClientHttpConnector(MeshHttpClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public Mono<ClientHttpResponse> connect(HttpMethod method, URI uri,
      Function<? super ClientHttpRequest, Mono<Void>> requestCallback) {
    Request request = new Request(method, uri);
    return requestCallback.apply(request)
        .then(Mono.defer(() -> Mono.fromFuture(client.sendAsync(request.toJdk(), HttpResponse.BodyHandlers.ofPublisher()))))
        .map(r -> new Response(r, buffers));
  }

  private final class Request extends AbstractClientHttpRequest {
    private final HttpMethod method;
    private final URI uri;
    private byte[] body;

    Request(HttpMethod method, URI uri) {
      this.method = method;
      this.uri = uri;
    }

    java.net.http.HttpRequest toJdk() {
      HttpHeaders headers = new HttpHeaders();
      headers.putAll(getHeaders());
      if (!getCookies().isEmpty()) {
        StringBuilder b = new StringBuilder();
        for (List<HttpCookie> cs : getCookies().values()) {
          for (HttpCookie c : cs) {
            b.append(b.isEmpty() ? "" : "; ").append(c.getName()).append('=').append(c.getValue());
          }
        }
        headers.set(HttpHeaders.COOKIE, b.toString());
      }
      return JdkRequests.request(method, uri, headers, body, null);
    }

    @Override
    public HttpMethod getMethod() {
      return method;
    }

    @Override
    public URI getURI() {
      return uri;
    }

    @Override
    public DataBufferFactory bufferFactory() {
      return buffers;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T getNativeRequest() {
      return (T) this;
    }

    @Override
    public Mono<Void> writeWith(Publisher<? extends DataBuffer> bodyPublisher) {
      return doCommit(() -> DataBufferUtils.join(bodyPublisher).doOnNext(joined -> {
        byte[] bytes = new byte[joined.readableByteCount()];
        joined.read(bytes);
        DataBufferUtils.release(joined);
        body = bytes;
      }).then());
    }

    @Override
    public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> bodyPublisher) {
      return writeWith(Flux.from(bodyPublisher).concatMap(Flux::from));
    }

    @Override
    public Mono<Void> setComplete() {
      return doCommit();
    }

    @Override
    protected void applyHeaders() {
      // read in toJdk: the JDK request is built after the body is written
    }

    @Override
    protected void applyCookies() {
      // read in toJdk
    }
  }

  private static final class Response implements ClientHttpResponse {
    private final HttpResponse<Flow.Publisher<List<ByteBuffer>>> response;
    private final DataBufferFactory buffers;
    private final HttpHeaders headers;

    Response(HttpResponse<Flow.Publisher<List<ByteBuffer>>> response, DataBufferFactory buffers) {
      this.response = response;
      this.buffers = buffers;
      this.headers = HttpHeaders.readOnlyHttpHeaders(JdkRequests.headers(response));
    }

    @Override
    public HttpStatusCode getStatusCode() {
      return HttpStatusCode.valueOf(response.statusCode());
    }

    @Override
    public MultiValueMap<String, ResponseCookie> getCookies() {
      return new LinkedMultiValueMap<>();
    }

    @Override
    public HttpHeaders getHeaders() {
      return headers;
    }

    @Override
    public Flux<DataBuffer> getBody() {
      return JdkFlowAdapter.flowPublisherToFlux(response.body())
          .concatMapIterable(list -> list)
          .map(buffers::wrap);
    }
  }
}
