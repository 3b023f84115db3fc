package io.meshup.core.spi;

/**
 * Where a plug-in delivers policy documents it fetched (Consul KV, Consul config entries...).
 * Thread-safe; updates are applied one at a time.
 */
public interface PolicySink {
  /**
   * Replaces all documents of {@code source} with {@code yamlDocuments} (zero or more YAML
   * documents separated by {@code ---}) and applies the whole policy.
   *
   * @throws io.meshup.core.MeshConfigException when the result is invalid; the previous policy
   *     keeps serving and the rejection is counted in {@code mesh.policy.updates}
   */
  void update(String source, String yamlDocuments);

  /**
   * Replaces all documents of {@code source} with the documents of several texts, each labelled
   * by its origin (a Consul KV key, say) so that errors name it; the texts are applied as one set.
   *
   * @throws io.meshup.core.MeshConfigException as {@link #update(String, String)}
   */
  void update(String source, java.util.Map<String, String> yamlByOrigin);

  /**
   * Declares this plug-in's sources in precedence order, lowest first, before it delivers any.
   * They rank above the bootstrap's inline documents and files, unless {@code mesh.policy.order}
   * names them, which wins. Call at most once, from {@link ServiceRegistryProvider#create}.
   */
  default void declare(java.util.List<String> sourcesLowestFirst) {}
}
