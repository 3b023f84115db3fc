package io.meshup.http;

import io.meshup.core.Mesh;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.tls.TlsPeers;
import io.meshup.http.internal.HttpTransport;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.util.Objects;
import java.util.Optional;

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
   * per destination the {@code connectionPool.tcp.connectTimeout} of its DestinationRule. When the
   * mesh has certificates ({@link Mesh#certificates()}), every attempt goes over mutual TLS
   * ({@code https} to the endpoint): this workload's certificate is presented, and the server must
   * present the SPIFFE ID of the destination service in this workload's trust domain (its host
   * name is never checked). Every new connection handshakes afresh with the current credentials.
   */
  public static MeshHttpClient client(Mesh mesh) {
    return new MeshHttpClient(new HttpTransport(Objects.requireNonNull(mesh, "mesh"), null));
  }

  /**
   * A client that sends every attempt with {@code httpClient}, configured as you like (executor,
   * version, proxy-free, timeouts). The DestinationRule's {@code connectionPool} settings are then
   * not applied: the JDK fixes them per {@code HttpClient}. Do not let it follow redirects to
   * other hosts: such a request would leave the mesh.
   *
   * @throws IllegalArgumentException when the mesh has certificates: a given client can neither
   *     present them nor verify each destination's SPIFFE ID; use {@link #client(Mesh)}
   */
  public static MeshHttpClient client(Mesh mesh, HttpClient httpClient) {
    return new MeshHttpClient(new HttpTransport(Objects.requireNonNull(mesh, "mesh"),
        Objects.requireNonNull(httpClient, "httpClient")));
  }

  /**
   * The SPIFFE identity the server of {@code response} presented, or empty when the response came
   * over plaintext (or never left the process, as an injected abort). Responses of a
   * {@link MeshHttpClient} with mutual TLS always have one: the handshake verified it.
   */
  public static Optional<WorkloadIdentity> serverIdentity(HttpResponse<?> response) {
    return response.sslSession().map(TlsPeers::identityOf);
  }
}
