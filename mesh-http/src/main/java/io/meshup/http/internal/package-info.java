/**
 * The machinery of mesh-http. Outbound: {@link io.meshup.http.internal.HttpTransport} resolves
 * routers and owns the underlying {@code HttpClient}s (one per destination service with mutual
 * TLS, whose contexts never resume sessions); an {@code Exchange} runs one request's attempts;
 * {@code HttpOutcomes} holds the status, outcome and retry rules. Inbound: {@code JdkServers} and
 * its authorizing filter for the JDK's server, {@code NettyAdapter} and its per-connection handler
 * for Netty, {@code Denials} for how both answer a refused request, mesh-core's {@code TlsPeers} for the peer
 * identity of a TLS session. Not an API: may change in any release.
 */
package io.meshup.http.internal;
