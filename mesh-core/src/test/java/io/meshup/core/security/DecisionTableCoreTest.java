package io.meshup.core.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.Mesh;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.testing.security.DecisionTable;
import io.meshup.core.testing.security.Row;
import io.meshup.core.testing.security.SecurityFixture;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decision table straight through the mesh's authorizer, with a request view like the
 * transports' (the transports' own tests run it again on real servers): every row decides as the
 * sentence it quotes says.
 */
class DecisionTableCoreTest {
  static final int PORT = 15006;
  static SecurityFixture f;
  static Mesh mesh;

  @BeforeAll
  static void start() {
    f = new SecurityFixture();
    mesh = Mesh.builder().service("payments").labels(Map.of("version", "v1")).certificates(f.serverSource)
        .mtlsMode(MtlsMode.PERMISSIVE).build();
  }

  @AfterAll
  static void stop() {
    mesh.close();
  }

  static Stream<Row> rows() {
    if (f == null) {
      start();
    }
    return DecisionTable.rows(f).stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void decidesAsTheQuotedSentenceSays(Row row) {
    mesh.updatePolicies("table", row.policies().replace("{{PORT}}", Integer.toString(PORT)));
    Row.Call c = row.call();
    WorkloadIdentity caller = c.caller() == null ? null : f.caller(c.caller()).identity();
    String method = row.on().contains(Row.Transport.GRPC) && !row.on().contains(Row.Transport.JDK) ? "POST" : c.method();
    InboundAuthorizer.Decision d = mesh.authorizer().authorize(new InboundAuthorizer.Request() {
      @Override public WorkloadIdentity caller() { return caller; }
      @Override public String path() { return c.path(); }
      @Override public String method() { return method; }
      @Override public String query() { return c.query(); }
      @Override public String host() { return c.host(); }
      @Override public String serverName() { return c.sni(); }
      @Override public int destinationPort() { return PORT; }
      @Override public InetAddress sourceAddress() { return InetAddress.getLoopbackAddress(); }
      @Override public InetAddress destinationAddress() { return InetAddress.getLoopbackAddress(); }

      @Override
      public String header(String name) {
        List<String> v = c.headers().stream().filter(e -> e.getKey().toLowerCase(Locale.ROOT).equals(name))
            .map(Map.Entry::getValue).toList();
        return v.isEmpty() ? null : String.join(",", v);
      }
    });
    Row.Expect got = d.allowed() ? Row.Expect.ALLOW : d.kind() == InboundAuthorizer.Kind.DENY ? Row.Expect.DENY
        : d.rule().equals("mtls") ? Row.Expect.MTLS_REQUIRED : Row.Expect.UNAUTHENTICATED;
    assertThat(got).as(row.quote() + " (" + row.source() + "): " + d).isEqualTo(row.expect());
    row.seen().forEach((h, v) -> {
      boolean removed = d.requestHeadersToRemove().contains(h);
      String set = d.requestHeadersToSet().stream().filter(e -> e.getKey().equals(h)).map(Map.Entry::getValue).findFirst()
          .orElse(null);
      if (v == null) {
        assertThat(removed).as("%s removed", h).isTrue();
      } else if (set != null) {
        assertThat(set).isEqualTo(v);
      } else {
        assertThat(removed).as("%s kept", h).isFalse();
      }
    });
  }
}
