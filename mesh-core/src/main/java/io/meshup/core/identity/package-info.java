/**
 * Workload identity: SPIFFE IDs ({@link io.meshup.core.identity.WorkloadIdentity}), the credentials
 * a workload presents in mutual TLS ({@link io.meshup.core.identity.Credentials}), a development
 * certificate authority ({@link io.meshup.core.identity.DevCertificateAuthority}) and a source that
 * reads PEM files. Transports read credentials through
 * {@link io.meshup.core.spi.CertificateSource}.
 */
package io.meshup.core.identity;
