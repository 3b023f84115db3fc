/**
 * Consul integration: {@link io.meshup.consul.ConsulRegistryProvider} plugs Consul into the mesh
 * as registry (health-checked instances by blocking queries), self-registration, and policy store
 * (Istio-style documents under a KV prefix). Everything else is in {@code internal}.
 */
package io.meshup.consul;
