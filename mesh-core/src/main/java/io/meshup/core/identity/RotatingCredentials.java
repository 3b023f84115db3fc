package io.meshup.core.identity;

import io.meshup.core.spi.CertificateSource;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared part of MeshUp's certificate sources: one volatile reference to the current
 * credentials, and listeners told of each replacement one at a time. Thread-safe.
 */
final class RotatingCredentials {
  private static final Logger log = LoggerFactory.getLogger(RotatingCredentials.class);

  private final CopyOnWriteArrayList<CertificateSource.Listener> listeners = new CopyOnWriteArrayList<>();
  private final Object notifyLock = new Object();
  private volatile Credentials current;

  RotatingCredentials(Credentials initial) {
    this.current = initial;
  }

  Credentials current() {
    Credentials c = current;
    if (c == null) {
      throw new IllegalStateException("no valid credentials have been loaded yet");
    }
    return c;
  }

  Credentials currentOrNull() {
    return current;
  }

  /** Publishes {@code next}, then tells the listeners in order. */
  void replace(Credentials next) {
    Objects.requireNonNull(next, "next");
    synchronized (notifyLock) {
      current = next;
      for (CertificateSource.Listener l : listeners) {
        try {
          l.onRotated(next);
        } catch (RuntimeException e) {
          log.warn("certificate listener {} failed on rotation to {}", l, next, e);
        }
      }
    }
  }

  CertificateSource.Subscription subscribe(CertificateSource.Listener listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }
}
