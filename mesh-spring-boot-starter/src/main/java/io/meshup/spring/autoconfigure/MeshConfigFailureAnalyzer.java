package io.meshup.spring.autoconfigure;

import io.meshup.core.MeshConfigException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Prints a refused {@code mesh:} section at start as Spring Boot prints a failed start: the
 * description is MeshUp's own message (the origin of the value, file and line or environment
 * variable, the key path and what was expected), the action says where to fix it.
 */
public final class MeshConfigFailureAnalyzer extends AbstractFailureAnalyzer<MeshConfigException> {
  @Override
  protected FailureAnalysis analyze(Throwable rootFailure, MeshConfigException cause) {
    return new FailureAnalysis("MeshUp refused its configuration: " + cause.getMessage(),
        "Correct the value named above: the key under 'mesh' in that file, profile, environment variable or"
            + " other property source. Every key and what it takes: docs/configuration.md; IDEs complete"
            + " mesh.* keys from the starter's configuration metadata.", cause);
  }
}
