package io.meshup.core.identity;

/** What a server accepts, as Istio's {@code PeerAuthentication.mtls.mode}. */
public enum MtlsMode {
  /** Mutual TLS only: a caller must present a certificate of the mesh's trust domain. */
  STRICT,
  /** Mutual TLS and plaintext on the same port. */
  PERMISSIVE,
  /** Plaintext only. */
  DISABLE
}
