package io.meshup.core.testing.security;

import io.meshup.core.identity.Credentials;
import io.meshup.core.spi.CertificateSource;

/** A certificate source that always holds the same credentials (a test caller's). */
public final class FixedCredentials implements CertificateSource {
  private final Credentials credentials;

  public FixedCredentials(Credentials credentials) {
    this.credentials = credentials;
  }

  @Override
  public Credentials current() {
    return credentials;
  }

  @Override
  public Subscription subscribe(Listener listener) {
    return () -> {};
  }

  @Override
  public void close() {}
}
