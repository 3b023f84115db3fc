package io.meshup.http.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.http.RequestTargets;
import io.meshup.core.internal.tls.JdkTlsContexts;
import io.meshup.core.spi.CertificateSource;
import java.io.IOException;
import java.net.InetSocketAddress;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/** Builds the JDK servers of {@code MeshHttpServers}. Stateless. */
public final class JdkServers {
  private JdkServers() {}

  /** See {@code MeshHttpServers.jdk(Mesh, InetSocketAddress, MtlsMode)}. */
  public static HttpServer create(Mesh mesh, InetSocketAddress address, MtlsMode mode) throws IOException {
    JdkAuthorizingFilter filter = new JdkAuthorizingFilter(mesh.authorizer(),
        new RequestTargets(mesh.pathNormalization(), mesh.meterRegistry()), mesh.meterRegistry(),
        mesh.inboundTelemetry());
    switch (mode) {
      case DISABLE:
        return new AuthorizingHttpServer(HttpServer.create(address, 0), filter);
      case STRICT:
        CertificateSource source = mesh.certificates().orElseThrow(() -> new IllegalStateException(
            "meshup: mTLS mode STRICT needs certificates; set mesh.tls.certificates or Mesh.Builder.certificates(...)"));
        HttpsServer https = HttpsServer.create(address, 0);
        https.setHttpsConfigurator(new MutualTls(JdkTlsContexts.server(source, mesh.clock(), mesh.trustDomainAliases(), mesh.meterRegistry())));
        return new AuthorizingHttpsServer(https, filter);
      case PERMISSIVE:
      default:
        throw new IllegalArgumentException("meshup: mTLS mode " + mode + " (mesh.tls.mode of " + mesh.serviceName()
            + ") takes mutual TLS and plaintext on one port, which the JDK's HttpServer cannot serve; run"
            + " MeshHttpServers.jdk(mesh, address, STRICT) and MeshHttpServers.jdk(mesh, otherAddress, DISABLE)"
            + " side by side (both authorize every request), or use MeshNettyHttp, which serves both on one port");
    }
  }

  /** See {@code MeshHttpServers.caller(HttpExchange)}. */
  public static WorkloadIdentity caller(HttpExchange exchange) {
    return JdkAuthorizingFilter.caller(exchange);
  }

  /** Every connection presents this workload's certificate and asks for a client certificate. */
  private static final class MutualTls extends HttpsConfigurator {
    MutualTls(SSLContext context) {
      super(context);
    }

    @Override
    public void configure(HttpsParameters params) {
      SSLParameters p = getSSLContext().getDefaultSSLParameters();
      // asked, not required: a client without a certificate is then seen, counted (no_certificate)
      // and refused by the filter, where the JDK would refuse it before any trust manager is asked
      p.setWantClientAuth(true);
      params.setSSLParameters(p);
    }
  }
}
