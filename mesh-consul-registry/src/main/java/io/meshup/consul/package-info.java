/**
 * Consul integration: {@link io.meshup.consul.ConsulRegistryProvider} plugs Consul into the mesh
 * as registry (health-checked instances by blocking queries), self-registration, and policy store
 * (Istio-style documents under a KV prefix, config entries, intentions);
 * {@link io.meshup.consul.ConsulConnectProvider} makes Consul Connect's CA the mesh's certificate
 * source. Everything else is in {@code internal}.
 */
package io.meshup.consul;
