package io.meshup.core.spi;

import io.meshup.core.MeshConfigException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the policy texts a plug-in's watch read (Consul KV and config entries, etcd KV) to a
 * {@link PolicySink}, so that nothing a source holds can end the watch: a text that cannot be read
 * or translated, and any throwable on the way, is logged (cut to a readable length) and counted in
 * {@code mesh.policy.updates{source,result=rejected}}, and the last good policy keeps serving. A
 * rejection by the mesh's own validation is counted and logged by the mesh, with the origin named.
 * Thread-safe.
 */
public final class PolicyUpdates {
  private static final Logger log = LoggerFactory.getLogger(PolicyUpdates.class);
  private static final int MAX_LOGGED = 2000;

  private final PolicySink sink;
  private final MeterRegistry meters;

  /** Updates delivered to {@code sink}, refusals counted in {@code meters}. */
  public PolicyUpdates(PolicySink sink, MeterRegistry meters) {
    this.sink = Objects.requireNonNull(sink, "sink");
    this.meters = Objects.requireNonNull(meters, "meters");
  }

  /**
   * Builds the texts of {@code source}, by origin, and applies them as one set.
   *
   * @return true when the mesh accepted them
   */
  public boolean apply(String source, Callable<Map<String, String>> texts) {
    Map<String, String> byOrigin;
    try {
      byOrigin = texts.call();
    } catch (MeshConfigException e) {
      rejected(source, e.getMessage());
      return false;
    } catch (Throwable e) {
      rejected(source, "cannot be read (" + e + ")");
      return false;
    }
    try {
      sink.update(source, byOrigin);
      return true;
    } catch (MeshConfigException e) {
      return false; // counted and logged by the mesh; the last good policy keeps serving
    } catch (Throwable e) {
      rejected(source, "cannot be applied (" + e + ")");
      return false;
    }
  }

  /** Counts and logs a refused update of {@code source}, {@code why} naming the origin and the reason. */
  public void rejected(String source, String why) {
    Counter.builder(io.meshup.core.internal.routing.Metrics.POLICY_UPDATES).description("Policy updates, accepted or rejected")
        .tags("source", source, "result", "rejected").register(meters).increment();
    log.error("Rejected policy from {}; the last good policy keeps serving: {}", source,
        why.length() <= MAX_LOGGED ? why : why.substring(0, MAX_LOGGED) + "... (" + why.length() + " characters)");
  }
}
