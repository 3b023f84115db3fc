package io.meshup.consul;

import io.meshup.consul.internal.ConnectCertificateSource;
import io.meshup.consul.internal.ConnectSettings;
import io.meshup.core.spi.CertificateContext;
import io.meshup.core.spi.CertificateSource;
import io.meshup.core.spi.CertificateSourceProvider;

/**
 * Consul Connect's CA as the mesh's certificate source: {@code mesh.tls.certificates:
 * consul-connect}. The workload presents the leaf certificate the local agent issues for its
 * service (SPIFFE ID {@code spiffe://<cluster>.consul/ns/default/dc/<dc>/svc/<service>}) and trusts
 * every CA root the agent lists; both are watched, so leaf renewals and CA rotations apply without
 * a restart.
 *
 * <pre>{@code
 * mesh:
 *   service: checkout
 *   tls:
 *     certificates: consul-connect
 *     consul-connect:
 *       address: ${CONSUL_HTTP_ADDR:http://127.0.0.1:8500}
 *       token: ${CONSUL_HTTP_TOKEN:}
 * }</pre>
 *
 * <p>Found by {@link java.util.ServiceLoader}; applications only add the dependency.
 */
public final class ConsulConnectProvider implements CertificateSourceProvider {
  /** The certificate source type, {@code consul-connect}. */
  public static final String TYPE = "consul-connect";

  @Override
  public String type() {
    return TYPE;
  }

  @Override
  public CertificateSource create(CertificateContext context) {
    return ConnectCertificateSource.start(ConnectSettings.read(context.settings(), context.serviceName(), System::getenv),
        context);
  }
}
