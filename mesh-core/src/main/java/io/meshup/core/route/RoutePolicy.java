package io.meshup.core.route;

/**
 * What a matched route asks of every request it carries.
 *
 * @param name the route's name ({@code http[i].name}, or {@code http[i]} when unnamed); a metric tag
 * @param timeoutNanos the route timeout bounding all tries, or 0 for none
 * @param retries the retry settings
 * @param fault the fault injection
 */
public record RoutePolicy(String name, long timeoutNanos, RetryPolicy retries, FaultPolicy fault) {}
