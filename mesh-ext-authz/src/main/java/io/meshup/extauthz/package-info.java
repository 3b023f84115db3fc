/**
 * CUSTOM AuthorizationPolicies decided by an external authorizer that speaks Envoy's
 * {@code ext_authz} gRPC API ({@code envoy.service.auth.v3.Authorization/Check}), the protocol
 * OPA's Envoy plugin serves. Put this module on the class path and name the authorizer in
 * {@code mesh.security.extensionProviders} ({@code envoyExtAuthzGrpc: {service, port, timeout,
 * failOpen, statusOnError}}); the servers of mesh-grpc and mesh-http then hold each call a CUSTOM
 * policy matches until the authorizer answers, without blocking a thread. There is no public API:
 * the mesh finds the provider through {@link io.meshup.core.spi.ExternalAuthorizerProvider}.
 */
package io.meshup.extauthz;
