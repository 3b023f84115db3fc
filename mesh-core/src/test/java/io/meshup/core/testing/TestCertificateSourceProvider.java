package io.meshup.core.testing;

import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.spi.CertificateContext;
import io.meshup.core.spi.CertificateSource;
import io.meshup.core.spi.CertificateSourceProvider;
import java.time.Duration;

/** A plug-in certificate source for tests: type {@code test-ca}, reading {@code mesh.tls.test-ca.trustDomain}. */
public final class TestCertificateSourceProvider implements CertificateSourceProvider {
  @Override
  public String type() {
    return "test-ca";
  }

  @Override
  public CertificateSource create(CertificateContext context) {
    String td = context.settings().allowOnly("trustDomain").requiredString("trustDomain");
    return DevCertificateAuthority.create(td, context.clock(), Duration.ofMinutes(5)).source(context.serviceName());
  }
}
