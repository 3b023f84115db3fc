package io.meshup.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Mesh;
import io.meshup.core.MeshConfigException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Bad {@code mesh.registry.etcd} settings stop the start with the key named; nothing is sent to etcd. */
class EtcdSettingsTest {
  static String yaml(String etcd) {
    return """
        mesh:
          service: checkout
          registry:
            type: etcd
            etcd: %s
        """.formatted(etcd);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      { endpoint: [127.0.0.1:2379] }                                  | mesh.registry.etcd.endpoint      | unknown
      { endpoints: [] }                                               | endpoints                        | is empty
      { endpoints: ['ftp://127.0.0.1:2379'] }                         | endpoints                        | other than http
      { endpoints: ['127.0.0.1'] }                                    | endpoints                        | not an address
      { endpoints: ['http://a:1', 'https://b:2'] }                    | endpoints                        | mix http
      { endpoints: ['http://127.0.0.1:2379'], tls: {} }               | tls                              | http://
      { tls: { certFile: c.pem } }                                    | mesh.registry.etcd.tls.keyFile   | is required
      { tls: { keyFile: k.pem } }                                     | mesh.registry.etcd.tls.certFile  | is required
      { tls: { cafile: ca.pem } }                                     | mesh.registry.etcd.tls.cafile    | unknown
      { password: x }                                                 | username                         | is required
      { username: u }                                                 | password                         | is required
      { requestTimeout: 10ms }                                        | requestTimeout                   | out of range
      { backoff: { initial: 1ms } }                                   | backoff.initial                  | too short
      { backoff: { initial: 2s, max: 1s } }                           | backoff.max                      | out of range
      { discovery: { prefx: a/ } }                                    | discovery.prefx                  | unknown
      { registration: { address: 127.0.0.1 } }                        | registration.port                | is required
      { registration: { port: 70000 } }                               | registration.port                | 70000
      { registration: { port: 80, ttl: 1s } }                         | registration.ttl                 | whole seconds
      { registration: { port: 80, ttl: 2500ms } }                     | registration.ttl                 | whole seconds
      { registration: { port: 80, name: 'a/b' } }                     | registration.name                | without '/'
      { registration: { port: 80, drainTime: 10m } }                  | registration.drainTime           | out of range
      { kv: { prefix: '' } }                                          | kv.prefix                        | must not be empty
      """)
  void badSettingsNameTheKey(String etcd, String key, String problem) {
    assertThatThrownBy(() -> Mesh.fromYamlString(yaml(etcd)))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining(key)
        .hasMessageContaining(problem);
  }

  @ParameterizedTest
  @CsvSource({"http://meshup:hunter2@127.0.0.1:2379", "https://meshup:hunter2@127.0.0.1:2379"})
  void credentialsInAnEndpointAreRefusedWithoutBeingRepeated(String endpoint) {
    assertThatThrownBy(() -> Mesh.fromYamlString(yaml("{ endpoints: ['" + endpoint + "'] }")))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("endpoints")
        .hasMessageContaining("credentials")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
  }
}
