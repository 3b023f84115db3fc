package io.meshup.spring;

import io.meshup.core.Mesh;
import io.meshup.core.MeshSnapshot;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * The {@code mesh} health contributor: whether the registry answers, the certificate is valid and
 * every policy update was accepted, from the mesh's snapshot.
 *
 * <p>Status: DOWN when this workload's certificate is not valid now (expired or not yet valid:
 * mutual TLS handshakes would fail); UP otherwise. A registry that stopped answering or a refused
 * policy update leave the mesh serving (the last known endpoints, the last good policy), so they
 * are reported in the details, not as DOWN: {@code registry} ({@code reachable}, or
 * {@code unreachable} with the failing destinations and their last error), {@code policy}
 * ({@code accepted}, or {@code rejected} with each source whose last update was refused and why),
 * {@code certificate} (SPIFFE ID and validity), {@code mtls} and {@code ready} (every destination
 * has had an answer from the registry). Thread-safe.
 */
public final class MeshHealthIndicator implements HealthIndicator {
  private final Mesh mesh;

  public MeshHealthIndicator(Mesh mesh) {
    this.mesh = mesh;
  }

  @Override
  public Health health() {
    MeshSnapshot s = mesh.snapshot();
    Health.Builder h = Health.up();
    h.withDetail("service", s.service()).withDetail("ready", s.ready()).withDetail("mtls", s.mtls().mode());

    Map<String, Object> failing = new LinkedHashMap<>();
    for (MeshSnapshot.Destination d : s.destinations()) {
      if (d.registry().lastError() != null) {
        failing.put(d.service(), d.registry().lastError());
      }
    }
    Map<String, Object> registry = new LinkedHashMap<>();
    registry.put("status", failing.isEmpty() ? "reachable" : "unreachable");
    if (!failing.isEmpty()) {
      registry.put("destinations", failing);
    }
    h.withDetail("registry", registry);

    Map<String, Object> rejected = new LinkedHashMap<>();
    for (MeshSnapshot.PolicySource p : s.policySources()) {
      if (p.lastRejected() != null && (p.lastAccepted() == null || p.lastRejected().isAfter(p.lastAccepted()))) {
        rejected.put(p.name(), p.lastError());
      }
    }
    Map<String, Object> policy = new LinkedHashMap<>();
    policy.put("status", rejected.isEmpty() ? "accepted" : "rejected");
    policy.put("documents", s.documents().size());
    if (!rejected.isEmpty()) {
      policy.put("sources", rejected);
    }
    h.withDetail("policy", policy);

    MeshSnapshot.Certificate c = s.certificate();
    if (c != null) {
      Instant now = s.takenAt();
      boolean valid = !now.isBefore(c.notBefore()) && now.isBefore(c.notAfter());
      Map<String, Object> cert = new LinkedHashMap<>();
      cert.put("status", valid ? "valid" : now.isBefore(c.notBefore()) ? "not yet valid" : "expired");
      cert.put("spiffeId", c.spiffeId());
      cert.put("notAfter", c.notAfter().toString());
      h.withDetail("certificate", cert);
      if (!valid) {
        h.down();
      }
    }
    return h.build();
  }
}
