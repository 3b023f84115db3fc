/**
 * In-process authorization of inbound calls: {@link io.meshup.core.internal.authz.InboundPolicy},
 * compiled from AuthorizationPolicy and PeerAuthentication documents, and the
 * {@link io.meshup.core.internal.authz.Authorizer} transports ask on every call.
 */
package io.meshup.core.internal.authz;
