package io.meshup.consul.internal;

import io.meshup.core.spi.Settings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The {@code mesh.registry.consul} section, read and checked.
 *
 * @param scheme {@code http} or {@code https}
 * @param host agent host
 * @param port agent HTTP(S) port
 * @param token ACL token, or empty
 * @param datacenter datacenter to query, or empty for the agent's
 * @param waitTime blocking query wait
 * @param tls key and trust stores for HTTPS to the agent, or null
 * @param registration this service's registration, or null when it does not register
 * @param kvPrefix KV prefix holding policy documents, or null when KV policy is off
 * @param configEntries whether Consul's service-router, -splitter and -resolver entries are read
 * @param intentions whether Connect intentions are read as authorization policy for this service
 */
public record ConsulSettings(String scheme, String host, int port, String token, String datacenter,
    Duration waitTime, Tls tls, Registration registration, String kvPrefix, boolean configEntries,
    boolean intentions) {

  /** The settings with the token and store passwords left out, so that no log line can carry them. */
  @Override
  public String toString() {
    return "ConsulSettings[" + scheme + "://" + host + ":" + port + ", token " + (token.isEmpty() ? "none" : "set (not shown)")
        + ", datacenter '" + datacenter + "', waitTime " + waitTime + ", registration " + registration + ", kv " + kvPrefix
        + ", configEntries " + configEntries + ", intentions " + intentions + "]";
  }

  /** Key and trust stores (PKCS12 or JKS) for HTTPS to the agent. */
  public record Tls(String trustStore, String trustStorePassword, String keyStore, String keyStorePassword,
      String storeType) {
    /** The stores without their passwords. */
    @Override
    public String toString() {
      return "Tls[trustStore " + trustStore + ", keyStore " + keyStore + ", " + storeType + "]";
    }
  }

  /** How this service registers itself. */
  public record Registration(String id, String name, String address, int port, List<String> tags,
      Map<String, String> meta, Check check, Duration drainTime) {}

  /** The health check Consul runs (http, grpc, tcp) or the TTL check the library keeps passing. */
  public record Check(String http, String grpc, String tcp, Duration ttl, Duration interval, Duration timeout,
      Duration deregisterCriticalServiceAfter) {}

  public static ConsulSettings read(Settings s, String serviceName, Function<String, String> env) {
    s.allowOnly("address", "token", "datacenter", "waitTime", "tls", "registration", "kv", "configEntries", "intentions");
    AgentSettings agent = AgentSettings.read(s, env);
    Duration wait = s.duration("waitTime", Duration.ofSeconds(30));
    if (wait.compareTo(Duration.ofSeconds(1)) < 0 || wait.compareTo(Duration.ofMinutes(10)) > 0) {
      throw s.error("waitTime", wait + " is out of range; must be 1s..10m");
    }
    Registration reg = null;
    if (s.has("registration")) {
      Settings r = s.section("registration");
      r.allowOnly("enabled", "id", "name", "address", "port", "tags", "meta", "check", "drainTime");
      if (r.bool("enabled", true)) {
        String regAddress = r.string("address", "127.0.0.1");
        int regPort = (int) r.integer("port", 1, 65535, -1);
        if (regPort < 0) {
          throw r.error("port", "is required: the port this service listens on");
        }
        String name = r.string("name", serviceName);
        String id = r.string("id", name + "-" + regAddress + "-" + regPort);
        reg = new Registration(id, name, regAddress, regPort, r.strings("tags"), r.stringMap("meta"),
            check(r.section("check"), r.has("check")), r.duration("drainTime", Duration.ofSeconds(1)));
      }
    }
    String prefix = null;
    if (s.has("kv")) {
      Settings kv = s.section("kv");
      kv.allowOnly("enabled", "prefix");
      if (kv.bool("enabled", true)) {
        prefix = kv.string("prefix", "meshup/config/");
        if (prefix.startsWith("/")) {
          throw kv.error("prefix", "must not start with '/'");
        }
      }
    }
    boolean entries = true;
    if (s.has("configEntries")) {
      Settings ce = s.section("configEntries");
      ce.allowOnly("enabled");
      entries = ce.bool("enabled", true);
    }
    boolean intentions = true;
    if (s.has("intentions")) {
      Settings in = s.section("intentions");
      in.allowOnly("enabled");
      intentions = in.bool("enabled", true);
    }
    return new ConsulSettings(agent.scheme(), agent.host(), agent.port(), agent.token(), s.string("datacenter", ""), wait,
        agent.tls(), reg,
        prefix, entries, intentions);
  }

  private static Check check(Settings c, boolean present) {
    if (!present) {
      return null;
    }
    c.allowOnly("http", "grpc", "tcp", "ttl", "interval", "timeout", "deregisterCriticalServiceAfter");
    int kinds = (c.has("http") ? 1 : 0) + (c.has("grpc") ? 1 : 0) + (c.has("tcp") ? 1 : 0) + (c.has("ttl") ? 1 : 0);
    if (kinds != 1) {
      throw c.error("", "set exactly one of http, grpc, tcp or ttl");
    }
    Duration ttl = c.duration("ttl", null);
    if (ttl != null && ttl.compareTo(Duration.ofSeconds(1)) < 0) {
      throw c.error("ttl", ttl + " is too short; at least 1s");
    }
    return new Check(c.string("http", null), c.string("grpc", null), c.string("tcp", null), ttl,
        c.duration("interval", Duration.ofSeconds(10)), c.duration("timeout", Duration.ofSeconds(2)),
        c.duration("deregisterCriticalServiceAfter", Duration.ofMinutes(1)));
  }
}
