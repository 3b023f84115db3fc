package io.meshup.core.route;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Decides whether this service's servers accept a call, from the AuthorizationPolicy,
 * PeerAuthentication, RequestAuthentication and Consul intentions in force at the moment of the
 * call (an update applies to the next call), counting each refusal in {@code mesh.authz.denials}.
 * Transports call it once per call, before the application's handler runs.
 *
 * <p>Thread-safe. A call that no JWT, external authorizer or audit concerns allocates nothing
 * (every such decision is built when the policy is compiled).
 */
public interface InboundAuthorizer {
  /**
   * Decides one call from its caller, path and method only (no headers, addresses or ports are
   * known: conditions on them do not match).
   *
   * @param caller the caller's verified identity, or null when the connection is plaintext
   * @param path the request path, {@code /package.Service/Method} for gRPC
   * @param method the request method, {@code POST} for gRPC
   */
  Decision authorize(WorkloadIdentity caller, String path, String method);

  /**
   * Decides one call with everything the transport knows of it. The decision may be
   * {@link Kind#PENDING} when an external authorizer (an AuthorizationPolicy with action CUSTOM)
   * must answer: the transport then holds the call until {@link Decision#pending()} completes,
   * which it always does, within the provider's timeout. The request is read only during this
   * method, so a transport may reuse it.
   *
   * <p>By default the request's caller, path and method are passed to
   * {@link #authorize(WorkloadIdentity, String, String)}.
   */
  default Decision authorize(Request request) {
    return authorize(request.caller(), request.path(), request.method());
  }

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

  /**
   * As {@link #peerAuthenticationMode()} for a connection to the server's local {@code port}
   * (PeerAuthentication {@code portLevelMtls}).
   */
  default MtlsMode peerAuthenticationMode(int port) {
    return peerAuthenticationMode();
  }

  /** What the transport does with the call. */
  enum Kind {
    /** Let the call through. */
    ALLOW,
    /** Refuse it: gRPC {@code PERMISSION_DENIED}, HTTP 403 (or {@link Decision#httpStatus()}). */
    DENY,
    /** Refuse it because the caller is not authenticated: gRPC {@code UNAUTHENTICATED}, HTTP 401. */
    UNAUTHENTICATED,
    /**
     * Not decided yet: an external authorizer is asked; hold the call until
     * {@link Decision#pending()} completes with the final decision. A transport that does not
     * know this kind refuses the call (it is not {@link Decision#allowed()}).
     */
    PENDING
  }

  /**
   * What a transport knows of one inbound call, read by the authorizer without copying. Header
   * names are asked in lower case. Implementations are used by one thread at a time.
   */
  interface Request {
    /** The caller's verified identity, or null when the connection is plaintext. */
    WorkloadIdentity caller();

    /** The normalized path without the query, {@code /package.Service/Method} for gRPC. */
    String path();

    /** The method in upper case, {@code POST} for gRPC. */
    String method();

    /** The raw query (without {@code ?}), or null when there is none. */
    default String query() {
      return null;
    }

    /**
     * The request's header {@code lowerCaseName}, its values joined with {@code ","} when it
     * appears more than once (as Envoy joins them), or null when absent.
     */
    default String header(String lowerCaseName) {
      return null;
    }

    /** The names of all the request's headers, in lower case (for the external authorizer). */
    default List<String> headerNames() {
      return List.of();
    }

    /** The request's host ({@code Host} or {@code :authority}), or null. */
    default String host() {
      return header("host");
    }

    /** The peer's address, or null when unknown. */
    default InetAddress sourceAddress() {
      return null;
    }

    /** The peer's port, or 0 when unknown. */
    default int sourcePort() {
      return 0;
    }

    /** The server's local address, or null when unknown. */
    default InetAddress destinationAddress() {
      return null;
    }

    /** The server's local port the call came in on, or 0 when unknown. */
    default int destinationPort() {
      return 0;
    }

    /** The server name the TLS client asked for (SNI), or null. */
    default String serverName() {
      return null;
    }

    /** {@code http}, {@code https} (or the gRPC equivalent). */
    default String scheme() {
      return caller() == null ? "http" : "https";
    }

    /** {@code HTTP/1.1} or {@code HTTP/2}. */
    default String protocol() {
      return "HTTP/1.1";
    }
  }

  /** The outcome of one authorization. Immutable. */
  interface Decision {
    /** What to do with the call. */
    Kind kind();

    /** True when the call may go through. */
    boolean allowed();

    /** The deciding policy's name, or empty when allowed. */
    String policy();

    /** The deciding rule ({@code rules[0]}, {@code mtls}, {@code jwt}...), or empty when allowed. */
    String rule();

    /** A message naming the policy and rule, for the refused call's status; empty when allowed. */
    String message();

    /** The HTTP status of a refusal: 403 for DENY, 401 for UNAUTHENTICATED unless an external authorizer chose another. */
    default int httpStatus() {
      return kind() == Kind.UNAUTHENTICATED ? 401 : kind() == Kind.DENY ? 403 : 200;
    }

    /** Headers to send with a refusal (an external authorizer's, or {@code www-authenticate}). */
    default List<Map.Entry<String, String>> responseHeaders() {
      return List.of();
    }

    /**
     * Headers (lower-case names) to set on the request before the handler sees it when allowed:
     * a JWT's payload ({@code outputPayloadToHeader}), claims, an external authorizer's.
     */
    default List<Map.Entry<String, String>> requestHeadersToSet() {
      return List.of();
    }

    /** Headers (lower-case names) to remove from the request before the handler sees it, such as a verified JWT's. */
    default List<String> requestHeadersToRemove() {
      return List.of();
    }

    /** For {@link Kind#PENDING}: the final decision, never PENDING itself; for others, this decision. */
    default CompletionStage<Decision> pending() {
      return CompletableFuture.completedFuture(this);
    }
  }
}
