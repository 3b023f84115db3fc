package io.meshup.core.internal.authz;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Decides whether this service's servers accept a call, from the {@link InboundPolicy} in force at
 * the moment of the call (a policy update applies to the next call, with no restart), and counts
 * each refusal in {@code mesh.authz.denials} (a pending one when it is decided). Thread-safe; a
 * plain decision allocates nothing.
 *
 * <p>Transports call it once per call, before the application's handler runs.
 */
public final class Authorizer implements InboundAuthorizer {
  private final Supplier<InboundPolicy> policy;
  /** A reusable view for the three-argument form: the request is read only during the call. */
  private final ThreadLocal<Mutable> views = ThreadLocal.withInitial(Mutable::new);

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
    Mutable m = views.get();
    m.caller = caller;
    m.path = path;
    m.method = method;
    try {
      Decision d = authorize(m);
      return d instanceof AuthzDecision a ? a : new AuthzDecision(d.kind(), d.policy(), d.rule(), d.message(), null);
    } finally {
      m.caller = null;
    }
  }

  @Override
  public Decision authorize(Request request) {
    Decision d = policy.get().evaluate(request);
    if (d.kind() == Kind.PENDING) {
      d.pending().whenComplete((f, e) -> {
        if (f instanceof AuthzDecision a && !a.allowed()) {
          a.count();
        }
      });
    } else if (!d.allowed() && d instanceof AuthzDecision a) {
      a.count();
    }
    return d;
  }

  @Override
  public MtlsMode peerAuthenticationMode() {
    return policy.get().peerMode();
  }

  @Override
  public MtlsMode peerAuthenticationMode(int port) {
    return policy.get().peerMode(port);
  }

  /** The policy in force now. */
  public InboundPolicy policy() {
    return policy.get();
  }

  private static final class Mutable implements Request {
    WorkloadIdentity caller;
    String path;
    String method;

    @Override
    public WorkloadIdentity caller() {
      return caller;
    }

    @Override
    public String path() {
      return path;
    }

    @Override
    public String method() {
      return method;
    }
  }
}
