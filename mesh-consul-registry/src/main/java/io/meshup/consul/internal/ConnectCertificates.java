package io.meshup.consul.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.WorkloadIdentity;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * Reads the agent's Connect answers ({@code /v1/agent/connect/ca/roots} and
 * {@code /v1/agent/connect/ca/leaf/<service>}) and puts them together as {@link Credentials}.
 * Stateless; thread-safe.
 */
final class ConnectCertificates {
  private ConnectCertificates() {}

  /**
   * The CA roots as the agent lists them: the active one and those rotated out but still trusted.
   *
   * @param trustDomain the cluster's trust domain, such as {@code <uuid>.consul}
   * @param activeRootId the active root's ID
   * @param ids every root's ID, in the agent's order
   * @param certificates every root certificate, in the same order
   */
  record Roots(String trustDomain, String activeRootId, List<String> ids, List<X509Certificate> certificates) {
    Roots {
      ids = List.copyOf(ids);
      certificates = List.copyOf(certificates);
    }

    /** Whether {@code cert} is signed by one of these roots. */
    boolean issued(X509Certificate cert) {
      for (X509Certificate root : certificates) {
        if (signedBy(cert, root)) {
          return true;
        }
      }
      return false;
    }
  }

  /**
   * A leaf certificate and its key.
   *
   * @param serial the agent's serial number, such as {@code 1f:2a}
   * @param chain the leaf, then the intermediates the agent sends (a cross-signed root after a
   *     rotation)
   * @param key the leaf's private key
   */
  record Leaf(String serial, List<X509Certificate> chain, PrivateKey key) {
    Leaf {
      chain = List.copyOf(chain);
    }

    X509Certificate certificate() {
      return chain.get(0);
    }
  }

  /** Parses the roots answer; throws IllegalArgumentException saying what is missing. */
  static Roots roots(JsonElement json) {
    if (json == null || !json.isJsonObject()) {
      throw new IllegalArgumentException("the agent returned no CA roots; is Connect enabled on the agent?");
    }
    JsonObject o = json.getAsJsonObject();
    String trustDomain = string(o, "TrustDomain");
    if (trustDomain == null || trustDomain.isEmpty()) {
      throw new IllegalArgumentException("the CA roots carry no TrustDomain");
    }
    List<String> ids = new ArrayList<>();
    List<X509Certificate> certs = new ArrayList<>();
    if (o.has("Roots") && o.get("Roots").isJsonArray()) {
      for (JsonElement e : o.getAsJsonArray("Roots")) {
        JsonObject r = e.getAsJsonObject();
        String id = string(r, "ID");
        List<X509Certificate> c = certificates(string(r, "RootCert"), "root " + id);
        ids.add(id);
        certs.add(c.get(0));
      }
    }
    if (certs.isEmpty()) {
      throw new IllegalArgumentException("the agent lists no CA root");
    }
    return new Roots(trustDomain.toLowerCase(Locale.ROOT), string(o, "ActiveRootID"), ids, certs);
  }

  /** Parses the leaf answer; throws IllegalArgumentException saying what is missing. */
  static Leaf leaf(JsonElement json, String service) {
    if (json == null || !json.isJsonObject()) {
      throw new IllegalArgumentException("the agent returned no leaf certificate for service '" + service + "'");
    }
    JsonObject o = json.getAsJsonObject();
    List<X509Certificate> chain = certificates(string(o, "CertPEM"), "the leaf of " + service);
    PrivateKey key = privateKey(string(o, "PrivateKeyPEM"), service);
    String serial = string(o, "SerialNumber");
    return new Leaf(serial == null ? chain.get(0).getSerialNumber().toString(16) : serial, chain, key);
  }

  /**
   * The credentials of {@code leaf} with every listed root as trust bundle, so peers whose leaves
   * come from the new root and those still on the old one both verify during a rotation.
   *
   * <p>The chain presented is the leaf and the intermediates the agent sent, cut after the last
   * one a listed root signed: while the old root is listed, the cross-signed new root goes along
   * (a peer that knows only the old root can verify it); once the old root is pruned, the leaf goes
   * alone, as a peer that no longer trusts the old root may not find a path through it (MeshUp's own
   * trust manager falls back to the leaf alone; other verifiers may not).
   *
   * @throws IllegalArgumentException when the leaf is not signed by a listed root (through its
   *     intermediates), is not of the roots' trust domain, or its key does not match
   */
  static Credentials credentials(Roots roots, Leaf leaf, String service) {
    List<X509Certificate> chain = leaf.chain();
    int end = -1;
    for (int i = chain.size() - 1; i >= 0; i--) {
      if (roots.issued(chain.get(i)) && linked(chain, i)) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      throw new IllegalArgumentException("the leaf of " + service + " (serial " + leaf.serial()
          + ") is signed by no listed CA root " + roots.ids());
    }
    Credentials c = new Credentials(leaf.key(), chain.subList(0, end + 1), roots.certificates());
    WorkloadIdentity id = c.identity();
    if (!id.trustDomain().equals(roots.trustDomain())) {
      throw new IllegalArgumentException("the leaf of " + service + " is " + id + ", not of the CA's trust domain '"
          + roots.trustDomain() + "'");
    }
    if (!id.service().equals(service)) {
      throw new IllegalArgumentException("the leaf is " + id + ", not of service '" + service + "'");
    }
    if (!matches(leaf.key(), chain.get(0))) {
      throw new IllegalArgumentException("the private key of " + service + " does not belong to its leaf (serial "
          + leaf.serial() + ")");
    }
    return c;
  }

  /** Whether chain[0..i] is a chain: each certificate signed by the next. */
  private static boolean linked(List<X509Certificate> chain, int i) {
    for (int k = 0; k < i; k++) {
      if (!signedBy(chain.get(k), chain.get(k + 1))) {
        return false;
      }
    }
    return true;
  }

  static boolean signedBy(X509Certificate cert, X509Certificate issuer) {
    if (!cert.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
      return false;
    }
    try {
      cert.verify(issuer.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static boolean matches(PrivateKey key, X509Certificate leaf) {
    String alg = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> null;
    };
    if (alg == null) {
      return true;
    }
    try {
      byte[] probe = "meshup".getBytes(StandardCharsets.US_ASCII);
      java.security.Signature s = java.security.Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      java.security.Signature v = java.security.Signature.getInstance(alg);
      v.initVerify(leaf.getPublicKey());
      v.update(probe);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  static List<X509Certificate> certificates(String pem, String what) {
    if (pem == null || pem.isBlank()) {
      throw new IllegalArgumentException(what + ": no certificate PEM");
    }
    try {
      List<X509Certificate> out = new ArrayList<>();
      for (Certificate c : CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException(what + ": no certificate in the PEM");
      }
      return out;
    } catch (CertificateException e) {
      throw new IllegalArgumentException(what + ": unreadable certificate PEM: " + e.getMessage(), e);
    }
  }

  private static PrivateKey privateKey(String pem, String service) {
    if (pem == null || pem.isBlank()) {
      throw new IllegalArgumentException("the leaf of " + service + " comes without PrivateKeyPEM");
    }
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      Object o = parser.readObject();
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
      if (o instanceof PEMKeyPair pair) {
        return conv.getKeyPair(pair).getPrivate();
      }
      if (o instanceof PrivateKeyInfo info) {
        return conv.getPrivateKey(info);
      }
      throw new IllegalArgumentException("the leaf key of " + service + " is not a PEM private key"
          + (o == null ? "" : " (found " + o.getClass().getSimpleName() + ")"));
    } catch (IOException e) {
      throw new IllegalArgumentException("the leaf key of " + service + " is unreadable: " + e.getMessage(), e);
    }
  }

  private static String string(JsonObject o, String key) {
    return o.has(key) && !o.get(key).isJsonNull() ? o.get(key).getAsString() : null;
  }
}
