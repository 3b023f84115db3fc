package io.meshup.core.internal.authz;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Decides whether this service's servers accept a call, from the {@link InboundPolicy} in force at
 * the moment of the call (a policy update applies to the next call, with no restart), and counts
 * each refusal in {@code mesh.authz.denials}. Thread-safe; allocates nothing.
 *
 * <p>Transports call it once per call, before the application's handler runs, with the caller's
 * verified identity (null for plaintext), the request path and method.
 */
public final class Authorizer implements InboundAuthorizer {
  private final Supplier<InboundPolicy> policy;

  /** An authorizer that reads the policy from {@code policy} at every call. */
  public Authorizer(Supplier<InboundPolicy> policy) {
    this.policy = Objects.requireNonNull(policy, "policy");
  }

  /**
   * Decides one call and counts it when refused.
   *
   * @param caller the caller's verified identity, or null when the connection is plaintext
   * @param path the request path, {@code /package.Service/Method} for gRPC
   * @param method the request method, {@code POST} for gRPC
   */
  @Override
  public AuthzDecision authorize(WorkloadIdentity caller, String path, String method) {
    AuthzDecision d = policy.get().evaluate(caller, path, method);
    if (!d.allowed()) {
      d.count();
    }
    return d;
  }

  @Override
  public MtlsMode peerAuthenticationMode() {
    return policy.get().peerMode();
  }

  /** The policy in force now. */
  public InboundPolicy policy() {
    return policy.get();
  }
}
