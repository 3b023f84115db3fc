package io.meshup.etcd.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.Endpoint;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The Go naming package's value format, read and written. */
class GoEndpointsTest {
  static Endpoint parse(String id, String json) throws GoEndpoints.InvalidEntry {
    return GoEndpoints.parse(id, json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void readsAddrAndScalarMetadataAsLabels() throws Exception {
    Endpoint e = parse("e1", "{\"Op\":0,\"Addr\":\"10.1.2.3:8080\",\"Metadata\":{\"version\":\"v2\",\"canary\":true,"
        + "\"shard\":7,\"nested\":{\"a\":1},\"list\":[1]}}");
    assertThat(e).isEqualTo(new Endpoint("e1", "10.1.2.3", 8080, Map.of("version", "v2", "canary", "true", "shard", "7"), 1));
  }

  @Test
  void readsBracketedIpv6AndTheWeight() throws Exception {
    Endpoint e = parse("x", "{\"Addr\":\"[::1]:9000\",\"Metadata\":{\"weight\":\"5\"}}");
    assertThat(e.host()).isEqualTo("::1");
    assertThat(e.port()).isEqualTo(9000);
    assertThat(e.weight()).isEqualTo(5);
    assertThat(e.labels()).isEmpty();
  }

  @Test
  void acceptsWhatOtherWritersLeaveOut() throws Exception {
    assertThat(parse("a", "{\"Addr\":\"h:1\"}").labels()).isEmpty();
    assertThat(parse("a", "{\"Addr\":\"h:1\",\"Metadata\":null}").labels()).isEmpty();
    assertThat(parse("a", "{\"Addr\":\"h:1\",\"Metadata\":\"opaque\"}").labels()).isEmpty();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      ''                                              | not JSON
      '{'                                             | not JSON
      '{"Addr":"h:1"} x'                              | not JSON
      '{"Addr":"h:1",}'                               | not JSON
      '{Addr:"h:1"}'                                  | not JSON
      '"h:1"'                                         | not a JSON object
      '{"Addr":5}'                                    | Addr is missing
      '{"Addr":"h"}'                                  | not host:port
      '{"Addr":"h:"}'                                 | not host:port
      '{"Addr":":80"}'                                | not host:port
      '{"Addr":"h:x"}'                                | no numeric port
      '{"Addr":"h:0"}'                                | out of range
      '{"Addr":"::1:80"}'                             | needs brackets
      '{"Addr":"a b:80"}'                             | no valid host
      '{"Addr":"h:1","Metadata":{"weight":1.5}}'      | not a whole number
      '{"Addr":"h:1","Metadata":{"weight":"x"}}'      | not a whole number
      '{"Addr":"h:1","Metadata":{"weight":-2}}'       | at least 1
      """)
  void refusesWhatIsNotAnEndpointSayingWhy(String json, String problem) {
    assertThatThrownBy(() -> parse("k", json)).isInstanceOf(GoEndpoints.InvalidEntry.class).hasMessageContaining(problem);
  }

  @Test
  void refusesHugeAndDeepValuesBeforeParsingThem() {
    assertThatThrownBy(() -> parse("k", "{\"Addr\":\"h:1\",\"Metadata\":\"" + "x".repeat(70_000) + "\"}"))
        .hasMessageContaining("at most");
    assertThatThrownBy(() -> parse("k", "{\"Addr\":\"h:1\",\"Metadata\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}"))
        .hasMessageContaining("at most");
    assertThatThrownBy(() -> parse("k", "{\"Addr\":\"h:1\",\"M\":" + "[".repeat(20) + "]".repeat(20) + "}"))
        .hasMessageContaining("deeper");
    assertThatThrownBy(() -> GoEndpoints.parse("k", new byte[] {'{', (byte) 0xff, '}'})).hasMessageContaining("UTF-8");
  }

  @Test
  void writesWhatTheGoPackageWritesAndReadsItBack() throws Exception {
    String v = new String(GoEndpoints.value("10.0.0.7", 8443, Map.of("version", "v1", "zone", "b")), StandardCharsets.UTF_8);
    assertThat(v).isEqualTo("{\"Op\":0,\"Addr\":\"10.0.0.7:8443\",\"Metadata\":{\"version\":\"v1\",\"zone\":\"b\"}}");
    assertThat(new String(GoEndpoints.value("::1", 80, Map.of()), StandardCharsets.UTF_8))
        .isEqualTo("{\"Op\":0,\"Addr\":\"[::1]:80\",\"Metadata\":null}");
    assertThat(parse("id", v)).isEqualTo(new Endpoint("id", "10.0.0.7", 8443, Map.of("version", "v1", "zone", "b"), 1));
  }
}
