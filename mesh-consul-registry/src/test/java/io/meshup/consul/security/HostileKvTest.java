package io.meshup.consul.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.consul.ConsulOps;
import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.core.testing.HostileDocuments;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile policy documents written to Consul KV, where the KV watch reads them on its own thread:
 * each is refused with a log line naming the key and the limit and counted in
 * {@code mesh.policy.updates{source=consul-kv,result=rejected}}; the watch lives on, the last good
 * policy keeps serving, and a later valid document applies. The agent takes values up to 4 MiB
 * (Consul's own limit is 512 KiB by default), so that a 2 MB document reaches MeshUp.
 */
class HostileKvTest {
  @RegisterExtension static ConsulAgent consul = new ConsulAgent().withArgs("-hcl", "limits { kv_max_value_size = 4194304 }");

  static final PrintStream realErr = System.err;
  static final ByteArrayOutputStream logged = new ByteArrayOutputStream();
  static Mesh mesh;
  static ConsulOps ops;

  @BeforeAll
  static void start() {
    // slf4j-simple writes to System.err as it is at each line: capture the log to read the refusals
    System.setErr(new PrintStream(new TeeStream(realErr, logged), true, StandardCharsets.UTF_8));
    ops = new ConsulOps(consul.httpAddress());
    ops.kvPut("meshup/config/good", HostileDocuments.goodVirtualService("good"));
    mesh = Mesh.builder().yaml("""
        mesh:
          service: checkout
          registry:
            type: consul
            consul: { address: %s, waitTime: 5s, kv: { prefix: meshup/config/ }, configEntries: { enabled: false },
                      intentions: { enabled: false } }
        """.formatted(consul.httpAddress()))
        .env(k -> k.equals("BIG") ? HostileDocuments.bigVariable() : null)
        .build();
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.policyOrigins().contains("meshup/config/good: VirtualService good"));
  }

  @AfterAll
  static void stop() {
    mesh.close();
    System.setErr(realErr);
  }

  static double rejected() {
    io.micrometer.core.instrument.Counter c = mesh.meterRegistry().find("mesh.policy.updates")
        .tags("source", "consul-kv", "result", "rejected").counter();
    return c == null ? 0 : c.count();
  }

  static Stream<Arguments> hostile() {
    return Stream.of(
        Arguments.of("alias doubling", HostileDocuments.aliasDoubling(30).getBytes(StandardCharsets.UTF_8), "maxNodes"),
        Arguments.of("10,000-deep nesting", HostileDocuments.deepSequences(10_000).getBytes(StandardCharsets.UTF_8), "maxDepth"),
        Arguments.of("4 KB of 2,000-deep mappings", HostileDocuments.deepMappings(2_000).getBytes(StandardCharsets.UTF_8), "maxDepth"),
        Arguments.of("2 MB", HostileDocuments.large(2 << 20).getBytes(StandardCharsets.UTF_8), "maxDocumentBytes"),
        Arguments.of("invalid UTF-8", HostileDocuments.invalidUtf8(), "is not UTF-8: invalid byte sequence at byte offset"),
        Arguments.of("scalar alias bomb through ${BIG}", HostileDocuments.scalarAliasBomb(150_000).getBytes(StandardCharsets.UTF_8), "maxNodes"),
        Arguments.of("substitution flood through ${BIG}", HostileDocuments.substitutionFlood(50).getBytes(StandardCharsets.UTF_8), "maxSubstitutionChars"),
        Arguments.of("overflowing duration", HostileDocuments.overflowingDuration().getBytes(StandardCharsets.UTF_8), "durations are at most 8760h"),
        Arguments.of("1 MB kind", HostileDocuments.hugeKind(1_000_000).getBytes(StandardCharsets.UTF_8), "is not a supported kind"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostile")
  void aHostileKvDocumentIsRefusedAndTheWatchLivesOn(String what, byte[] doc, String limit) {
    double before = rejected();
    int logAt = logged.size();
    ops.kvPutBytes("meshup/config/attack", doc);
    await().atMost(Duration.ofSeconds(10)).until(() -> rejected() > before);
    await().atMost(Duration.ofSeconds(5)).until(() -> logged.toString(StandardCharsets.UTF_8).substring(logAt).contains(limit));
    String line = logged.toString(StandardCharsets.UTF_8).substring(logAt).lines().filter(l -> l.contains(limit))
        .findFirst().orElseThrow();
    assertThat(line).contains("meshup/config/attack").hasSizeLessThan(3_000);
    assertThat(mesh.policyOrigins()).containsExactly("meshup/config/good: VirtualService good");

    ops.kvDelete("meshup/config/attack");
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.policyOrigins().equals(List.of("meshup/config/good: VirtualService good"))
        && !logged.toString(StandardCharsets.UTF_8).substring(logAt).isEmpty());
  }

  @Test
  void aLaterValidDocumentStillApplies() {
    ops.kvPutBytes("meshup/config/attack", HostileDocuments.aliasDoubling(30).getBytes(StandardCharsets.UTF_8));
    ops.kvPut("meshup/config/zz-later", HostileDocuments.goodVirtualService("later").replace("payments", "orders"));
    ops.kvDelete("meshup/config/attack");
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.policyOrigins().contains("meshup/config/zz-later: VirtualService later"));
    ops.kvDelete("meshup/config/zz-later");
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.policyOrigins().equals(List.of("meshup/config/good: VirtualService good")));
  }

  /** Writes to two streams. */
  static final class TeeStream extends java.io.OutputStream {
    private final java.io.OutputStream a;
    private final java.io.OutputStream b;

    TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public synchronized void write(int c) throws java.io.IOException {
      a.write(c);
      b.write(c);
    }

    @Override
    public synchronized void write(byte[] buf, int off, int len) throws java.io.IOException {
      a.write(buf, off, len);
      b.write(buf, off, len);
    }
  }
}
