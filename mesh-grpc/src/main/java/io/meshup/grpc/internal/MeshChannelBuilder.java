package io.meshup.grpc.internal;

import io.grpc.ClientInterceptor;
import io.grpc.CompressorRegistry;
import io.grpc.DecompressorRegistry;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolver;
import io.meshup.core.Mesh;
import io.meshup.core.internal.bootstrap.OpenMeshes;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Builds mesh channels: what {@code MeshChannels.builder(mesh, service)} returns, and what
 * grpc-java's {@code ManagedChannelBuilder.forTarget("meshup:///payments")} gives through
 * {@link MeshChannelProvider}. Interceptors run once per logical call (before the engine), an
 * executor set here runs the calls' callbacks, and {@code maxInboundMessageSize} and
 * {@code overrideAuthority} apply to every call. Connection settings (TLS, keepalive, idle
 * timeout, user agent, compressor registries) belong to the mesh's shared connections and its
 * policy, so the builder accepts and ignores them; name resolvers and load-balancing policies are
 * the mesh's, so those are refused. Not thread-safe, as grpc-java's builders.
 */
public final class MeshChannelBuilder extends ManagedChannelBuilder<MeshChannelBuilder> {
  /** The scheme of mesh targets. */
  public static final String SCHEME = "meshup";

  private final Mesh mesh;
  private final String meshName;
  private final String service;
  private final List<ClientInterceptor> interceptors = new ArrayList<>();
  private Executor executor;
  private String authority;
  private int maxInboundMessageSize;

  private MeshChannelBuilder(Mesh mesh, String meshName, String service) {
    this.mesh = mesh;
    this.meshName = meshName;
    this.service = service;
  }

  /** A builder of channels to {@code service} on {@code mesh}. */
  public static MeshChannelBuilder forService(Mesh mesh, String service) {
    return new MeshChannelBuilder(mesh, null, service);
  }

  /**
   * A builder for a target {@code meshup:///<service>} (the only open mesh) or
   * {@code meshup://<this service>/<service>} (the open mesh of that service); the mesh is found
   * when the channel is built.
   *
   * @throws IllegalArgumentException when the target is not such a target
   */
  public static MeshChannelBuilder forTarget(String target) {
    URI uri;
    try {
      uri = new URI(target);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("meshup: '" + target + "' is not a URI: " + e.getMessage(), e);
    }
    if (!SCHEME.equalsIgnoreCase(uri.getScheme())) {
      throw new IllegalArgumentException("meshup: '" + target + "' is not a " + SCHEME + ": target");
    }
    String path = uri.isOpaque() ? uri.getSchemeSpecificPart() : uri.getPath();
    String service = path == null ? "" : path.startsWith("/") ? path.substring(1) : path;
    if (service.isEmpty() || service.contains("/") || uri.getQuery() != null || uri.getFragment() != null
        || uri.getPort() != -1) {
      throw new IllegalArgumentException("meshup: '" + target + "' names no destination service; write "
          + SCHEME + ":///<service> (the only mesh open) or " + SCHEME + "://<this service>/<service>");
    }
    return new MeshChannelBuilder(null, uri.getAuthority(), service);
  }

  /** True for a target this builder takes. */
  static boolean isMeshTarget(String target) {
    return target != null && target.regionMatches(true, 0, SCHEME + ":", 0, SCHEME.length() + 1);
  }

  @Override
  public MeshChannelBuilder directExecutor() {
    return executor(Runnable::run);
  }

  @Override
  public MeshChannelBuilder executor(Executor executor) {
    this.executor = executor;
    return this;
  }

  @Override
  public MeshChannelBuilder intercept(List<ClientInterceptor> list) {
    interceptors.addAll(list);
    return this;
  }

  @Override
  public MeshChannelBuilder intercept(ClientInterceptor... list) {
    return intercept(Arrays.asList(list));
  }

  @Override
  public MeshChannelBuilder userAgent(String userAgent) {
    return this;
  }

  @Override
  public MeshChannelBuilder overrideAuthority(String authority) {
    this.authority = authority;
    return this;
  }

  @Override
  public MeshChannelBuilder usePlaintext() {
    return this; // the mesh decides: mutual TLS when it has certificates, per the DestinationRule
  }

  @Override
  public MeshChannelBuilder useTransportSecurity() {
    return this;
  }

  @Override
  @Deprecated
  public MeshChannelBuilder nameResolverFactory(NameResolver.Factory resolverFactory) {
    throw new UnsupportedOperationException("meshup: a mesh channel resolves names through the mesh's registry");
  }

  @Override
  public MeshChannelBuilder defaultLoadBalancingPolicy(String policy) {
    throw new UnsupportedOperationException("meshup: a mesh channel balances by the destination's DestinationRule");
  }

  @Override
  public MeshChannelBuilder decompressorRegistry(DecompressorRegistry registry) {
    return this;
  }

  @Override
  public MeshChannelBuilder compressorRegistry(CompressorRegistry registry) {
    return this;
  }

  @Override
  public MeshChannelBuilder idleTimeout(long value, TimeUnit unit) {
    return this;
  }

  @Override
  public MeshChannelBuilder maxInboundMessageSize(int bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("maxInboundMessageSize must be >= 0");
    }
    this.maxInboundMessageSize = bytes;
    return this;
  }

  @Override
  public MeshChannelBuilder keepAliveTime(long keepAliveTime, TimeUnit timeUnit) {
    return this;
  }

  @Override
  public MeshChannelBuilder keepAliveTimeout(long keepAliveTimeout, TimeUnit timeUnit) {
    return this;
  }

  @Override
  public MeshChannelBuilder keepAliveWithoutCalls(boolean enable) {
    return this;
  }

  @Override
  public MeshChannelBuilder maxRetryAttempts(int maxRetryAttempts) {
    return this; // retries are the route's (VirtualService retries), within the destination's budget
  }

  @Override
  public MeshChannelBuilder enableRetry() {
    return this;
  }

  @Override
  public MeshChannelBuilder disableRetry() {
    return this;
  }

  /**
   * Builds the channel.
   *
   * @throws IllegalStateException when a {@code meshup:} target's mesh is not open
   * @throws IllegalArgumentException when the mesh's registry cannot have the service
   */
  @Override
  public ManagedChannel build() {
    Mesh m = mesh != null ? mesh : OpenMeshes.find(meshName);
    ManagedChannel channel = new MeshManagedChannel(m, m.router(service), executor, authority, maxInboundMessageSize);
    return interceptors.isEmpty() ? channel : new InterceptedChannel(channel, interceptors);
  }
}
