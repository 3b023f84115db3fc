package io.meshup.http.internal;

import io.meshup.core.route.InboundAuthorizer;
import java.nio.charset.StandardCharsets;

/**
 * How both server adapters answer a refused request: 403 for a DENY decision, 401 for a plaintext
 * caller under a STRICT PeerAuthentication; the body is the decision's message, which names the
 * policy and rule ({@code meshup: denied by AuthorizationPolicy deny-legacy rules[0]}), and two
 * headers carry the policy and rule for machines. Stateless; the Spring Boot starter's servlet filter
 * answers the same way.
 */
public final class Denials {
  /** The deciding policy's name ({@code none} when no ALLOW rule matched). */
  public static final String POLICY_HEADER = "x-meshup-authz-policy";
  /** The deciding rule: {@code rules[0]}, {@code mtls}, or {@code none}. */
  public static final String RULE_HEADER = "x-meshup-authz-rule";
  /** The refusal body's content type. */
  public static final String CONTENT_TYPE = "text/plain; charset=utf-8";

  /** What an authorization that could not be decided (an asynchronous check failed) counts as: a refusal. */
  public static final InboundAuthorizer.Decision UNDECIDED = new InboundAuthorizer.Decision() {
    @Override public InboundAuthorizer.Kind kind() { return InboundAuthorizer.Kind.DENY; }
    @Override public boolean allowed() { return false; }
    @Override public String policy() { return "none"; }
    @Override public String rule() { return "none"; }
    @Override public String message() { return "meshup: the authorization could not be decided"; }
  };

  private Denials() {}

  /** The status a refusal is answered with: the decision's own when it is 4xx/5xx, else 401 or 403. */
  public static int status(InboundAuthorizer.Decision decision) {
    int s = decision.httpStatus();
    return s >= 400 && s <= 599 ? s : decision.kind() == InboundAuthorizer.Kind.UNAUTHENTICATED ? 401 : 403;
  }

  /** The refusal body: the decision's message and a newline, UTF-8. */
  public static byte[] body(InboundAuthorizer.Decision decision) {
    return (decision.message() + "\n").getBytes(StandardCharsets.UTF_8);
  }
}
