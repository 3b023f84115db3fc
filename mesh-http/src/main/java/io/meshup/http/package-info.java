/**
 * HTTP through the mesh. Outbound: {@link io.meshup.http.MeshHttp} gives a
 * {@link io.meshup.http.MeshHttpClient} that sends {@code java.net.http} requests addressed to
 * logical service names ({@code http://payments/charges/42}), over mutual TLS when the mesh has
 * certificates. Inbound: {@link io.meshup.http.MeshHttpServers} (the JDK's {@code HttpServer}) and
 * {@link io.meshup.http.MeshNettyHttp} (Netty) authenticate callers by SPIFFE ID and authorize
 * each request. Everything else lives in {@code io.meshup.http.internal}.
 */
package io.meshup.http;
