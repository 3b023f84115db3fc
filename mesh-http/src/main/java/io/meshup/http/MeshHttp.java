package io.meshup.http;

import io.meshup.core.Mesh;
import io.meshup.http.internal.HttpTransport;
import java.net.http.HttpClient;
import java.util.Objects;

/**
 * Entry point of mesh-http: HTTP clients whose requests are routed through a {@link Mesh}.
 *
 * <pre>{@code
 * MeshHttpClient http = MeshHttp.client(mesh);
 * HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://payments/charges/42")).build(),
 *     HttpResponse.BodyHandlers.ofString());
 * }</pre>
 */
public final class MeshHttp {
  private MeshHttp() {}

  /**
   * A client that sends with {@link HttpClient}s of its own: HTTP/1.1, redirects not followed, and
   * per destination the {@code connectionPool.tcp.connectTimeout} of its DestinationRule.
   */
  public static MeshHttpClient client(Mesh mesh) {
    return new MeshHttpClient(new HttpTransport(Objects.requireNonNull(mesh, "mesh"), null));
  }

  /**
   * A client that sends every attempt with {@code httpClient}, configured as you like (executor,
   * version, proxy-free, timeouts). The DestinationRule's {@code connectionPool} settings are then
   * not applied: the JDK fixes them per {@code HttpClient}. Do not let it follow redirects to
   * other hosts: such a request would leave the mesh.
   */
  public static MeshHttpClient client(Mesh mesh, HttpClient httpClient) {
    return new MeshHttpClient(new HttpTransport(Objects.requireNonNull(mesh, "mesh"),
        Objects.requireNonNull(httpClient, "httpClient")));
  }
}
