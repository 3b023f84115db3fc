package io.meshup.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshup.consul.testing.ConsulAgent;
import io.meshup.core.Mesh;
import io.meshup.core.identity.Credentials;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The consul-connect source's own expiry check, on a fake clock: the gauge of seconds left, the
 * refresh past two thirds of the lifetime, and the warning near the end; and a dead agent, which
 * leaves the last credentials serving.
 */
class ConnectExpiryTest {
  @RegisterExtension
  static ConsulAgent consul = new ConsulAgent();

  final TestClock clock = new TestClock();
  final ManualScheduler scheduler = new ManualScheduler();
  final ByteArrayOutputStream log = new ByteArrayOutputStream();
  final PrintStream originalErr = System.err;

  @AfterEach
  void restoreErr() {
    System.setErr(originalErr);
    scheduler.shutdownNow();
  }

  /** Copies stderr (where slf4j-simple logs) into {@link #log} as well. */
  void captureLog() {
    System.setErr(new PrintStream(new OutputStream() {
      @Override
      public void write(int b) {
        originalErr.write(b);
        synchronized (log) {
          log.write(b);
        }
      }

      @Override
      public void write(byte[] b, int off, int len) {
        originalErr.write(b, off, len);
        synchronized (log) {
          log.write(b, off, len);
        }
      }
    }, true, StandardCharsets.UTF_8));
  }

  String logged() {
    synchronized (log) {
      return log.toString(StandardCharsets.UTF_8);
    }
  }

  Mesh mesh(String service) {
    return Mesh.builder().clock(clock).scheduler(scheduler)
        .yaml(ConnectTestServers.yaml(service, consul.httpAddress(), "")).build();
  }

  static double expiryGauge(Mesh mesh) {
    Gauge g = mesh.meterRegistry().find("mesh.tls.certificate.expiry").tag("source", "consul-connect").gauge();
    return g == null ? Double.NaN : g.value();
  }

  static double failures(Mesh mesh, String reason) {
    Counter c = mesh.meterRegistry().find("mesh.tls.certificate.refresh.failures")
        .tags("source", "consul-connect", "reason", reason).counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void gaugeCountsDownOnTheMeshClockAndAWarningNamesServiceSerialAndTimeLeft() {
    captureLog();
    try (Mesh mesh = mesh("ledger")) {
      Credentials c = mesh.certificates().orElseThrow().current();
      long notAfter = c.leaf().getNotAfter().getTime();
      assertThat(expiryGauge(mesh)).isEqualTo((notAfter - clock.currentTimeMillis()) / 1000.0);

      clock.advanceTo(notAfter - Duration.ofHours(1).toMillis());

      scheduler.runPeriodic();

      assertThat(expiryGauge(mesh)).isEqualTo(3600.0);
      String serial = c.leaf().getSerialNumber().toString(16);
      assertThat(logged()).contains("Consul Connect certificate of service ledger (serial " + serial + ") expires in PT1H");
      // past two thirds of its lifetime the source asked the agent again, which still had the same leaf
      await().atMost(Duration.ofSeconds(10)).until(() -> failures(mesh, "stale_leaf") >= 1);
      assertThat(mesh.certificates().orElseThrow().current().leaf()).isEqualTo(c.leaf());
      System.out.printf("expiry alarm: gauge %.0f s, stale refreshes %.0f%n", expiryGauge(mesh), failures(mesh, "stale_leaf"));
    }
  }

  @Test
  void refreshesExactlyAtTwoThirdsOfTheLifetimeAndWarnsExactlyAtAFifthLeft() {
    captureLog();
    try (Mesh mesh = mesh("journal")) {
      Credentials c = mesh.certificates().orElseThrow().current();
      long notBefore = c.leaf().getNotBefore().getTime();
      long notAfter = c.leaf().getNotAfter().getTime();
      long lifetime = notAfter - notBefore;

      clock.advanceTo(notBefore + lifetime * 2 / 3 - 1);
      scheduler.runPeriodic();
      assertThat(logged()).doesNotContain("of service journal (serial").doesNotContain("past two thirds");

      clock.advanceTo(notBefore + lifetime * 2 / 3);
      scheduler.runPeriodic();
      await().atMost(Duration.ofSeconds(10)).until(() -> failures(mesh, "stale_leaf") == 1);
      assertThat(logged()).contains("past two thirds").doesNotContain("of service journal (serial");

      clock.advanceTo(notAfter - lifetime / 5 - 1);
      scheduler.runPeriodic();
      assertThat(logged()).doesNotContain("of service journal (serial");

      clock.advanceTo(notAfter - lifetime / 5);
      scheduler.runPeriodic();
      assertThat(logged()).contains("Consul Connect certificate of service journal (serial "
          + c.leaf().getSerialNumber().toString(16) + ") expires in " + Duration.ofMillis(lifetime / 5));
    }
  }
}
