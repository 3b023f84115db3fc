package io.meshup.etcd.internal;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * Resolves the etcd channel's target to the configured members, one address group each, so that
 * the channel's {@code round_robin} balancer connects to every member and spreads calls (and
 * retries after a member fails) across them. Host names are looked up on {@code executor}, never
 * on a gRPC thread, at start and whenever the channel asks again. Each group's authority is the
 * member's own host (or {@code serverName}), which its TLS certificate is checked against.
 */
final class MemberResolver extends NameResolver {
  static final String SCHEME = "meshup-etcd";

  private final List<EtcdSettings.Member> members;
  private final String serverName;
  private final Executor executor;
  private volatile Listener2 listener;
  private volatile boolean shutdown;

  private MemberResolver(List<EtcdSettings.Member> members, String serverName, Executor executor) {
    this.members = members;
    this.serverName = serverName;
    this.executor = executor;
  }

  /** The factory the channel builder takes; its target is {@code meshup-etcd:///etcd}. */
  static NameResolver.Factory factory(List<EtcdSettings.Member> members, String serverName, Executor executor) {
    return new NameResolver.Factory() {
      @Override
      public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
        return SCHEME.equals(targetUri.getScheme()) ? new MemberResolver(members, serverName, executor) : null;
      }

      @Override
      public String getDefaultScheme() {
        return SCHEME;
      }
    };
  }

  @Override
  public String getServiceAuthority() {
    return serverName != null ? serverName : members.get(0).host();
  }

  @Override
  public void start(Listener2 listener) {
    this.listener = listener;
    resolve();
  }

  @Override
  public void refresh() {
    resolve();
  }

  private void resolve() {
    executor.execute(() -> {
      Listener2 l = listener;
      if (l == null || shutdown) {
        return;
      }
      List<EquivalentAddressGroup> groups = new ArrayList<>();
      List<String> unresolved = new ArrayList<>();
      for (EtcdSettings.Member m : members) {
        InetSocketAddress a = new InetSocketAddress(m.host(), m.port());
        if (a.isUnresolved()) {
          unresolved.add(m.toString());
          continue;
        }
        String host = serverName != null ? serverName : m.host();
        String authority = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + m.port();
        groups.add(new EquivalentAddressGroup(a,
            Attributes.newBuilder().set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, authority).build()));
      }
      if (groups.isEmpty()) {
        l.onError(Status.UNAVAILABLE.withDescription("cannot resolve the etcd members " + unresolved)
            .withCause(new UnknownHostException(String.join(", ", unresolved))));
        return;
      }
      l.onResult(ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromValue(groups)).build());
    });
  }

  @Override
  public void shutdown() {
    shutdown = true;
  }
}
