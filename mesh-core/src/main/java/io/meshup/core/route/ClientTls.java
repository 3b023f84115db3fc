package io.meshup.core.route;

/**
 * How a client secures its connections to a destination, from the DestinationRule's
 * {@code trafficPolicy.tls.mode}.
 */
public enum ClientTls {
  /** No {@code tls} set: mutual TLS with the mesh's certificates when it has some, else plaintext. */
  AUTO,
  /** {@code ISTIO_MUTUAL}: mutual TLS with the mesh's certificates; without certificates calls fail. */
  ISTIO_MUTUAL,
  /** {@code DISABLE}: plaintext, even when the mesh has certificates (a destination outside the mesh). */
  DISABLE;

  /** Whether connections use TLS, given whether the mesh has certificates. */
  public boolean usesTls(boolean meshHasCertificates) {
    return this == ISTIO_MUTUAL || (this == AUTO && meshHasCertificates);
  }
}
