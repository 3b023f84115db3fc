package io.meshup.consul.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import io.meshup.core.Mesh;
import io.meshup.core.identity.WorkloadIdentity;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Consul's intention precedence, translated and then decided by the mesh's authorizer. */
class IntentionsTest {
  @SuppressWarnings("deprecation")
  static JsonElement list(String... triples) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < triples.length; i++) {
      String[] t = triples[i].split(">|:");
      sb.append(i == 0 ? "" : ",").append("{\"SourceName\":\"").append(t[0]).append("\",\"DestinationName\":\"")
          .append(t[1]).append("\",\"Action\":\"").append(t[2]).append("\"}");
    }
    return new JsonParser().parse(sb.append("]").toString());
  }

  @ParameterizedTest(name = "{0} -> caller {1} allowed={2}")
  @CsvSource(delimiter = '|', value = {
      "                                  | web   | true",
      "web>db:deny                       | web   | false",
      "web>db:deny                       | api   | true",
      "web>db:deny                       | xweb  | true",
      "*>db:deny                         | web   | false",
      "*>db:deny;api>db:allow            | api   | true",
      "*>db:deny;api>db:allow            | web   | false",
      "*>*:deny;api>db:allow             | api   | true",
      "*>*:deny;api>db:allow             | web   | false",
      "web>*:deny;web>db:allow           | web   | true",
      "web>*:deny                        | web   | false",
      "web>other:deny                    | web   | true",
      "*>db:allow;web>db:deny            | web   | false",
      "*>db:allow;web>db:deny            | api   | true",
      "*>db:deny                         | db    | false",
  })
  void followsConsulsPrecedence(String intentions, String caller, boolean allowed) {
    String[] triples = intentions == null ? new String[0] : intentions.trim().split(";");
    Map<String, String> docs = Intentions.translate("db", list(triples));
    try (Mesh mesh = Mesh.builder().service("db").build()) {
      mesh.updatePolicies("consul-intentions", docs);
      assertThat(mesh.authorizer().authorize(WorkloadIdentity.of("example.org", caller), "/pkg.Db/Query", "POST").allowed())
          .as("docs %s", docs).isEqualTo(allowed);
    }
  }

  static final String ALLOW_WEB = """
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: { name: app-allows-web }
      spec:
        rules:
        - from: [{ source: { principals: ["*/svc/web"] } }]
      """;

  @org.junit.jupiter.api.Test
  void anotherSourcesAllowPolicyLetsNoOneInWhileTheIntentionsFailClosed() {
    try (Mesh mesh = Mesh.builder().service("db").policies("app", ALLOW_WEB).build()) {
      mesh.updatePolicies("consul-intentions", Intentions.failClosed("db"));
      assertThat(mesh.authorizer().authorize(WorkloadIdentity.of("example.org", "web"), "/pkg.Db/Query", "POST").allowed())
          .isFalse();
      assertThat(mesh.authorizer().authorize(null, "/pkg.Db/Query", "POST").allowed()).isFalse();
    }
  }

  @org.junit.jupiter.api.Test
  void aCallMustPassBothTheIntentionsAndTheOtherPolicies() {
    try (Mesh mesh = Mesh.builder().service("db").policies("app", ALLOW_WEB).build()) {
      // the agent's default is deny and only api is allowed: web is refused though the app allows it
      mesh.updatePolicies("consul-intentions", Intentions.translate("db", Intentions.parse("db", list("api>db:allow")), false));
      assertThat(mesh.authorizer().authorize(WorkloadIdentity.of("example.org", "web"), "/pkg.Db/Query", "POST").allowed())
          .isFalse();
      // api passes the intentions but not the app's ALLOW policy
      assertThat(mesh.authorizer().authorize(WorkloadIdentity.of("example.org", "api"), "/pkg.Db/Query", "POST").allowed())
          .isFalse();
      mesh.updatePolicies("consul-intentions", Intentions.translate("db", Intentions.parse("db", list("web>db:allow")), false));
      assertThat(mesh.authorizer().authorize(WorkloadIdentity.of("example.org", "web"), "/pkg.Db/Query", "POST").allowed())
          .isTrue();
    }
  }
}
