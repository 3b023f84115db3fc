package io.meshup.core.spi;

import io.meshup.core.MeshClock;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ScheduledExecutorService;

/** What the mesh gives a {@link CertificateSourceProvider} when it creates a source. */
public interface CertificateContext {
  /** This service's name ({@code mesh.service}). */
  String serviceName();

  /** The provider's section, {@code mesh.tls.<type>}. */
  Settings settings();

  /** The mesh's clock. */
  MeshClock clock();

  /** The mesh's scheduler, for refresh timers; never run blocking work on it. */
  ScheduledExecutorService scheduler();

  /** The application's meter registry. */
  MeterRegistry meterRegistry();
}
