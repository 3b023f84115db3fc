package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bootstrap file with policy files beside it. */
class BootstrapFileTest {
  @TempDir
  Path dir;

  static final String POLICY = """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: payments }
      spec:
        host: payments
        subsets: [{ name: v1, labels: { version: v1 } }]
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: { name: payments }
      spec:
        hosts: [payments]
        http:
        - route:
          - destination: { host: payments, subset: v1 }
            weight: %s
      """;

  Path write(String weight) throws IOException {
    Files.createDirectories(dir.resolve("policies"));
    Files.writeString(dir.resolve("policies/payments.yaml"), POLICY.formatted(weight));
    Path app = dir.resolve("application.yaml");
    Files.writeString(app, """
        spring:
          application: { name: checkout }   # not MeshUp's: left alone
        mesh:
          service: checkout
          registry:
            static:
              services:
                payments: [{ address: 127.0.0.1, port: 9001, labels: { version: v1 } }]
          policy:
            files: [policies/payments.yaml]
        """);
    return app;
  }

  @Test
  void readsPolicyFilesRelativeToTheBootstrapFile() throws IOException {
    try (Mesh mesh = Mesh.fromYaml(write("100"))) {
      assertThat(mesh.policyOrigins()).containsExactly("policies/payments.yaml: VirtualService payments",
          "policies/payments.yaml: DestinationRule payments");
    }
  }

  @Test
  void errorInAPolicyFileNamesTheFileTheDocumentTheLineAndTheKey() throws IOException {
    assertThatThrownBy(() -> Mesh.fromYaml(write("-5")))
        .isInstanceOf(MeshConfigException.class)
        .hasMessage("policies/payments.yaml: VirtualService payments (line 16), spec.http[0].route[0].weight: -5 is negative; must be 0..2147483647");
  }

  @Test
  void missingPolicyFileIsNamed() throws IOException {
    Path app = write("100");
    Files.delete(dir.resolve("policies/payments.yaml"));
    assertThatThrownBy(() -> Mesh.fromYaml(app))
        .hasMessageContaining("mesh.policy.files[0]: cannot read policy file");
  }
}
