package io.meshup.core.identity;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What a workload presents and trusts in a TLS handshake: its private key, its certificate chain
 * (leaf first), the trust bundle's root certificates and the identity in the leaf. Immutable;
 * thread-safe.
 */
public final class Credentials {
  private final PrivateKey privateKey;
  private final List<X509Certificate> chain;
  private final List<X509Certificate> trustBundle;
  private final WorkloadIdentity identity;

  /**
   * Creates credentials after checking that they belong together.
   *
   * @param privateKey the leaf's private key
   * @param chain the leaf certificate first, then any intermediates; not empty
   * @param trustBundle the root certificates peers must chain to; not empty
   * @throws IllegalArgumentException when the leaf carries no workload SPIFFE ID (Consul's or Istio's shape),
   *     or the key's algorithm does not match the leaf's public key
   */
  public Credentials(PrivateKey privateKey, List<X509Certificate> chain, List<X509Certificate> trustBundle) {
    this.privateKey = Objects.requireNonNull(privateKey, "privateKey");
    this.chain = List.copyOf(chain);
    this.trustBundle = List.copyOf(trustBundle);
    if (this.chain.isEmpty()) {
      throw new IllegalArgumentException("the certificate chain is empty; expected the leaf certificate first");
    }
    if (this.trustBundle.isEmpty()) {
      throw new IllegalArgumentException("the trust bundle is empty; expected at least one root certificate");
    }
    if (!privateKey.getAlgorithm().equals(this.chain.get(0).getPublicKey().getAlgorithm())) {
      throw new IllegalArgumentException("the private key (" + privateKey.getAlgorithm()
          + ") does not match the leaf certificate's public key (" + this.chain.get(0).getPublicKey().getAlgorithm() + ")");
    }
    this.identity = SpiffeCertificates.identityOf(this.chain.get(0));
  }

  /** The leaf's private key. */
  public PrivateKey privateKey() {
    return privateKey;
  }

  /** The certificate chain, leaf first; unmodifiable. */
  public List<X509Certificate> chain() {
    return chain;
  }

  /** The leaf certificate. */
  public X509Certificate leaf() {
    return chain.get(0);
  }

  /** The root certificates peers must chain to; unmodifiable. */
  public List<X509Certificate> trustBundle() {
    return trustBundle;
  }

  /** The identity in the leaf's URI SAN. */
  public WorkloadIdentity identity() {
    return identity;
  }

  /** When the leaf expires. */
  public Instant notAfter() {
    return leaf().getNotAfter().toInstant();
  }

  @Override
  public String toString() {
    return "Credentials{" + identity + ", serial " + leaf().getSerialNumber().toString(16) + ", notAfter " + notAfter() + "}";
  }
}
