/**
 * etcd integration: {@link io.meshup.etcd.EtcdRegistryProvider} plugs an etcd v3 cluster into the
 * mesh as registry (watches on etcd's Go naming layout), self-registration (a lease kept alive), and
 * policy store (Istio-style documents under a key prefix). Everything else is in {@code internal}.
 */
package io.meshup.etcd;
