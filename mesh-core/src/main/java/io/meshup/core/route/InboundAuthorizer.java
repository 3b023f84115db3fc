package io.meshup.core.route;

import io.meshup.core.identity.MtlsMode;
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

  /**
   * The mutual TLS mode that a PeerAuthentication in force sets for this service's servers, or
   * null when there is none or it says UNSET; servers then keep the mode they were built with.
   * Transports read it for each new connection, so a policy update changes what the next
   * connection may be (connections already open keep theirs, and their calls are still refused
   * per call when a STRICT mode meets a plaintext caller).
   */
  default MtlsMode peerAuthenticationMode() {
    return null;
  }

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
