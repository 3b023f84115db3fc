package io.meshup.grpc.internal;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.ManagedChannelProvider;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.netty.NettyChannelBuilder;
import java.net.SocketAddress;
import java.util.Collection;
import java.util.List;
import java.util.ServiceLoader;

/**
 * grpc-java's channel provider for {@code meshup:} targets, so that
 * {@code ManagedChannelBuilder.forTarget("meshup:///payments")} and
 * {@code Grpc.newChannelBuilder("meshup:///payments", creds)} give mesh channels, as frameworks that
 * build channels from a target string expect (grpc-xds works the same way).
 *
 * <p>{@code ManagedChannelBuilder.forTarget} asks only the provider of the highest priority, so
 * this one ranks just above grpc-netty's (6 against 5) and hands every other target and every
 * {@code forAddress} to the best other provider on the class path (grpc-netty's when it is the only
 * one): with mesh-grpc present, channels to anything but {@code meshup:} are built exactly as
 * without it. {@code Grpc.newChannelBuilder} tries providers in order and moves past this one for
 * other targets. The mesh's mutual TLS applies whatever credentials are given.
 */
public final class MeshChannelProvider extends ManagedChannelProvider {
  private volatile ManagedChannelProvider next;

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 6;
  }

  @Override
  protected ManagedChannelBuilder<?> builderForAddress(String name, int port) {
    ManagedChannelProvider n = next();
    return n != null ? callBuilderForAddress(n, name, port) : NettyChannelBuilder.forAddress(name, port);
  }

  @Override
  protected ManagedChannelBuilder<?> builderForTarget(String target) {
    if (MeshChannelBuilder.isMeshTarget(target)) {
      return MeshChannelBuilder.forTarget(target);
    }
    ManagedChannelProvider n = next();
    return n != null ? callBuilderForTarget(n, target) : NettyChannelBuilder.forTarget(target);
  }

  @Override
  protected NewChannelBuilderResult newChannelBuilder(String target, ChannelCredentials creds) {
    if (!MeshChannelBuilder.isMeshTarget(target)) {
      return NewChannelBuilderResult.error("MeshUp builds only " + MeshChannelBuilder.SCHEME + ": targets");
    }
    try {
      return NewChannelBuilderResult.channelBuilder(MeshChannelBuilder.forTarget(target));
    } catch (IllegalArgumentException e) {
      return NewChannelBuilderResult.error(e.getMessage());
    }
  }

  @Override
  protected NewChannelBuilderResult newChannelBuilder(String target, ChannelCredentials creds,
      NameResolverRegistry nameResolverRegistry, NameResolverProvider nameResolverProvider) {
    return newChannelBuilder(target, creds == null ? InsecureChannelCredentials.create() : creds);
  }

  @Override
  protected Collection<Class<? extends SocketAddress>> getSupportedSocketAddressTypes() {
    return List.of(MeshNameResolverProvider.MeshAddress.class);
  }

  /** The best other available provider, found once; null when there is none. */
  private ManagedChannelProvider next() {
    ManagedChannelProvider n = next;
    if (n == null) {
      for (ManagedChannelProvider p : ServiceLoader.load(ManagedChannelProvider.class,
          ManagedChannelProvider.class.getClassLoader())) {
        if (!(p instanceof MeshChannelProvider) && Access.available(p)
            && (n == null || Access.priority(p) > Access.priority(n))) {
          n = p;
        }
      }
      next = n;
    }
    return n;
  }

  private static ManagedChannelBuilder<?> callBuilderForTarget(ManagedChannelProvider p, String target) {
    return Access.builderForTarget(p, target);
  }

  private static ManagedChannelBuilder<?> callBuilderForAddress(ManagedChannelProvider p, String name, int port) {
    return Access.builderForAddress(p, name, port);
  }
}
