package io.meshup.spring;

import io.meshup.http.MeshHttpClient;
import io.meshup.spring.internal.JdkRequests;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Objects;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.client.AbstractClientHttpRequest;
import org.springframework.http.client.ClientHttpRequest;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpResponse;

/**
 * Sends Spring's blocking HTTP clients' requests ({@code RestClient}, {@code RestTemplate})
 * through the mesh with a {@link MeshHttpClient}: the URI's host is the destination service
 * ({@code http://payments/charges/42}, no port), and every request is routed, balanced, bounded
 * and retried by the destination's policy as {@code MeshHttpClient.send} does, on the caller's
 * thread.
 *
 * <pre>{@code
 * RestClient payments = RestClient.builder()
 *     .baseUrl("http://payments")
 *     .requestFactory(new MeshClientHttpRequestFactory(meshHttpClient))
 *     .build();
 * }</pre>
 *
 * <p>The starter injects such a client into {@code @MeshClient("payments") RestClient} fields and
 * parameters. The request body is buffered, so a retried request is sent whole again. The
 * response body streams (the route timeout ends when the headers arrive). Failures are
 * {@code MeshHttpClient}'s: {@code MeshUnavailableException} (breaker open, no endpoint) and
 * {@code MeshNoRouteException} are {@code IOException}s, which Spring reports as
 * {@code ResourceAccessException}. Thread-safe.
 */
public final class MeshClientHttpRequestFactory implements ClientHttpRequestFactory {
  private final MeshHttpClient client;
  private volatile Duration readTimeout;

  /** A factory sending with {@code client}. */
  public MeshClientHttpRequestFactory(MeshHttpClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  /**
   * Bounds each request by this timeout as well as by its route's ({@code HttpRequest.timeout}: the
   * earlier of the two ends it); none by default.
   */
  public void setReadTimeout(Duration timeout) {
    this.readTimeout = timeout;
  }

  @Override
  public ClientHttpRequest createRequest(URI uri, HttpMethod httpMethod) {
    return new Request(uri, httpMethod);
  }

  private final class Request extends AbstractClientHttpRequest {
    private final URI uri;
    private final HttpMethod method;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream(256);

    Request(URI uri, HttpMethod method) {
      this.uri = uri;
      this.method = method;
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
    protected java.io.OutputStream getBodyInternal(HttpHeaders headers) {
      return body;
    }

    @Override
    protected ClientHttpResponse executeInternal(HttpHeaders headers) throws IOException {
      java.net.http.HttpRequest request = JdkRequests.request(method, uri, headers, body.toByteArray(), readTimeout);
      try {
        return new Response(client.send(request, HttpResponse.BodyHandlers.ofInputStream()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        InterruptedIOException io = new InterruptedIOException("meshup: interrupted while sending " + method + " " + uri);
        io.initCause(e);
        throw io;
      }
    }
  }

  private static final class Response implements ClientHttpResponse {
    private final HttpResponse<InputStream> response;
    private HttpHeaders headers;

    Response(HttpResponse<InputStream> response) {
      this.response = response;
    }

    @Override
    public HttpStatusCode getStatusCode() {
      return HttpStatusCode.valueOf(response.statusCode());
    }

    @Override
    public String getStatusText() {
      return "";
    }

    @Override
    public HttpHeaders getHeaders() {
      if (headers == null) {
        headers = JdkRequests.headers(response);
      }
      return headers;
    }

    @Override
    public InputStream getBody() {
      return response.body();
    }

    @Override
    public void close() {
      try {
        response.body().close();
      } catch (IOException ignored) {
        // the connection is released either way
      }
    }
  }
}
