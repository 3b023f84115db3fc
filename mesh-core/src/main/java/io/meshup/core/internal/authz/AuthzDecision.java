package io.meshup.core.internal.authz;

import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.route.InboundAuthorizer.Kind;
import io.micrometer.core.instrument.Counter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The outcome of authorizing one call. Plain decisions are built when the policy is compiled, so
 * deciding allocates nothing; a decision that changes the request (a verified JWT, an external
 * authorizer's headers), an external authorizer's refusal and a pending one are made per call.
 * Immutable; thread-safe.
 */
public class AuthzDecision implements InboundAuthorizer.Decision {

  /** The decision to let a call through. */
  public static final AuthzDecision ALLOW = new AuthzDecision(Kind.ALLOW, "", "", "", null);

  private final Kind kind;
  private final String policy;
  private final String rule;
  private final String message;
  private final Counter counter;
  private final int httpStatus;
  private final List<Map.Entry<String, String>> responseHeaders;
  private final List<Map.Entry<String, String>> headersToSet;
  private final List<String> headersToRemove;

  AuthzDecision(Kind kind, String policy, String rule, String message, Counter counter) {
    this(kind, policy, rule, message, counter, kind == Kind.UNAUTHENTICATED ? 401 : kind == Kind.DENY ? 403 : 200,
        List.of(), List.of(), List.of());
  }

  AuthzDecision(Kind kind, String policy, String rule, String message, Counter counter, int httpStatus,
      List<Map.Entry<String, String>> responseHeaders, List<Map.Entry<String, String>> headersToSet,
      List<String> headersToRemove) {
    this.kind = kind;
    this.policy = policy;
    this.rule = rule;
    this.message = message;
    this.counter = counter;
    this.httpStatus = httpStatus;
    this.responseHeaders = responseHeaders;
    this.headersToSet = headersToSet;
    this.headersToRemove = headersToRemove;
  }

  /** An allowing decision that sets and removes request headers. */
  static AuthzDecision allowChanging(List<Map.Entry<String, String>> set, List<String> remove) {
    return new AuthzDecision(Kind.ALLOW, "", "", "", null, 200, List.of(), set, remove);
  }

  @Override
  public Kind kind() {
    return kind;
  }

  @Override
  public boolean allowed() {
    return kind == Kind.ALLOW;
  }

  /** The policy that refused the call ({@code none} when no ALLOW rule matched); empty when allowed. */
  @Override
  public String policy() {
    return policy;
  }

  /** The rule that refused the call, such as {@code rules[0]}; empty when allowed. */
  @Override
  public String rule() {
    return rule;
  }

  /** The message for the caller, naming the policy and rule; empty when allowed. */
  @Override
  public String message() {
    return message;
  }

  @Override
  public int httpStatus() {
    return httpStatus;
  }

  @Override
  public List<Map.Entry<String, String>> responseHeaders() {
    return responseHeaders;
  }

  @Override
  public List<Map.Entry<String, String>> requestHeadersToSet() {
    return headersToSet;
  }

  @Override
  public List<String> requestHeadersToRemove() {
    return headersToRemove;
  }

  void count() {
    if (counter != null) {
      counter.increment();
    }
  }

  @Override
  public String toString() {
    return allowed() ? "ALLOW" : kind + ": " + message;
  }

  /** A decision waiting for an external authorizer. */
  static final class Pending extends AuthzDecision {
    private final CompletionStage<InboundAuthorizer.Decision> outcome;

    Pending(CompletionStage<InboundAuthorizer.Decision> outcome) {
      super(Kind.PENDING, "", "", "meshup: waiting for the external authorizer", null);
      this.outcome = outcome;
    }

    @Override
    public CompletionStage<InboundAuthorizer.Decision> pending() {
      return outcome;
    }
  }
}
