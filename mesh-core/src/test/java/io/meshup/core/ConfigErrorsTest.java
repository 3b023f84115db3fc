package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Every wrong configuration fails at start with a message that names the place and the problem. */
class ConfigErrorsTest {
  static final String REGISTRY = """
      mesh:
        service: checkout
        registry:
          type: static
          static:
            services:
              payments:
                - { address: 127.0.0.1, port: 9001, labels: { version: v1 } }
                - { address: 127.0.0.1, port: 9002, labels: { version: v2 } }
        policies:
      """;

  static final String DR = """
          - apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: payments }
            spec:
              host: payments
              subsets:
                - { name: v1, labels: { version: v1 } }
                - { name: v2, labels: { version: v2 } }
      """;

  static String vs(String http) {
    return """
          - apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: { name: payments }
            spec:
              hosts: [payments]
              http:
      """ + http.indent(10);
  }

  static Stream<Arguments> wrongConfigurations() {
    return Stream.of(
        Arguments.of("unknown field in a route",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n  mirrorr: x\n"),
            "VirtualService payments", "spec.http[0].mirrorr", "unknown field 'mirrorr'"),
        Arguments.of("negative weight",
            REGISTRY + DR + vs("- route:\n  - { destination: { host: payments, subset: v1 }, weight: 100 }\n  - { destination: { host: payments, subset: v2 }, weight: -5 }\n"),
            "VirtualService payments", "spec.http[0].route[1].weight", "-5 is negative"),
        Arguments.of("every weight zero",
            REGISTRY + DR + vs("- route:\n  - { destination: { host: payments, subset: v1 }, weight: 0 }\n  - { destination: { host: payments, subset: v2 }, weight: 0 }\n"),
            "VirtualService payments", "spec.http[0].route", "every weight is 0"),
        Arguments.of("subset not defined",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v3 } }]\n"),
            "VirtualService payments", "spec.http[0].route[0].destination.subset", "subset 'v3' is not defined"),
        Arguments.of("bad regex",
            REGISTRY + DR + vs("- match: [{ uri: { regex: \"/charges/([0-9\" } }]\n  route: [{ destination: { host: payments, subset: v1 } }]\n"),
            "VirtualService payments", "spec.http[0].match[0].uri.regex", "is not a valid regular expression"),
        Arguments.of("bad duration",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n  timeout: 5 seconds\n"),
            "VirtualService payments", "spec.http[0].timeout", "'5 seconds' is not a duration"),
        Arguments.of("unknown service in a route",
            REGISTRY + DR + vs("- route: [{ destination: { host: payment, subset: v1 } }]\n"),
            "VirtualService payments", "spec.http[0].route[0].destination.host", "unknown service 'payment.default.svc.cluster.local'"),
        Arguments.of("unsupported Istio field",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n  rateLimit: { local: {} }\n"),
            "VirtualService payments", "spec.http[0].rateLimit", "field 'rateLimit' is not supported by MeshUp"),
        Arguments.of("unknown retry condition",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n  retries: { attempts: 3, retryOn: \"5xx,sometimes\" }\n"),
            "VirtualService payments", "spec.http[0].retries.retryOn", "'sometimes' is not a retry condition Envoy documents"),
        Arguments.of("string match with two kinds",
            REGISTRY + DR + vs("- match: [{ uri: { prefix: /a, exact: /a } }]\n  route: [{ destination: { host: payments, subset: v1 } }]\n"),
            "VirtualService payments", "spec.http[0].match[0].uri", "must set exactly one of exact, prefix or regex"),
        Arguments.of("fault percentage over 100",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n  fault: { abort: { httpStatus: 503, percentage: { value: 150 } } }\n"),
            "VirtualService payments", "spec.http[0].fault.abort.percentage.value", "150 is out of range"),
        Arguments.of("bad grpc status",
            REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n  fault: { abort: { grpcStatus: BROKEN } }\n"),
            "VirtualService payments", "spec.http[0].fault.abort.grpcStatus", "'BROKEN' is not a gRPC status code name"),
        Arguments.of("unknown load balancer",
            REGISTRY + DR.replace("host: payments\n", "host: payments\n        trafficPolicy: { loadBalancer: { simple: FASTEST } }\n"),
            "DestinationRule payments", "spec.trafficPolicy.loadBalancer.simple", "'FASTEST' is not one of"),
        Arguments.of("TLS origination without its files",
            REGISTRY + DR.replace("host: payments\n", "host: payments\n        trafficPolicy: { tls: { mode: MUTUAL } }\n"),
            "DestinationRule payments", "spec.trafficPolicy.tls", "mode MUTUAL needs clientCertificate and privateKey"),
        Arguments.of("client TLS field MeshUp does not take",
            REGISTRY + DR.replace("host: payments\n", "host: payments\n        trafficPolicy: { tls: { mode: ISTIO_MUTUAL, sni: payments.local } }\n"),
            "DestinationRule payments", "spec.trafficPolicy.tls.sni", "applies to modes SIMPLE and MUTUAL only"),
        Arguments.of("duplicate subset",
            REGISTRY + DR.replace("- { name: v2, labels: { version: v2 } }", "- { name: v1, labels: { version: v2 } }"),
            "DestinationRule payments", "spec.subsets[1].name", "subset 'v1' is defined twice"),
        Arguments.of("breaker threshold out of range",
            REGISTRY + DR.replace("host: payments\n", "host: payments\n        trafficPolicy: { circuitBreaker: { failureRateThreshold: 0 } }\n"),
            "DestinationRule payments", "spec.trafficPolicy.circuitBreaker.failureRateThreshold", "0 is out of range"),
        Arguments.of("unsupported kind",
            REGISTRY + "    - { apiVersion: networking.istio.io/v1, kind: Gateway, metadata: { name: gw }, spec: {} }\n",
            "Gateway gw", "kind", "'Gateway' is not supported by MeshUp: a Gateway configures"),
        Arguments.of("port out of range in the registry",
            REGISTRY.replace("port: 9002", "port: 70000"),
            "inline", "mesh.registry.static.services.payments[1].port", "70000 is out of range"),
        Arguments.of("unknown key in mesh section",
            REGISTRY.replace("  registry:", "  registy: {}\n  registry:"),
            "inline", "mesh.registy", "unknown field 'registy'"),
        Arguments.of("missing service name",
            REGISTRY.replace("  service: checkout\n", ""),
            "inline", "mesh.service", "is required"),
        Arguments.of("YAML syntax error",
            REGISTRY + "    - [unclosed\n",
            "inline", "", "not valid YAML"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("wrongConfigurations")
  void rejectsWithThePlaceNamed(String name, String yaml, String where, String path, String problem) {
    assertThatThrownBy(() -> Mesh.builder().yaml(yaml).env(Map.<String, String>of()::get).build())
        .isInstanceOf(MeshConfigException.class)
        .satisfies(e -> {
          MeshConfigException ex = (MeshConfigException) e;
          assertThat(ex.getMessage()).contains(where).contains(problem);
          assertThat(ex.path()).isEqualTo(path);
        });
  }

  @Test
  void substitutesEnvironmentVariablesWithDefaults() {
    String yaml = """
        mesh:
          service: ${SERVICE_NAME:checkout}
          registry:
            static:
              services:
                payments: [{ address: "${PAYMENTS_HOST:127.0.0.1}", port: "${PAYMENTS_PORT}" }]
        """;
    try (Mesh mesh = Mesh.builder().yaml(yaml).env(Map.<String, String>of("PAYMENTS_PORT", "9100")::get).build()) {
      assertThat(mesh.serviceName()).isEqualTo("checkout");
      assertThat(mesh.runtimeOf("payments").endpoints()).extracting(Endpoint::authority).containsExactly("127.0.0.1:9100");
    }
  }

  @Test
  void missingVariableWithoutDefaultNamesTheVariable() {
    String yaml = "mesh:\n  service: ${SERVICE_NAME}\n";
    assertThatThrownBy(() -> Mesh.builder().yaml(yaml).env(Map.<String, String>of()::get).build())
        .hasMessageContaining("mesh.service")
        .hasMessageContaining("environment variable SERVICE_NAME is not set");
  }

  @Test
  void rejectedUpdateKeepsTheLastGoodPolicy() {
    try (Mesh mesh = Mesh.builder().yaml(REGISTRY + DR + vs("- route: [{ destination: { host: payments, subset: v1 } }]\n")).build()) {
      assertThatThrownBy(() -> mesh.updatePolicies("meshup/config/payments.yaml",
          "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: payments }\n"
              + "spec:\n  hosts: [payments]\n  http:\n  - route: [{ destination: { host: payments, subset: v9 } }]\n"))
          .hasMessageStartingWith("meshup/config/payments.yaml: VirtualService payments")
          .hasMessageContaining("spec.http[0].route[0].destination.subset: subset 'v9' is not defined");
      assertThat(mesh.policyOrigins()).containsExactly("inline mesh.policies[1]: VirtualService payments",
          "inline mesh.policies[0]: DestinationRule payments");
      assertThat(mesh.meterRegistry().get("mesh.policy.updates").tag("result", "rejected").counter().count()).isEqualTo(1);
    }
  }
}
