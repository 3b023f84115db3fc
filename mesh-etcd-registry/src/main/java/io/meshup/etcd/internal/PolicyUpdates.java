package io.meshup.etcd.internal;

import io.meshup.core.MeshConfigException;
import io.meshup.core.spi.PolicySink;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the policy texts an etcd watch read to the mesh, so that nothing etcd holds can end the
 * watch: a text that cannot be read, and any throwable on the way, is logged (cut to a readable
 * length) and counted in {@code mesh.policy.updates{source,result=rejected}}, and the last good
 * policy keeps serving. A rejection by the mesh's own validation is counted and logged there, with
 * the key named. Thread-safe.
 */
final class PolicyUpdates {
  private static final Logger log = LoggerFactory.getLogger(PolicyUpdates.class);
  private static final int MAX_LOGGED = 2000;

  private final PolicySink sink;
  private final MeterRegistry meters;

  PolicyUpdates(PolicySink sink, MeterRegistry meters) {
    this.sink = sink;
    this.meters = meters;
  }

  /** Builds the texts of {@code source}, by key, and applies them as one set; true when accepted. */
  boolean apply(String source, Callable<Map<String, String>> texts) {
    Map<String, String> byKey;
    try {
      byKey = texts.call();
    } catch (MeshConfigException e) {
      rejected(source, e.getMessage());
      return false;
    } catch (Throwable e) {
      rejected(source, "cannot be read (" + e + ")");
      return false;
    }
    try {
      sink.update(source, byKey);
      return true;
    } catch (MeshConfigException e) {
      return false; // counted and logged by the mesh; the last good policy keeps serving
    } catch (Throwable e) {
      rejected(source, "cannot be applied (" + e + ")");
      return false;
    }
  }

  private void rejected(String source, String why) {
    Counter.builder("mesh.policy.updates").description("Policy updates, accepted or rejected")
        .tags("source", source, "result", "rejected").register(meters).increment();
    log.error("Rejected policy from {}; the last good policy keeps serving: {}", source,
        why.length() <= MAX_LOGGED ? why : why.substring(0, MAX_LOGGED) + "... (" + why.length() + " characters)");
  }
}
