package io.meshup.spring.internal;

import io.grpc.ManagedChannel;
import io.grpc.stub.AbstractStub;
import io.meshup.core.Mesh;
import io.meshup.core.internal.clients.ClientWiring;
import io.meshup.core.spi.ClientProvider;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code @MeshClient} clients of one application context: made by the {@link ClientProvider}s
 * this context holds for its whole life (its own first, then those on the class path), so every
 * injection point of a service shares one gRPC channel; checked and reported exactly as
 * {@code MeshClients} does, naming the field or parameter. Closing it shuts the channels down,
 * which the context does after its servers have stopped, before the mesh closes.
 *
 * <p>Thread-safe: Spring may create beans on several threads.
 */
public final class SpringClients implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SpringClients.class);

  private final Mesh mesh;
  private final List<ClientProvider> providers = new ArrayList<>();
  private final Set<ManagedChannel> channels = new LinkedHashSet<>();

  /** @param own this context's providers, asked before those on the class path */
  public SpringClients(Mesh mesh, List<ClientProvider> own) {
    this.mesh = mesh;
    this.providers.addAll(own);
    ServiceLoader.load(ClientProvider.class, SpringClients.class.getClassLoader()).forEach(providers::add);
  }

  /** Fills the {@code @MeshClient} fields of {@code bean}. */
  public synchronized <T> T inject(T bean) {
    return new ClientWiring(mesh, this::tracking).inject(bean);
  }

  /** A client for one constructor or method parameter; {@code where} names it in errors. */
  public synchronized Object client(String where, String service, Class<?> type) {
    return new ClientWiring(mesh, this::tracking).client(where, service, type);
  }

  /** The providers, each made to record the channels it makes. */
  private List<ClientProvider> tracking() {
    List<ClientProvider> out = new ArrayList<>(providers.size());
    for (ClientProvider p : providers) {
      out.add(new ClientProvider() {
        @Override
        public boolean supports(Class<?> type) {
          return p.supports(type);
        }

        @Override
        public Object create(Mesh m, String service, Class<?> type) {
          Object client = p.create(m, service, type);
          track(client);
          return client;
        }

        @Override
        public String supportedTypes() {
          return p.supportedTypes();
        }
      });
    }
    return out;
  }

  private void track(Object client) {
    if (client instanceof ManagedChannel c) {
      channels.add(c);
    } else if (client instanceof AbstractStub<?> s && s.getChannel() instanceof ManagedChannel c) {
      channels.add(c);
    }
  }

  /** The channels made so far (for tests and the shutdown log). */
  public synchronized List<ManagedChannel> channels() {
    return List.copyOf(channels);
  }

  /**
   * Shuts every channel down and waits up to 5 s in all for their calls to end (calls of a stopped
   * server have ended by now); what is left is cancelled.
   */
  @Override
  public void close() {
    List<ManagedChannel> all = channels();
    for (ManagedChannel c : all) {
      c.shutdown();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    for (ManagedChannel c : all) {
      try {
        if (!c.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          c.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        c.shutdownNow();
      }
    }
    if (!all.isEmpty()) {
      log.debug("meshup: shut down {} channel(s) of {}", all.size(), mesh.serviceName());
    }
  }
}
