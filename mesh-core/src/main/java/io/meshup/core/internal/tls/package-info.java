/**
 * Internal: JDK key and trust managers that read a {@link io.meshup.core.spi.CertificateSource} at
 * every handshake and verify peers by SPIFFE ID. Shared by the gRPC (Netty) and HTTP (JDK)
 * transports; not part of the public API.
 */
package io.meshup.core.internal.tls;
