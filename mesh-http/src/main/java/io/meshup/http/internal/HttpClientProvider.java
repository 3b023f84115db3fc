package io.meshup.http.internal;

import io.meshup.core.Mesh;
import io.meshup.core.spi.ClientProvider;
import io.meshup.http.MeshHttp;
import io.meshup.http.MeshHttpClient;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Makes {@link MeshHttpClient}s for {@code @MeshClient} fields and parameters, one per mesh for
 * the {@code MeshClients} call this instance serves (every field in it shares that client and its
 * connections). The client is not bound to the annotated service: a request's URI host names its
 * destination. Not thread-safe; it need not be.
 */
public final class HttpClientProvider implements ClientProvider {
  private final Map<Mesh, MeshHttpClient> clients = new IdentityHashMap<>();

  @Override
  public boolean supports(Class<?> type) {
    return type == MeshHttpClient.class;
  }

  @Override
  public Object create(Mesh mesh, String service, Class<?> type) {
    return clients.computeIfAbsent(mesh, MeshHttp::client);
  }

  @Override
  public String supportedTypes() {
    return MeshHttpClient.class.getName();
  }
}
