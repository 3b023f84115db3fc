/**
 * The machinery of {@link io.meshup.http.MeshHttpClient}: {@link io.meshup.http.internal.HttpTransport}
 * resolves routers and owns the underlying {@code HttpClient}s; an {@code Exchange} runs one
 * request's attempts; {@code HttpOutcomes} holds the status, outcome and retry rules.
 * Not an API: may change in any release.
 */
package io.meshup.http.internal;
