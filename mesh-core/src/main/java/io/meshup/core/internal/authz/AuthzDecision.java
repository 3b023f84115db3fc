package io.meshup.core.internal.authz;

import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.route.InboundAuthorizer.Kind;
import io.micrometer.core.instrument.Counter;

/**
 * The outcome of authorizing one call. Every decision is built when the policy is compiled, so
 * deciding allocates nothing. Immutable; thread-safe.
 */
public final class AuthzDecision implements InboundAuthorizer.Decision {

  /** The decision to let a call through. */
  public static final AuthzDecision ALLOW = new AuthzDecision(Kind.ALLOW, "", "", "", null);

  private final Kind kind;
  private final String policy;
  private final String rule;
  private final String message;
  private final Counter counter;

  AuthzDecision(Kind kind, String policy, String rule, String message, Counter counter) {
    this.kind = kind;
    this.policy = policy;
    this.rule = rule;
    this.message = message;
    this.counter = counter;
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

  void count() {
    if (counter != null) {
      counter.increment();
    }
  }

  @Override
  public String toString() {
    return allowed() ? "ALLOW" : kind + ": " + message;
  }
}
