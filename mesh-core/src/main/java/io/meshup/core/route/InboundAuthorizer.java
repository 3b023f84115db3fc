package io.meshup.core.route;

import io.meshup.core.identity.WorkloadIdentity;

/**
 * Decides whether this service's servers accept a call, from the AuthorizationPolicy,
 * PeerAuthentication and Consul intentions in force at the moment of the call (an update applies
 * to the next call), counting each refusal in {@code mesh.authz.denials}. Transports call it once
 * per call, before the application's handler runs.
 *
 * <p>Thread-safe; allocates nothing (every decision is built when the policy is compiled).
 */
public interface InboundAuthorizer {
  /**
   * Decides one call.
   *
   * @param caller the caller's verified identity, or null when the connection is plaintext
   * @param path the request path, {@code /package.Service/Method} for gRPC
   * @param method the request method, {@code POST} for gRPC
   */
  Decision authorize(WorkloadIdentity caller, String path, String method);

  /** What the transport does with the call. */
  enum Kind {
    /** Let the call through. */
    ALLOW,
    /** Refuse it: gRPC {@code PERMISSION_DENIED}, HTTP 403. */
    DENY,
    /** Refuse it because the caller is not authenticated: gRPC {@code UNAUTHENTICATED}, HTTP 401. */
    UNAUTHENTICATED
  }

  /** The outcome of one authorization. Immutable. */
  interface Decision {
    /** What to do with the call. */
    Kind kind();

    /** True when the call may go through. */
    boolean allowed();

    /** The deciding policy's name, or empty when allowed. */
    String policy();

    /** The deciding rule ({@code rules[0]}, {@code mtls}...), or empty when allowed. */
    String rule();

    /** A message naming the policy and rule, for the refused call's status; empty when allowed. */
    String message();
  }
}
