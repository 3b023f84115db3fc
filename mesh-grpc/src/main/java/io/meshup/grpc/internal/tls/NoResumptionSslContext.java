package io.meshup.grpc.internal.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolNegotiator;
import io.netty.handler.ssl.SslContext;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSessionContext;

/**
 * A client context whose engines never resume a TLS session, so every connection runs the key and
 * trust managers with the current credentials. A resumed session would carry the certificates and
 * verdict of its first handshake: a reconnect after a rotation would present the old leaf and skip
 * checking the server against the new bundle. The JDK looks up sessions to resume by peer host and
 * port; engines made here are given neither (MeshUp never checks host names and sends no SNI).
 */
final class NoResumptionSslContext extends SslContext {
  private final SslContext delegate;

  NoResumptionSslContext(SslContext delegate) {
    this.delegate = delegate;
  }

  @Override
  public boolean isClient() {
    return delegate.isClient();
  }

  @Override
  public List<String> cipherSuites() {
    return delegate.cipherSuites();
  }

  @Override
  @SuppressWarnings("deprecation")
  public ApplicationProtocolNegotiator applicationProtocolNegotiator() {
    return delegate.applicationProtocolNegotiator();
  }

  @Override
  public SSLEngine newEngine(ByteBufAllocator alloc) {
    return delegate.newEngine(alloc);
  }

  @Override
  public SSLEngine newEngine(ByteBufAllocator alloc, String peerHost, int peerPort) {
    return delegate.newEngine(alloc);
  }

  @Override
  public SSLSessionContext sessionContext() {
    return delegate.sessionContext();
  }
}
