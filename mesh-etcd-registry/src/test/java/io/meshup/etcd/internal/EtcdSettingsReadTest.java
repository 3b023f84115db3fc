package io.meshup.etcd.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.internal.config.NodeSettings;
import io.meshup.core.internal.config.YamlReader;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a valid {@code mesh.registry.etcd} section means. */
class EtcdSettingsReadTest {
  static EtcdSettings read(String yaml) {
    return EtcdSettings.read(new NodeSettings(new YamlReader(k -> null).read("test", yaml)), "checkout");
  }

  @Test
  void defaultsAreOneLocalMemberTheServicesPrefixAndNoRegistrationOrPolicy() {
    EtcdSettings s = read("{}");
    assertThat(s.endpoints()).containsExactly(new EtcdSettings.Member("127.0.0.1", 2379));
    assertThat(s.tls()).isFalse();
    assertThat(s.discoveryPrefix()).isEqualTo("services/");
    assertThat(s.registration()).isNull();
    assertThat(s.kvPrefix()).isNull();
    assertThat(s.requestTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(s.initialBackoff()).isEqualTo(Duration.ofMillis(100));
    assertThat(s.maxBackoff()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void endpointsMayBeCommaSeparatedAndHttpsMeansTls() {
    EtcdSettings s = read("{ endpoints: ['https://10.0.0.1:2379,https://[::1]:2379', 'https://etcd-3.example:2379'] }");
    assertThat(s.endpoints()).containsExactly(new EtcdSettings.Member("10.0.0.1", 2379),
        new EtcdSettings.Member("::1", 2379), new EtcdSettings.Member("etcd-3.example", 2379));
    assertThat(s.endpoints().get(1)).hasToString("[::1]:2379");
    assertThat(s.tls()).isTrue();
  }

  @Test
  void aRegistrationDefaultsToTheServiceNameAndAnIdOfAddressAndPort() {
    EtcdSettings s = read("{ registration: { port: 8080, metadata: { version: v2 } }, kv: {}, discovery: { prefix: /grpc } }");
    assertThat(s.registration()).isEqualTo(new EtcdSettings.Registration("checkout", "127.0.0.1:8080", "127.0.0.1", 8080,
        Map.of("version", "v2"), Duration.ofSeconds(10), Duration.ofSeconds(1)));
    assertThat(s.kvPrefix()).isEqualTo("meshup/config/");
    assertThat(s.discoveryPrefix()).isEqualTo("/grpc/");
  }

  @Test
  void thePasswordIsNeverInTheTextOfTheSettings() {
    EtcdSettings s = read("{ username: meshup, password: hunter2 }");
    assertThat(s.password()).isEqualTo("hunter2");
    assertThat(s.toString()).contains("meshup").contains("not shown").doesNotContain("hunter2");
    assertThat(List.of(s).toString()).doesNotContain("hunter2");
  }
}
