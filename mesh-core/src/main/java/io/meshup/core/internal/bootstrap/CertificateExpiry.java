package io.meshup.core.internal.bootstrap;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.spi.CertificateSource;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.math.BigInteger;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the expiry of the leaf a built-in or application-given certificate source serves:
 * {@code mesh.tls.certificate.expiry{source, service}} is the seconds left, and a check every
 * minute logs a warning once per leaf when less than a fifth of its lifetime remains (the source
 * has not renewed it: a files agent that stopped writing, say), and an error once it has expired.
 * Plug-in sources report their own (the SPI asks them to). Thread-safe.
 */
public final class CertificateExpiry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CertificateExpiry.class);
  static final Duration CHECK_EVERY = Duration.ofMinutes(1);

  private final CertificateSource source;
  private final String sourceTag;
  private final MeshClock clock;
  private final Gauge gauge;
  private final MeterRegistry meters;
  private final ScheduledFuture<?> check;
  /** Touched only by {@link #check()}, which a fixed-delay schedule never runs twice at once. */
  private BigInteger warned;
  private BigInteger expired;

  public CertificateExpiry(CertificateSource source, String sourceTag, String service, MeshClock clock,
      ScheduledExecutorService scheduler, MeterRegistry meters) {
    this.source = source;
    this.sourceTag = sourceTag;
    this.clock = clock;
    this.meters = meters;
    this.gauge = Gauge.builder(Metrics.CERTIFICATE_EXPIRY, this, CertificateExpiry::secondsLeft)
        .description("Seconds until the leaf certificate in use expires")
        .baseUnit("seconds")
        .tags("source", sourceTag, "service", service)
        .register(meters);
    long ms = CHECK_EVERY.toMillis();
    this.check = scheduler.scheduleWithFixedDelay(this::check, ms, ms, TimeUnit.MILLISECONDS);
  }

  double secondsLeft() {
    try {
      return (source.current().leaf().getNotAfter().getTime() - clock.currentTimeMillis()) / 1000.0;
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }

  /** One check; runs on the scheduler, and from tests. */
  void check() {
    Credentials c;
    try {
      c = source.current();
    } catch (RuntimeException e) {
      return;
    }
    long notBefore = c.leaf().getNotBefore().getTime();
    long notAfter = c.leaf().getNotAfter().getTime();
    long now = clock.currentTimeMillis();
    BigInteger serial = c.leaf().getSerialNumber();
    if (now >= notAfter) {
      if (!serial.equals(expired)) {
        expired = serial;
        log.error("The {} certificate of {} (serial {}) expired at {}; peers refuse it until the source renews it",
            sourceTag, c.identity(), serial.toString(16), c.leaf().getNotAfter().toInstant());
      }
    } else if (notAfter - now < (notAfter - notBefore) / 5 && !serial.equals(warned)) {
      warned = serial;
      log.warn("The {} certificate of {} (serial {}) expires in {} s, at {}, and has not been renewed",
          sourceTag, c.identity(), serial.toString(16), (notAfter - now) / 1000, c.leaf().getNotAfter().toInstant());
    }
  }

  BigInteger warnedSerial() {
    return warned;
  }

  BigInteger expiredSerial() {
    return expired;
  }

  @Override
  public void close() {
    check.cancel(false);
    meters.remove(gauge);
  }
}
