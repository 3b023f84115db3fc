package io.meshup.core.internal.tls;

import io.meshup.core.route.TlsOrigination;
import java.net.InetAddress;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * TLS originated to a destination outside the mesh ({@code tls.mode} SIMPLE or MUTUAL): the key
 * managers of the client certificate (MUTUAL), and a trust manager that verifies the server's chain
 * against the CA file (or the JDK's roots) and its certificate's names against the expected ones,
 * as Envoy's {@code match_typed_subject_alt_names} does (DNS names with a leftmost {@code *} label,
 * IP addresses, URIs). Files are read once, when it is built. Immutable and thread-safe.
 */
public final class OriginationTls {
  private final TlsOrigination settings;
  private final KeyManager[] keyManagers;
  private final X509ExtendedTrustManager trustManager;
  private final String sni;

  private OriginationTls(TlsOrigination settings, String host) {
    this.settings = settings;
    this.sni = settings.sni() != null ? settings.sni() : host;
    try {
      this.keyManagers = settings.mutual() ? keyManagers(settings) : null;
      this.trustManager = new NameChecking(defaultOrFile(settings), settings.expectedNames(host),
          settings.insecureSkipVerify());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot set up TLS to " + host + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads the files of {@code settings} for connections to {@code host}.
   *
   * @throws IllegalArgumentException naming the file that cannot be read or used
   */
  public static OriginationTls load(TlsOrigination settings, String host) {
    return new OriginationTls(settings, host);
  }

  /** The key managers of the client certificate, or null for SIMPLE. */
  public KeyManager[] keyManagers() {
    return keyManagers == null ? null : keyManagers.clone();
  }

  /** The trust manager that verifies the server. */
  public X509ExtendedTrustManager trustManager() {
    return trustManager;
  }

  /** The server name to send (SNI), or null when it is an IP address (SNI carries host names only). */
  public String sni() {
    return isIp(sni) ? null : sni;
  }

  /** A JDK context for {@code java.net.http.HttpClient}. */
  public SSLContext jdkContext() {
    try {
      SSLContext c = SSLContext.getInstance("TLS");
      c.init(keyManagers, new TrustManager[] {trustManager}, null);
      return c;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot build a TLS context", e);
    }
  }

  /** Parameters for the JDK client: SNI, and no host name check of the JDK's own (the trust manager checks names). */
  public SSLParameters jdkParameters(SSLContext context) {
    SSLParameters p = context.getDefaultSSLParameters();
    p.setEndpointIdentificationAlgorithm(null);
    if (sni() != null) {
      p.setServerNames(List.of(new SNIHostName(sni())));
    }
    return p;
  }

  /** What it was built from. */
  public TlsOrigination settings() {
    return settings;
  }

  private static KeyManager[] keyManagers(TlsOrigination s) throws GeneralSecurityException {
    List<X509Certificate> chain = PemFiles.certificates(s.clientCertificate(), PemFiles.read(s.clientCertificate()));
    PrivateKey key = PemFiles.privateKey(s.privateKey(), PemFiles.read(s.privateKey()));
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try {
      ks.load(null, null);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    char[] none = new char[0];
    ks.setKeyEntry("client", key, none, chain.toArray(new X509Certificate[0]));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, none);
    return kmf.getKeyManagers();
  }

  private static X509TrustManager defaultOrFile(TlsOrigination s) throws GeneralSecurityException {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    if (s.caCertificates() == null) {
      tmf.init((KeyStore) null);
    } else {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try {
        ks.load(null, null);
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
      int i = 0;
      for (X509Certificate c : PemFiles.certificates(s.caCertificates(), PemFiles.read(s.caCertificates()))) {
        ks.setCertificateEntry("ca" + i++, c);
      }
      tmf.init(ks);
    }
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509TrustManager x) {
        return x;
      }
    }
    throw new IllegalStateException("the JDK offers no X.509 trust manager");
  }

  private static boolean isIp(String s) {
    return s != null && (s.indexOf(':') >= 0 || s.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9')));
  }

  /** Whether a certificate carries one of {@code names} (DNS with a leftmost wildcard label, IP, URI). */
  static boolean matches(X509Certificate leaf, List<String> names) throws CertificateParsingException {
    Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
    if (sans == null) {
      return false;
    }
    for (String want : names) {
      String w = want.toLowerCase(Locale.ROOT);
      for (List<?> san : sans) {
        int type = (Integer) san.get(0);
        String v = String.valueOf(san.get(1)).toLowerCase(Locale.ROOT);
        if (type == 2 && dnsMatches(v, w)) {
          return true;
        }
        if ((type == 6 || type == 7) && (v.equals(w) || (type == 7 && sameIp(v, w)))) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean dnsMatches(String san, String host) {
    if (san.startsWith("*.")) {
      int dot = host.indexOf('.');
      return dot > 0 && host.substring(dot).equals(san.substring(1));
    }
    return san.equals(host);
  }

  private static boolean sameIp(String a, String b) {
    if (!isIp(a) || !isIp(b)) {
      return false;
    }
    try {
      return InetAddress.getByName(a).equals(InetAddress.getByName(b));
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** Verifies the chain with the delegate, then the names; ignores the JDK's own host name check. */
  private static final class NameChecking extends X509ExtendedTrustManager {
    private final X509TrustManager delegate;
    private final List<String> names;
    private final boolean skip;

    NameChecking(X509TrustManager delegate, List<String> names, boolean skip) {
      this.delegate = delegate;
      this.names = List.copyOf(new ArrayList<>(names));
      this.skip = skip;
    }

    private void check(X509Certificate[] chain, String authType) throws CertificateException {
      if (skip) {
        return;
      }
      delegate.checkServerTrusted(chain, authType);
      if (!matches(chain[0], names)) {
        throw new CertificateException("the server's certificate (" + chain[0].getSubjectX500Principal()
            + ") carries none of the names " + names);
      }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      check(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      check(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      check(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      throw new CertificateException("a client-side trust manager checks servers only");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return delegate.getAcceptedIssuers();
    }
  }
}
