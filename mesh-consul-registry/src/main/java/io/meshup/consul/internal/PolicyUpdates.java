package io.meshup.consul.internal;

import io.meshup.core.MeshConfigException;
import io.meshup.core.spi.PolicySink;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the documents a Consul watch read to the mesh, so that nothing a source sends can end the
 * watch's thread: a text that cannot be translated or read, and any throwable on the way, is
 * logged (cut to a readable length) and counted in {@code mesh.policy.updates{source,
 * result=rejected}}, and the last good policy keeps serving. A rejection by the mesh itself is
 * already counted and logged there. Thread-safe.
 */
final class PolicyUpdates {
  private static final Logger log = LoggerFactory.getLogger(PolicyUpdates.class);

  private final PolicySink sink;
  private final MeterRegistry meters;

  PolicyUpdates(PolicySink sink, MeterRegistry meters) {
    this.sink = sink;
    this.meters = meters;
  }

  /** Builds the documents of {@code source} and applies them; true when the mesh accepted them. */
  boolean apply(String source, Callable<Map<String, String>> documents) {
    Map<String, String> docs;
    try {
      docs = documents.call();
    } catch (MeshConfigException e) {
      rejected(source, e.getMessage());
      return false;
    } catch (Throwable e) {
      rejected(source, "cannot be read (" + e + ")");
      return false;
    }
    try {
      sink.update(source, docs);
      return true;
    } catch (MeshConfigException e) {
      return false; // logged and counted by the mesh; the last good policy keeps serving
    } catch (Throwable e) {
      rejected(source, "cannot be applied (" + e + ")");
      return false;
    }
  }

  /** Counts and logs a refused update of {@code source}. */
  void rejected(String source, String why) {
    Counter.builder("mesh.policy.updates").description("Policy updates, accepted or rejected")
        .tags("source", source, "result", "rejected").register(meters).increment();
    log.error("Rejected policy from {}; the last good policy keeps serving: {}", source,
        why.length() <= 2000 ? why : why.substring(0, 2000) + "... (" + why.length() + " characters)");
  }
}
