package io.meshup.core.spi;

/**
 * Creates a {@link CertificateSource} for a {@code mesh.tls.certificates} type other than the
 * built-in {@code dev} and {@code files}. Found with {@link java.util.ServiceLoader}: a plug-in lists
 * its implementation in {@code META-INF/services/io.meshup.core.spi.CertificateSourceProvider}.
 *
 * <p>Example: a Consul Connect plug-in provides type {@code consul-connect}, reading
 * {@code mesh.tls.consul-connect}.
 */
public interface CertificateSourceProvider {
  /** The type this provider serves, as written in {@code mesh.tls.certificates}. */
  String type();

  /**
   * Creates the source with its first credentials; called once while the mesh starts, from the
   * thread building it. The mesh closes the source when it closes.
   *
   * @throws io.meshup.core.MeshConfigException for invalid settings, naming the key
   */
  CertificateSource create(CertificateContext context);
}
