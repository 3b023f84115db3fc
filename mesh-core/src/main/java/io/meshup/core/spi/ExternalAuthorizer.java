package io.meshup.core.spi;

import io.meshup.core.route.InboundAuthorizer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * An external authorizer that AuthorizationPolicies with action {@code CUSTOM} delegate to, such
 * as Envoy's {@code ext_authz} gRPC service (what OPA's Envoy plugin serves). Made by an
 * {@link ExternalAuthorizerProvider} for one {@code mesh.security.extensionProviders} entry.
 *
 * <p>Threading: {@link #check} is called on a transport's thread, often an event loop: it must
 * read what it needs of the request before it returns and must not block. The stage may complete
 * on any thread. The mesh bounds each check by the provider's timeout and answers for it, failing
 * closed, when the stage fails or is late; a provider need not.
 */
public interface ExternalAuthorizer extends AutoCloseable {
  /** Asks whether {@code request} may go through. */
  CompletionStage<Answer> check(InboundAuthorizer.Request request);

  /** Releases the connection to the authorizer. */
  @Override
  void close();

  /**
   * The authorizer's answer.
   *
   * @param allowed whether the request may go on
   * @param httpStatus the status of a refusal (403 when the authorizer gives none)
   * @param body the body of a refusal (may be empty)
   * @param responseHeaders headers sent with a refusal
   * @param headersToSet request headers (lower-case names) to set before the handler sees an allowed request
   * @param headersToRemove request headers (lower-case names) to remove from an allowed request
   */
  record Answer(boolean allowed, int httpStatus, String body, List<Map.Entry<String, String>> responseHeaders,
      List<Map.Entry<String, String>> headersToSet, List<String> headersToRemove) {
    /** An allowing answer that changes nothing. */
    public static final Answer ALLOW = new Answer(true, 200, "", List.of(), List.of(), List.of());

    public Answer {
      responseHeaders = List.copyOf(responseHeaders);
      headersToSet = List.copyOf(headersToSet);
      headersToRemove = List.copyOf(headersToRemove);
    }
  }
}
