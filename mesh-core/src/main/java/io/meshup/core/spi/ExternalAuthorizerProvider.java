package io.meshup.core.spi;

import io.meshup.core.MeshClock;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Makes {@link ExternalAuthorizer}s of one kind of {@code mesh.security.extensionProviders} entry,
 * found with {@link java.util.ServiceLoader}: {@code mesh-ext-authz} serves {@code envoyExtAuthzGrpc}.
 * Called once per entry while the mesh starts; thread-safe.
 */
public interface ExternalAuthorizerProvider {
  /** The entry's key this provider serves, such as {@code envoyExtAuthzGrpc}. */
  String type();

  /**
   * An authorizer for one entry.
   *
   * @throws io.meshup.core.MeshConfigException naming the setting that is wrong
   */
  ExternalAuthorizer create(Context context);

  /** What an external authorizer is made from. */
  interface Context {
    /** The entry's {@code name}, which policies name in {@code provider.name}. */
    String name();

    /** The entry's {@code <type>} section (the generic keys {@code timeout}, {@code failOpen}, {@code statusOnError} are the mesh's). */
    Settings settings();

    /** This service's name. */
    String serviceName();

    MeshClock clock();

    /** For timers only; never run blocking work on it. */
    ScheduledExecutorService scheduler();

    MeterRegistry meterRegistry();
  }
}
