package io.meshup.spring.internal;

import io.meshup.core.Mesh;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The first step of the context's shutdown: deregisters this service and waits for the registry's
 * drain time ({@link Mesh#deregister()}) while the web server and the gRPC server still serve, so
 * that callers stop choosing this instance before it stops answering. Its phase,
 * {@link #PHASE}, stops it before Spring's graceful shutdown of the web server
 * ({@code DEFAULT_PHASE - 1024}) and the starter's gRPC server (same phase); the rest of
 * {@code Mesh.close()} (the outbound side, the registry watches) runs when the context destroys
 * the mesh bean, after every server has stopped and the channels are shut down.
 */
public final class MeshShutdown implements SmartLifecycle {
  /** Stops before the servers' graceful shutdown (DEFAULT_PHASE - 1024). */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 512;
  private static final Logger log = LoggerFactory.getLogger(MeshShutdown.class);

  private final Mesh mesh;
  private volatile boolean running;

  public MeshShutdown(Mesh mesh) {
    this.mesh = mesh;
  }

  @Override
  public void start() {
    running = true;
  }

  @Override
  public void stop() {
    long start = System.nanoTime();
    mesh.deregister();
    running = false;
    log.info("meshup: {} deregistered and drained in {} ms; the servers stop next", mesh.serviceName(),
        (System.nanoTime() - start) / 1_000_000);
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
