package io.meshup.core.spi;

import io.meshup.core.MeshClock;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ScheduledExecutorService;

/** What the mesh gives a {@link ServiceRegistryProvider} when it creates a registry. */
public interface RegistryContext {
  /** This service's name ({@code mesh.service}). */
  String serviceName();

  /** The provider's section, {@code mesh.registry.<type>}. */
  Settings settings();

  /** The mesh's clock. */
  MeshClock clock();

  /** The mesh's scheduler, for timers; never run blocking work on it. */
  ScheduledExecutorService scheduler();

  /** The application's meter registry. */
  MeterRegistry meterRegistry();

  /** Where to deliver policy documents the registry's store holds. */
  PolicySink policies();
}
