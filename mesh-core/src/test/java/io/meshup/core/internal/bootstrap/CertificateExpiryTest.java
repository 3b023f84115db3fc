package io.meshup.core.internal.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.Mesh;
import io.meshup.core.MeshClock;
import io.meshup.core.identity.DevCertificateAuthority;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The expiry gauge and alarm of built-in and application-given certificate sources. */
class CertificateExpiryTest {
  final AtomicLong wallMillis = new AtomicLong(Instant.parse("2026-11-25T12:00:00Z").toEpochMilli());
  final MeshClock clock = new MeshClock() {
    @Override
    public long nanoTime() {
      return wallMillis.get() * 1_000_000;
    }

    @Override
    public long currentTimeMillis() {
      return wallMillis.get();
    }
  };
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  @Test
  void gaugeCountsDownAndTheAlarmFiresOncePerLeafNearItsEnd() {
    DevCertificateAuthority ca = DevCertificateAuthority.create("dev.test", clock, Duration.ofHours(1));
    DevCertificateAuthority.Source source = ca.source("checkout");
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (CertificateExpiry expiry = new CertificateExpiry(source, "dev", "checkout", clock, scheduler, meters)) {
      double left = meters.get("mesh.tls.certificate.expiry").tag("source", "dev").tag("service", "checkout").gauge().value();
      assertThat(left).isEqualTo(3600.0);

      wallMillis.addAndGet(Duration.ofMinutes(40).toMillis());
      expiry.check();
      assertThat(expiry.warnedSerial()).isNull();

      wallMillis.addAndGet(Duration.ofMinutes(9).toMillis());   // 11 minutes left: under a fifth of the hour
      expiry.check();
      assertThat(expiry.warnedSerial()).isEqualTo(source.current().leaf().getSerialNumber());
      assertThat(meters.get("mesh.tls.certificate.expiry").gauge().value()).isEqualTo(660.0);

      wallMillis.addAndGet(Duration.ofMinutes(12).toMillis());
      expiry.check();
      assertThat(expiry.expiredSerial()).isEqualTo(source.current().leaf().getSerialNumber());
      assertThat(meters.get("mesh.tls.certificate.expiry").gauge().value()).isEqualTo(-60.0);

      source.rotate();
      assertThat(meters.get("mesh.tls.certificate.expiry").gauge().value()).isEqualTo(3600.0);
    }
    assertThat(meters.find("mesh.tls.certificate.expiry").gauge()).isNull();
  }

  @Test
  void meshReportsTheExpiryOfItsDevCertificates() {
    try (Mesh mesh = Mesh.fromYamlString("""
        mesh:
          service: checkout
          tls: { certificates: dev, trustDomain: dev.test, caDirectory: none }
        """)) {
      double left = mesh.meterRegistry().get("mesh.tls.certificate.expiry").tag("source", "dev").gauge().value();
      assertThat(left).isBetween(3500.0, 3600.0);
    }
  }
}
