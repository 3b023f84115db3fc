package io.meshup.core.internal.tls;

import io.meshup.core.identity.Credentials;
import io.meshup.core.spi.CertificateSource;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Presents the certificate source's current credentials at every handshake, so a rotation applies
 * to the next connection without a restart. The alias names one credentials snapshot (by leaf
 * serial), so the chain and key a handshake reads always belong together even when a rotation
 * lands between the JDK's calls. Thread-safe.
 */
public final class MeshKeyManager extends X509ExtendedKeyManager {
  private final CertificateSource source;
  /** The last two snapshots handed out; a handshake asks for its alias's parts right after choosing it. */
  private volatile Credentials latest;
  private volatile Credentials previous;

  public MeshKeyManager(CertificateSource source) {
    this.source = source;
  }

  private String choose(String keyType) {
    Credentials c = source.current();
    if (!matches(keyType, c.privateKey().getAlgorithm())) {
      return null;
    }
    Credentials l = latest;
    if (l != c) {
      synchronized (this) {
        if (latest != c) {
          previous = latest;
          latest = c;
        }
      }
    }
    return alias(c);
  }

  private static String alias(Credentials c) {
    return "meshup-" + c.leaf().getSerialNumber().toString(16);
  }

  private static boolean matches(String keyType, String algorithm) {
    return keyType.equals(algorithm) || keyType.startsWith(algorithm + "_")
        || (algorithm.equals("RSA") && keyType.equals("RSASSA-PSS"));
  }

  private Credentials lookup(String alias) {
    Credentials l = latest;
    if (l != null && alias(l).equals(alias)) {
      return l;
    }
    Credentials p = previous;
    if (p != null && alias(p).equals(alias)) {
      return p;
    }
    return null;
  }

  private String chooseClient(String[] keyTypes) {
    if (keyTypes == null) {
      return null;
    }
    for (String t : keyTypes) {
      String a = choose(t);
      if (a != null) {
        return a;
      }
    }
    return null;
  }

  @Override
  public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
    return chooseClient(keyTypes);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
    return chooseClient(keyTypes);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return keyType == null ? null : choose(keyType);
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return keyType == null ? null : choose(keyType);
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    String a = choose(keyType);
    return a == null ? null : new String[] {a};
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return getClientAliases(keyType, issuers);
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Credentials c = lookup(alias);
    return c == null ? null : c.chain().toArray(new X509Certificate[0]);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Credentials c = lookup(alias);
    return c == null ? null : c.privateKey();
  }
}
