package io.meshup.core.internal.authz;

import io.meshup.core.spi.ExternalAuthorizer;
import java.time.Duration;
import java.util.Map;
import java.util.TreeSet;

/**
 * The mesh's extension providers ({@code mesh.security.extensionProviders}) by name: each an
 * {@link ExternalAuthorizer} with the settings every kind shares. Immutable; the authorizers
 * themselves are closed by the mesh.
 */
public final class ExternalAuthorizers {
  /** No provider. */
  public static final ExternalAuthorizers NONE = new ExternalAuthorizers(Map.of());

  /**
   * One provider.
   *
   * @param timeout how long a check may take before it counts as failed
   * @param failOpen whether a failed check lets the request through (default false: fail closed)
   * @param statusOnError the HTTP status of a request refused because the check failed (403 by default)
   */
  public record Provider(String name, String type, ExternalAuthorizer authorizer, Duration timeout, boolean failOpen,
      int statusOnError) {}

  private final Map<String, Provider> providers;

  public ExternalAuthorizers(Map<String, Provider> providers) {
    this.providers = Map.copyOf(providers);
  }

  /** The provider named {@code name}, or null. */
  public Provider get(String name) {
    return providers.get(name);
  }

  /** The names of the providers. */
  public java.util.Set<String> names() {
    return new TreeSet<>(providers.keySet());
  }

  /** Closes every authorizer. */
  public void close() {
    for (Provider p : providers.values()) {
      try {
        p.authorizer().close();
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(ExternalAuthorizers.class).warn("meshup: closing extension provider {} failed", p.name(), e);
      }
    }
  }
}
