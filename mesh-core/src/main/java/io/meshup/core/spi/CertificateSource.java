package io.meshup.core.spi;

import io.meshup.core.identity.Credentials;

/**
 * Where a transport gets this workload's TLS credentials: key, certificate chain and trust bundle.
 * MeshUp ships a development CA ({@link io.meshup.core.identity.DevCertificateAuthority}) and a
 * PEM-file source ({@link io.meshup.core.identity.PemFileCertificateSource}); Consul Connect's CA
 * comes with its module.
 *
 * <p>Threading: implementations are thread-safe. {@link #current()} is called at every TLS
 * handshake, on network event loops: it must return at once from memory and never block or do
 * I/O. When the credentials change, {@link #current()} returns the new ones first, then listeners
 * are called, one at a time (never two at once for one source), on the thread that performed the
 * rotation; they must not block. Connections already open keep the credentials they were made
 * with; new handshakes use the new ones.
 *
 * <p>A source that cannot refresh (a bad file, an unreachable CA) keeps serving its last good
 * credentials and reports the failure itself (log, metric).
 *
 * <p>Example:
 *
 * <pre>{@code
 * final class VaultSource implements CertificateSource {
 *   private volatile Credentials current;            // replaced whole on renewal
 *   public Credentials current() { return current; }
 *   public Subscription subscribe(Listener l) { ... }
 * }
 * }</pre>
 */
public interface CertificateSource extends AutoCloseable {
  /**
   * The credentials in force now; never null.
   *
   * @throws IllegalStateException when the source has never had valid credentials
   */
  Credentials current();

  /**
   * Calls {@code listener} after every change of the credentials (not for the current ones).
   *
   * @return a handle that stops the notifications when closed
   */
  Subscription subscribe(Listener listener);

  /** Stops refreshing and releases resources; {@link #current()} keeps answering. Idempotent. */
  @Override
  default void close() {}

  /** Told about each change of the credentials. */
  @FunctionalInterface
  interface Listener {
    /** The credentials {@link #current()} now returns. Must not block. */
    void onRotated(Credentials credentials);
  }

  /** A registered listener. */
  interface Subscription extends AutoCloseable {
    /** Stops the notifications; idempotent. */
    @Override
    void close();
  }
}
