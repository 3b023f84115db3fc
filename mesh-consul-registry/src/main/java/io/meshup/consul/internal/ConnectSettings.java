package io.meshup.consul.internal;

import io.meshup.core.spi.Settings;
import java.time.Duration;
import java.util.function.Function;

/**
 * The {@code mesh.tls.consul-connect} section, read and checked. The agent keys ({@code address},
 * {@code token}, {@code tls}) are read as in {@code mesh.registry.consul}.
 *
 * @param agent how to reach the local Consul agent
 * @param service the Connect service whose leaf certificate this workload presents
 * @param waitTime blocking query wait
 * @param checkInterval how often the expiry check runs on the mesh's scheduler
 * @param expiryWarning remaining validity under which the source raises its alarm, or null for a
 *     fifth of the leaf's lifetime
 */
public record ConnectSettings(AgentSettings agent, String service, Duration waitTime, Duration checkInterval,
    Duration expiryWarning) {

  /** The section's path, for messages. */
  public static final String SECTION = "mesh.tls.consul-connect";

  public static ConnectSettings read(Settings s, String serviceName, Function<String, String> env) {
    s.allowOnly("address", "token", "tls", "service", "waitTime", "checkInterval", "expiryWarning");
    AgentSettings agent = AgentSettings.read(s, env);
    String service = s.string("service", serviceName).trim();
    if (service.isEmpty() || !service.matches("[A-Za-z0-9._-]+")) {
      throw s.error("service", "'" + service + "' is not a Consul service name; expected letters, digits, '.', '_' and '-'");
    }
    Duration wait = s.duration("waitTime", Duration.ofSeconds(30));
    if (wait.compareTo(Duration.ofSeconds(1)) < 0 || wait.compareTo(Duration.ofMinutes(10)) > 0) {
      throw s.error("waitTime", wait + " is out of range; must be 1s..10m");
    }
    Duration check = s.duration("checkInterval", Duration.ofMinutes(1));
    if (check.isNegative() || check.isZero()) {
      throw s.error("checkInterval", check + " is not positive");
    }
    Duration warning = s.duration("expiryWarning", null);
    if (warning != null && (warning.isNegative() || warning.isZero())) {
      throw s.error("expiryWarning", warning + " is not positive");
    }
    return new ConnectSettings(agent, service, wait, check, warning);
  }
}
