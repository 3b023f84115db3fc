package io.meshup.core.testing.security;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.identity.WorkloadIdentity;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * The parts the security tables share: a development CA of trust domain {@code cluster.local}
 * (Istio's default, so documented principals hold unchanged), the server {@code payments} with
 * Istio's identity shape, callers of both shapes, and an RSA key that signs real JWTs of Istio's
 * demo issuer {@code testing@secure.istio.io}. One per test class; thread-safe once built.
 */
public final class SecurityFixture {
  public static final String TRUST_DOMAIN = "cluster.local";
  public static final String ISSUER = "testing@secure.istio.io";

  public final DevCertificateAuthority ca = DevCertificateAuthority.create(TRUST_DOMAIN);
  public final WorkloadIdentity server = ca.serviceAccountIdentity("default", "payments");
  public final DevCertificateAuthority.Source serverSource = ca.source(server);
  /** {@code cluster.local/ns/default/sa/sleep}. */
  public final Credentials sleep = ca.issue(ca.serviceAccountIdentity("default", "sleep"));
  /** {@code cluster.local/ns/foo/sa/curl}. */
  public final Credentials curl = ca.issue(ca.serviceAccountIdentity("foo", "curl"));
  /** Consul's shape: {@code cluster.local/ns/default/dc/dc1/svc/web}. */
  public final Credentials web = ca.issue(ca.identity("web"));
  private final RSAKey key;
  private final RSAKey other;

  public SecurityFixture() {
    try {
      key = new RSAKeyGenerator(2048).keyID("k1").generate();
      other = new RSAKeyGenerator(2048).keyID("k1").generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The caller of a name: sleep, curl, web, or null (plaintext). */
  public Credentials caller(String name) {
    return switch (name) {
      case "sleep" -> sleep;
      case "curl" -> curl;
      case "web" -> web;
      default -> null;
    };
  }

  /** The public key set of the issuer, as JSON. */
  public String jwks() {
    return new JWKSet(key.toPublicJWK()).toString();
  }

  /** A JWT of {@code ISSUER} for {@code sub}, valid for an hour, with {@code claims}. */
  public String token(String sub, Map<String, Object> claims) {
    Instant now = Instant.now();
    return sign(key, ISSUER, sub, now.minusSeconds(10), now.plusSeconds(3600), claims);
  }

  /** A JWT of another issuer. */
  public String tokenOfIssuer(String issuer, String sub) {
    Instant now = Instant.now();
    return sign(key, issuer, sub, now.minusSeconds(10), now.plusSeconds(3600), Map.of());
  }

  /** A JWT that expired two hours ago. */
  public String expiredToken(String sub) {
    Instant now = Instant.now();
    return sign(key, ISSUER, sub, now.minusSeconds(3 * 3600), now.minusSeconds(2 * 3600), Map.of());
  }

  /** A JWT valid only from an hour from now. */
  public String futureToken(String sub) {
    Instant now = Instant.now();
    return sign(key, ISSUER, sub, now.plusSeconds(3600), now.plusSeconds(7200), Map.of());
  }

  /** A JWT signed by another key under the same key id. */
  public String forgedToken(String sub) {
    Instant now = Instant.now();
    return sign(other, ISSUER, sub, now.minusSeconds(10), now.plusSeconds(3600), Map.of());
  }

  private static String sign(RSAKey k, String iss, String sub, Instant nbf, Instant exp, Map<String, Object> claims) {
    JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().issuer(iss).subject(sub).notBeforeTime(Date.from(nbf))
        .issueTime(Date.from(nbf)).expirationTime(Date.from(exp));
    claims.forEach((n, v) -> {
      if (n.equals("aud") && v instanceof List<?> l) {
        b.audience(l.stream().map(String::valueOf).toList());
      } else {
        b.claim(n, v);
      }
    });
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(k.getKeyID()).build(), b.build());
    try {
      jwt.sign(new RSASSASigner(k));
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
    return jwt.serialize();
  }
}
