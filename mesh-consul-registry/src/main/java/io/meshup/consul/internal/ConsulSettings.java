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
 * @param consistency how the registry's reads are served ({@code consistency}, default stale)
 * @param maxStaleness how far behind the leader a stale answer may be before it is read again from the leader
 * @param agentCache whether destinations' health is read through the agent's cache ({@code ?cached})
 * @param requestTimeout how long a request that does not block may take (connect, then the answer)
 * @param backoff delays between retries after a failure
 */
public record ConsulSettings(String scheme, String host, int port, String token, String datacenter,
    Duration waitTime, Tls tls, Registration registration, String kvPrefix, boolean configEntries,
    boolean intentions, Consistency consistency, Duration maxStaleness, boolean agentCache,
    Duration requestTimeout, Backoff backoff) {

  /** Consul's consistency modes for reads. */
  public enum Consistency {
    /** {@code ?stale}: any server answers from its own state, without a round trip to the leader (the default). */
    STALE,
    /** No parameter: the leader answers (it may be briefly behind after an election). */
    DEFAULT,
    /** {@code ?consistent}: the leader confirms its leadership with a quorum before each answer. */
    CONSISTENT;

    static Consistency parse(Settings s, String key) {
      String v = s.string(key, "stale");
      return switch (v) {
        case "stale" -> STALE;
        case "default" -> DEFAULT;
        case "consistent" -> CONSISTENT;
        default -> throw s.error(key, "'" + v + "' is not a consistency mode; expected stale, default or consistent");
      };
    }
  }

  /** Retry delays: {@code initial} doubling up to {@code max}, each drawn from the upper half of its step. */
  public record Backoff(Duration initial, Duration max) {
    /** The defaults: 100 ms doubling to 1 s. */
    public static final Backoff DEFAULT = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1));

    /** The delay before retry number {@code failures} (1 for the first), with jitter. */
    long delayMillis(int failures) {
      long cap = Math.min(max.toMillis(), initial.toMillis() << Math.min(Math.max(failures - 1, 0), 20));
      return java.util.concurrent.ThreadLocalRandom.current().nextLong(cap / 2, cap + 1);
    }
  }

  /** The settings of {@code ConsulSettings.read} with every default, for a given agent (tests). */
  static ConsulSettings defaults(String host, int port) {
    return new ConsulSettings("http", host, port, "", "", Duration.ofSeconds(30), null, null, null, true, true,
        Consistency.STALE, DEFAULT_MAX_STALENESS, false, DEFAULT_REQUEST_TIMEOUT, Backoff.DEFAULT);
  }

  static final Duration DEFAULT_MAX_STALENESS = Duration.ofSeconds(5);
  static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(5);

  /** The settings with the token and store passwords left out, so that no log line can carry them. */
  @Override
  public String toString() {
    return "ConsulSettings[" + scheme + "://" + host + ":" + port + ", token " + (token.isEmpty() ? "none" : "set (not shown)")
        + ", datacenter '" + datacenter + "', waitTime " + waitTime + ", registration " + registration + ", kv " + kvPrefix
        + ", configEntries " + configEntries + ", intentions " + intentions + ", consistency " + consistency
        + ", maxStaleness " + maxStaleness + ", agentCache " + agentCache + ", requestTimeout " + requestTimeout
        + ", backoff " + backoff + "]";
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
    s.allowOnly("address", "token", "datacenter", "waitTime", "tls", "registration", "kv", "configEntries", "intentions",
        "consistency", "maxStaleness", "agentCache", "requestTimeout", "backoff");
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
    Consistency consistency = Consistency.parse(s, "consistency");
    Duration maxStaleness = s.duration("maxStaleness", DEFAULT_MAX_STALENESS);
    if (maxStaleness.compareTo(Duration.ofMillis(100)) < 0 || maxStaleness.compareTo(Duration.ofHours(1)) > 0) {
      throw s.error("maxStaleness", maxStaleness + " is out of range; must be 100ms..1h");
    }
    if (s.has("maxStaleness") && consistency != Consistency.STALE) {
      throw s.error("maxStaleness", "applies to consistency: stale only (consistency is " + s.string("consistency", "") + ")");
    }
    boolean agentCache = s.bool("agentCache", false);
    if (agentCache && consistency == Consistency.CONSISTENT) {
      throw s.error("agentCache", "cannot be combined with consistency: consistent (Consul refuses ?cached with ?consistent)");
    }
    Duration requestTimeout = s.duration("requestTimeout", DEFAULT_REQUEST_TIMEOUT);
    if (requestTimeout.compareTo(Duration.ofMillis(100)) < 0 || requestTimeout.compareTo(Duration.ofMinutes(5)) > 0) {
      throw s.error("requestTimeout", requestTimeout + " is out of range; must be 100ms..5m");
    }
    Backoff backoff = Backoff.DEFAULT;
    if (s.has("backoff")) {
      Settings b = s.section("backoff");
      b.allowOnly("initial", "max");
      Duration initial = b.duration("initial", Backoff.DEFAULT.initial());
      Duration max = b.duration("max", Backoff.DEFAULT.max());
      if (initial.compareTo(Duration.ofMillis(10)) < 0 || initial.compareTo(Duration.ofMinutes(1)) > 0) {
        throw b.error("initial", initial + " is out of range; must be 10ms..1m");
      }
      if (max.compareTo(initial) < 0 || max.compareTo(Duration.ofMinutes(5)) > 0) {
        throw b.error("max", max + " is out of range; must be initial (" + initial + ")..5m");
      }
      backoff = new Backoff(initial, max);
    }
    return new ConsulSettings(agent.scheme(), agent.host(), agent.port(), agent.token(), s.string("datacenter", ""), wait,
        agent.tls(), reg, prefix, entries, intentions, consistency, maxStaleness, agentCache,
        requestTimeout, backoff);
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
