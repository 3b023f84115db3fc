package io.meshup.grpc.internal;

import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Collection;
import java.util.List;

/**
 * Claims the {@code meshup} scheme in grpc-java's name resolver registry, so that
 * {@code Grpc.newChannelBuilder("meshup:///payments", creds)} picks MeshUp's channel provider (the
 * only one whose address type it produces). A mesh channel never uses the resolver itself; a plain
 * grpc-java channel given a {@code meshup:} target gets a resolver that fails every resolution
 * with a message saying how to build a mesh channel instead.
 */
public final class MeshNameResolverProvider extends NameResolverProvider {
  /** The address type of mesh targets; no transport but MeshUp's takes it. */
  public static final class MeshAddress extends SocketAddress {
    private static final long serialVersionUID = 1L;

    private MeshAddress() {}
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  /** Low: the registry's default scheme (for targets without one) is its highest-priority provider's. */
  @Override
  protected int priority() {
    return 1;
  }

  @Override
  public String getDefaultScheme() {
    return MeshChannelBuilder.SCHEME;
  }

  @Override
  public String getScheme() {
    return MeshChannelBuilder.SCHEME;
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(MeshAddress.class);
  }

  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    if (!MeshChannelBuilder.SCHEME.equalsIgnoreCase(targetUri.getScheme())) {
      return null;
    }
    return new NameResolver() {
      @Override
      public String getServiceAuthority() {
        return targetUri.getAuthority() == null ? "meshup" : targetUri.getAuthority();
      }

      @Override
      public void start(Listener2 listener) {
        listener.onError(Status.UNAVAILABLE.withDescription("meshup: " + targetUri + " needs a mesh channel: build it"
            + " with ManagedChannelBuilder.forTarget(\"" + targetUri + "\") or MeshChannels.forService(mesh, service),"
            + " not with another transport's builder"));
      }

      @Override
      public void shutdown() {}
    };
  }
}
