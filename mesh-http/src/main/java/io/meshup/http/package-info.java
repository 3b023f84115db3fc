/**
 * HTTP through the mesh: {@link io.meshup.http.MeshHttp} gives a {@link io.meshup.http.MeshHttpClient}
 * that sends {@code java.net.http} requests addressed to logical service names
 * ({@code http://payments/charges/42}); everything else lives in {@code io.meshup.http.internal}.
 */
package io.meshup.http;
