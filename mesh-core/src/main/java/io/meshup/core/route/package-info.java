/**
 * The request path as transports see it: {@link io.meshup.core.route.ServiceRouter} matches a
 * request to a route and draws a weighted {@link io.meshup.core.route.RouteTarget}; the target
 * guards the destination subset (circuit breaker, concurrency limit), picks an endpoint and
 * records the outcome.
 *
 * <p>Used by {@code mesh-grpc} and {@code mesh-http}; applications rarely touch it. Everything here
 * is thread-safe, never blocks, and allocates nothing on the success path.
 */
package io.meshup.core.route;
