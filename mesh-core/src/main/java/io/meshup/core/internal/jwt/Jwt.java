package io.meshup.core.internal.jwt;

import com.nimbusds.jwt.JWTClaimsSet;
import java.util.List;
import java.util.Map;

/**
 * A verified JWT of one request: its claims for {@code requestPrincipals} and
 * {@code request.auth.*} conditions, and what the request must carry on to the handler. Immutable.
 */
public final class Jwt {
  private final JWTClaimsSet claims;
  private final String issuer;
  private final String subject;
  private final String payload;
  private final JwtAuthenticator.Rule rule;
  private final String header;

  Jwt(JWTClaimsSet claims, String payload, JwtAuthenticator.Rule rule, String header) {
    this.claims = claims;
    this.issuer = claims.getIssuer();
    this.subject = claims.getSubject();
    this.payload = payload;
    this.rule = rule;
    this.header = header;
  }

  /** {@code iss}. */
  public String issuer() {
    return issuer;
  }

  /** {@code sub}, or null. */
  public String subject() {
    return subject;
  }

  /** {@code aud}, empty when absent. */
  public List<String> audiences() {
    List<String> a = claims.getAudience();
    return a == null ? List.of() : a;
  }

  /** {@code azp}, or null. */
  public String presenter() {
    Object azp = claims.getClaim("azp");
    return azp instanceof String s ? s : null;
  }

  /**
   * The claim at {@code path} (nested claims one name per element): a String, a List, a Map, a
   * Number or a Boolean; null when absent.
   */
  public Object claim(String[] path) {
    Object v = claims.getClaim(path[0]);
    for (int i = 1; i < path.length && v != null; i++) {
      v = v instanceof Map<?, ?> m ? m.get(path[i]) : null;
    }
    return v;
  }

  /** The payload segment, base64url as the token carried it (for {@code outputPayloadToHeader}). */
  public String payload() {
    return payload;
  }

  JwtAuthenticator.Rule rule() {
    return rule;
  }

  /** The header the token came in, or null when it came in a query parameter or cookie. */
  String header() {
    return header;
  }
}
