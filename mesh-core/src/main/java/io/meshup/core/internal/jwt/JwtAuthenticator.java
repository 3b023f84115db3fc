package io.meshup.core.internal.jwt;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.AsymmetricJWK;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshup.core.MeshClock;
import io.meshup.core.internal.policy.PolicyModel.ClaimToHeader;
import io.meshup.core.internal.policy.PolicyModel.JwtFailureMode;
import io.meshup.core.internal.policy.PolicyModel.JwtHeader;
import io.meshup.core.internal.policy.PolicyModel.JwtRule;
import io.meshup.core.route.InboundAuthorizer;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.Key;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;

/**
 * Validates the end-user JWTs of the RequestAuthentications that apply to this workload, as
 * Envoy's {@code jwt_authn} filter does for Istio: a token is looked for where each rule says (by
 * default the {@code Authorization: Bearer} header and the {@code access_token} query parameter);
 * its issuer must be a rule's, its signature verify with a key of the rule's key set (nimbus-jose-jwt
 * does the cryptography; the key type must fit the algorithm), {@code exp} and {@code nbf} hold at
 * the mesh clock's time within {@link #CLOCK_SKEW_SECONDS}, and {@code aud} must hold one of the
 * rule's audiences when it lists any. A request without a token passes with no identity; one whose
 * token fails every rule is refused (401); {@code failureMode} changes both. Immutable;
 * thread-safe. A request with no token allocates nothing.
 */
public final class JwtAuthenticator {
  /** Envoy's default {@code clock_skew_seconds}. */
  public static final long CLOCK_SKEW_SECONDS = 60;
  /** Tokens longer than this are refused unread. */
  static final int MAX_TOKEN_CHARS = 64 * 1024;
  private static final JwtHeader DEFAULT_HEADER = new JwtHeader("authorization", "Bearer ");
  private static final String DEFAULT_PARAM = "access_token";

  /** Why a token was refused; the {@code reason} of the refusal. */
  public enum Reason {
    MISSING("Jwt is missing"),
    MALFORMED("Jwt is not in the form of Header.Payload.Signature"),
    ISSUER("Jwt issuer is not configured"),
    EXPIRED("Jwt is expired"),
    NOT_YET_VALID("Jwt is not yet valid"),
    AUDIENCE("Audiences in Jwt are not allowed"),
    NO_KEY("Jwks doesn't have key to match kid or alg from Jwt"),
    SIGNATURE("Jwt verification fails"),
    KEYS_UNAVAILABLE("Jwks is not available");

    private final String message;

    Reason(String message) {
      this.message = message;
    }

    /** The message, in Envoy's words. */
    public String message() {
      return message;
    }

    /** The lower-case tag value. */
    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** One compiled rule: the policy it belongs to, the rule and its keys. */
  public static final class Rule {
    final String policy;
    final JwtRule rule;
    final KeySource keys;
    final JwtHeader[] headers;
    final String[] params;
    final String[] cookies;

    public Rule(String policy, JwtRule rule, KeySource keys) {
      this.policy = policy;
      this.rule = rule;
      this.keys = keys;
      boolean explicit = !rule.fromHeaders().isEmpty() || !rule.fromParams().isEmpty() || !rule.fromCookies().isEmpty();
      this.headers = (explicit ? rule.fromHeaders() : List.of(DEFAULT_HEADER)).toArray(new JwtHeader[0]);
      this.params = (explicit ? rule.fromParams() : List.of(DEFAULT_PARAM)).toArray(new String[0]);
      this.cookies = rule.fromCookies().toArray(new String[0]);
    }

    /** The RequestAuthentication this rule is of. */
    public String policy() {
      return policy;
    }

    /** The rule. */
    public JwtRule rule() {
      return rule;
    }
  }

  /** The outcome for one request: a verified token, none, or a refusal. */
  public static final class Outcome {
    static final Outcome NONE = new Outcome(null, null, null);
    private final Jwt jwt;
    private final Reason reason;
    private final Rule rule;

    Outcome(Jwt jwt, Reason reason, Rule rule) {
      this.jwt = jwt;
      this.reason = reason;
      this.rule = rule;
    }

    /** The verified token, or null. */
    public Jwt jwt() {
      return jwt;
    }

    /** Why the request is refused, or null when it is not. */
    public Reason refused() {
      return reason;
    }

    /** The rule whose policy refused it (or that verified the token). */
    public Rule rule() {
      return rule;
    }
  }

  private final Rule[] rules;
  private final MeshClock clock;
  private final boolean anyStrict;

  public JwtAuthenticator(List<Rule> rules, MeshClock clock) {
    this.rules = rules.toArray(new Rule[0]);
    this.clock = clock;
    boolean strict = false;
    for (Rule r : rules) {
      strict |= r.rule.failureMode() == JwtFailureMode.STRICT;
    }
    this.anyStrict = strict;
  }

  /** Whether no rule applies. */
  public boolean isEmpty() {
    return rules.length == 0;
  }

  /** Finds and checks the request's tokens. */
  public Outcome authenticate(InboundAuthorizer.Request request) {
    Outcome firstFailure = null;
    boolean found = false;
    for (Rule r : rules) {
      for (JwtHeader h : r.headers) {
        String value = request.header(h.name());
        if (value == null) {
          continue;
        }
        String token = stripPrefix(value, h.prefix());
        if (token == null) {
          continue;
        }
        found = true;
        Outcome o = verify(r, token, h.name());
        if (o.jwt != null) {
          return o;
        }
        firstFailure = better(firstFailure, o);
      }
      if (r.params.length > 0 || r.cookies.length > 0) {
        String query = r.params.length == 0 ? null : request.query();
        for (String p : r.params) {
          String token = param(query, p);
          if (token != null) {
            found = true;
            Outcome o = verify(r, token, null);
            if (o.jwt != null) {
              return o;
            }
            firstFailure = better(firstFailure, o);
          }
        }
        for (String c : r.cookies) {
          String token = cookie(request.header("cookie"), c);
          if (token != null) {
            found = true;
            Outcome o = verify(r, token, null);
            if (o.jwt != null) {
              return o;
            }
            firstFailure = better(firstFailure, o);
          }
        }
      }
    }
    if (found) {
      return firstFailure.rule.rule.failureMode() == JwtFailureMode.IGNORE ? Outcome.NONE : firstFailure;
    }
    if (anyStrict) {
      for (Rule r : rules) {
        if (r.rule.failureMode() == JwtFailureMode.STRICT) {
          return new Outcome(null, Reason.MISSING, r);
        }
      }
    }
    return Outcome.NONE;
  }

  /** The more telling of two failures: one from a rule whose issuer matched beats an issuer mismatch. */
  private static Outcome better(Outcome a, Outcome b) {
    if (a == null) {
      return b;
    }
    return a.reason == Reason.ISSUER && b.reason != Reason.ISSUER ? b : a;
  }

  private static String stripPrefix(String value, String prefix) {
    if (prefix.isEmpty()) {
      return value.isEmpty() ? null : value;
    }
    if (!value.regionMatches(true, 0, prefix, 0, prefix.length())) {
      return null;
    }
    String t = value.substring(prefix.length()).trim();
    return t.isEmpty() ? null : t;
  }

  private static String param(String query, String name) {
    if (query == null) {
      return null;
    }
    int i = 0;
    while (i <= query.length()) {
      int amp = query.indexOf('&', i);
      int end = amp < 0 ? query.length() : amp;
      int eq = query.indexOf('=', i);
      if (eq > i && eq < end && eq - i == name.length() && query.regionMatches(i, name, 0, name.length())) {
        String v = URLDecoder.decode(query.substring(eq + 1, end), StandardCharsets.UTF_8);
        return v.isEmpty() ? null : v;
      }
      if (amp < 0) {
        break;
      }
      i = amp + 1;
    }
    return null;
  }

  private static String cookie(String header, String name) {
    if (header == null) {
      return null;
    }
    for (String part : header.split(";")) {
      String p = part.trim();
      if (p.length() > name.length() && p.startsWith(name) && p.charAt(name.length()) == '=') {
        String v = p.substring(name.length() + 1);
        return v.isEmpty() ? null : v;
      }
    }
    return null;
  }

  private Outcome verify(Rule r, String token, String header) {
    if (token.length() > MAX_TOKEN_CHARS) {
      return new Outcome(null, Reason.MALFORMED, r);
    }
    SignedJWT jwt;
    JWTClaimsSet claims;
    try {
      jwt = SignedJWT.parse(token);
      claims = jwt.getJWTClaimsSet();
    } catch (ParseException | RuntimeException e) {
      return new Outcome(null, Reason.MALFORMED, r);
    }
    if (!r.rule.issuer().equals(claims.getIssuer())) {
      return new Outcome(null, Reason.ISSUER, r);
    }
    long now = clock.currentTimeMillis();
    Date exp = claims.getExpirationTime();
    if (exp != null && now > exp.getTime() + CLOCK_SKEW_SECONDS * 1000) {
      return new Outcome(null, Reason.EXPIRED, r);
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && now < nbf.getTime() - CLOCK_SKEW_SECONDS * 1000) {
      return new Outcome(null, Reason.NOT_YET_VALID, r);
    }
    if (!r.rule.audiences().isEmpty()) {
      List<String> aud = claims.getAudience();
      boolean ok = false;
      for (String a : aud == null ? List.<String>of() : aud) {
        ok |= r.rule.audiences().contains(a);
      }
      if (!ok) {
        return new Outcome(null, Reason.AUDIENCE, r);
      }
    }
    Reason failure = signature(r, jwt);
    if (failure != null) {
      return new Outcome(null, failure, r);
    }
    return new Outcome(new Jwt(claims, jwt.getParsedParts()[1].toString(), r, header), null, r);
  }

  /** Null when a key of the rule's set verifies the signature, else why not. */
  private static Reason signature(Rule r, SignedJWT jwt) {
    JWKSet set = r.keys.keys();
    if (set == null) {
      return Reason.KEYS_UNAVAILABLE;
    }
    JWSHeader header = jwt.getHeader();
    JWKMatcher matcher = JWKMatcher.forJWSHeader(header);
    if (matcher == null) {
      return Reason.SIGNATURE;
    }
    List<JWK> candidates = new JWKSelector(matcher).select(set);
    if (candidates.isEmpty()) {
      r.keys.refreshSoon();
      return Reason.NO_KEY;
    }
    DefaultJWSVerifierFactory factory = new DefaultJWSVerifierFactory();
    for (JWK k : candidates) {
      try {
        Key key = k instanceof AsymmetricJWK a ? a.toPublicKey() : k instanceof OctetSequenceKey o ? o.toSecretKey() : null;
        if (key == null) {
          continue;
        }
        JWSVerifier verifier = factory.createJWSVerifier(header, key);
        if (jwt.verify(verifier)) {
          return null;
        }
      } catch (JOSEException | RuntimeException e) {
        // this key cannot verify this token: try the next
      }
    }
    return Reason.SIGNATURE;
  }

  /** The request headers a verified token sets ({@code outputPayloadToHeader}, {@code outputClaimToHeaders}). */
  public static List<java.util.Map.Entry<String, String>> headersToSet(Jwt jwt) {
    JwtRule rule = jwt.rule().rule;
    if (rule.outputPayloadToHeader() == null && rule.outputClaimToHeaders().isEmpty()) {
      return List.of();
    }
    List<java.util.Map.Entry<String, String>> out = new ArrayList<>();
    if (rule.outputPayloadToHeader() != null) {
      out.add(java.util.Map.entry(rule.outputPayloadToHeader(), jwt.payload()));
    }
    for (ClaimToHeader c : rule.outputClaimToHeaders()) {
      Object v = jwt.claim(c.claim().split("\\."));
      if (v instanceof String || v instanceof Number || v instanceof Boolean) {
        String s = String.valueOf(v);
        if (s.indexOf('\r') < 0 && s.indexOf('\n') < 0) {
          out.add(java.util.Map.entry(c.header(), s));
        }
      }
    }
    return out;
  }

  /** The header to remove from the request: the verified token's, unless {@code forwardOriginalToken}. */
  public static String headerToRemove(Jwt jwt) {
    return jwt.rule().rule.forwardOriginalToken() ? null : jwt.header();
  }
}
