package io.meshup.etcd.internal;

import io.meshup.core.spi.Settings;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code mesh.registry.etcd} section, read and checked; every error names its key.
 *
 * @param endpoints the members' client addresses, at least one
 * @param tls whether the members are reached over TLS ({@code https://} endpoints or a {@code tls}
 *     section)
 * @param caFile PEM CA bundle that verifies the members' certificates; null for the JDK's trust
 * @param certFile PEM client certificate chain (client-certificate auth); null for none
 * @param keyFile PEM PKCS#8 private key of {@code certFile}; null for none
 * @param serverName the name the members' certificates must carry; null to check each member's host
 * @param username etcd user for password authentication; empty for none
 * @param password that user's password; never logged or shown by {@link #toString()}
 * @param requestTimeout deadline of each unary call (reads, writes, lease grants)
 * @param initialBackoff first retry delay after a failure
 * @param maxBackoff longest retry delay; delays double up to it, with jitter
 * @param discoveryPrefix key prefix of the services' endpoint keys, empty or ending in {@code /}
 * @param registration this service's registration, or null when it does not register
 * @param kvPrefix key prefix holding policy documents, or null when etcd policy is off
 */
public record EtcdSettings(List<Member> endpoints, boolean tls, String caFile, String certFile, String keyFile,
    String serverName, String username, String password, Duration requestTimeout, Duration initialBackoff,
    Duration maxBackoff, String discoveryPrefix, Registration registration, String kvPrefix) {

  /** The default {@code discovery.prefix}. */
  public static final String DEFAULT_DISCOVERY_PREFIX = "services/";
  /** The default {@code kv.prefix}, as for Consul. */
  public static final String DEFAULT_KV_PREFIX = "meshup/config/";

  /** One member's client address. */
  public record Member(String host, int port) {
    /** {@code host:port}, with brackets around an IPv6 host. */
    @Override
    public String toString() {
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
  }

  /**
   * How this service registers itself: a key {@code <discovery prefix><name>/<id>} holding the Go
   * naming JSON, attached to a lease of {@code ttl} that is kept alive.
   *
   * @param name the service name registered
   * @param id the last key segment, unique per instance (default {@code address:port})
   * @param address the address callers dial
   * @param port the port callers dial
   * @param metadata the endpoint's {@code Metadata} (labels such as {@code version})
   * @param ttl the lease's time to live: how long the key outlives a dead or partitioned process
   * @param drainTime how long the mesh keeps serving after deregistering on close
   */
  public record Registration(String name, String id, String address, int port, Map<String, String> metadata,
      Duration ttl, Duration drainTime) {}

  /** The settings with the password left out, so that no log line or message can carry it. */
  @Override
  public String toString() {
    return "EtcdSettings[" + endpoints + ", tls " + tls + ", user " + (username.isEmpty() ? "none" : username)
        + ", password " + (password.isEmpty() ? "none" : "set (not shown)") + ", client certificate "
        + (certFile != null) + ", discovery prefix '" + discoveryPrefix + "', registration " + registration
        + ", kv " + kvPrefix + "]";
  }

  /** Reads {@code mesh.registry.etcd}. */
  public static EtcdSettings read(Settings s, String serviceName) {
    s.allowOnly("endpoints", "username", "password", "tls", "requestTimeout", "backoff", "discovery", "registration",
        "kv");
    List<String> raw = new ArrayList<>();
    for (String item : s.has("endpoints") ? s.strings("endpoints") : List.of("127.0.0.1:2379")) {
      for (String part : item.split(",")) {
        if (!part.isBlank()) {
          raw.add(part.trim());
        }
      }
    }
    if (raw.isEmpty()) {
      throw s.error("endpoints", "is empty; list the members' client addresses, such as 127.0.0.1:2379");
    }
    Boolean https = null;
    List<Member> members = new ArrayList<>();
    for (int i = 0; i < raw.size(); i++) {
      String a = raw.get(i);
      boolean secure = a.startsWith("https://");
      boolean scheme = secure || a.startsWith("http://");
      if (!scheme && a.contains("://")) {
        throw s.error("endpoints", "[" + i + "] has a scheme other than http:// or https://; expected host:port or http(s)://host:port");
      }
      if (scheme) {
        if (https != null && https != secure) {
          throw s.error("endpoints", "mix http:// and https://; every member is reached the same way");
        }
        https = secure;
      }
      members.add(member(s, i, scheme ? a : "http://" + a));
    }
    boolean tlsSection = s.has("tls");
    if (Boolean.FALSE.equals(https) && tlsSection) {
      throw s.error("tls", "is set but the endpoints are http://; use https:// endpoints (or host:port) for TLS");
    }
    boolean tls = tlsSection || Boolean.TRUE.equals(https);
    String ca = null;
    String cert = null;
    String key = null;
    String serverName = null;
    if (tlsSection) {
      Settings t = s.section("tls");
      t.allowOnly("caFile", "certFile", "keyFile", "serverName");
      ca = t.string("caFile", null);
      cert = t.string("certFile", null);
      key = t.string("keyFile", null);
      serverName = t.string("serverName", null);
      if ((cert == null) != (key == null)) {
        throw t.error(cert == null ? "certFile" : "keyFile", "is required with " + (cert == null ? "keyFile" : "certFile")
            + ": a client certificate needs its private key");
      }
    }
    String username = s.string("username", "");
    String password = s.string("password", "");
    if (username.isEmpty() && !password.isEmpty()) {
      throw s.error("username", "is required when a password is set");
    }
    if (!username.isEmpty() && password.isEmpty()) {
      throw s.error("password", "is required when a username is set (for client-certificate auth leave both out)");
    }
    Duration requestTimeout = s.duration("requestTimeout", Duration.ofSeconds(5));
    if (requestTimeout.compareTo(Duration.ofMillis(100)) < 0 || requestTimeout.compareTo(Duration.ofMinutes(5)) > 0) {
      throw s.error("requestTimeout", requestTimeout + " is out of range; must be 100ms..5m");
    }
    Settings b = s.section("backoff");
    b.allowOnly("initial", "max");
    Duration initial = b.duration("initial", Duration.ofMillis(100));
    Duration max = b.duration("max", Duration.ofSeconds(1));
    if (initial.compareTo(Duration.ofMillis(10)) < 0) {
      throw b.error("initial", initial + " is too short; at least 10ms");
    }
    if (max.compareTo(initial) < 0 || max.compareTo(Duration.ofMinutes(5)) > 0) {
      throw b.error("max", max + " is out of range; must be initial.." + Duration.ofMinutes(5));
    }
    Settings d = s.section("discovery");
    d.allowOnly("prefix");
    String discoveryPrefix = prefix(d.string("prefix", DEFAULT_DISCOVERY_PREFIX));
    Registration reg = null;
    if (s.has("registration")) {
      Settings r = s.section("registration");
      r.allowOnly("enabled", "name", "id", "address", "port", "metadata", "ttl", "drainTime");
      if (r.bool("enabled", true)) {
        String address = r.string("address", "127.0.0.1");
        int port = (int) r.integer("port", 1, 65535, -1);
        if (port < 0) {
          throw r.error("port", "is required: the port this service listens on");
        }
        String name = r.string("name", serviceName);
        if (name.isEmpty() || name.contains("/")) {
          throw r.error("name", "'" + name + "' must be a non-empty service name without '/'");
        }
        String id = r.string("id", new Member(address, port).toString());
        if (id.isEmpty()) {
          throw r.error("id", "must not be empty");
        }
        Duration ttl = r.duration("ttl", Duration.ofSeconds(10));
        if (ttl.compareTo(Duration.ofSeconds(2)) < 0 || ttl.compareTo(Duration.ofHours(1)) > 0 || ttl.toMillis() % 1000 != 0) {
          throw r.error("ttl", ttl + " is out of range; etcd leases count whole seconds, 2s..1h");
        }
        Duration drain = r.duration("drainTime", Duration.ofSeconds(1));
        if (drain.isNegative() || drain.compareTo(Duration.ofMinutes(5)) > 0) {
          throw r.error("drainTime", drain + " is out of range; must be 0s..5m");
        }
        reg = new Registration(name, id, address, port, r.stringMap("metadata"), ttl, drain);
      }
    }
    String kvPrefix = null;
    if (s.has("kv")) {
      Settings kv = s.section("kv");
      kv.allowOnly("enabled", "prefix");
      if (kv.bool("enabled", true)) {
        kvPrefix = prefix(kv.string("prefix", DEFAULT_KV_PREFIX));
        if (kvPrefix.isEmpty()) {
          throw kv.error("prefix", "must not be empty: policy documents need a prefix of their own");
        }
      }
    }
    return new EtcdSettings(List.copyOf(members), tls, ca, cert, key, serverName, username, password, requestTimeout,
        initial, max, discoveryPrefix, reg, kvPrefix);
  }

  /** A key prefix ends in {@code /} (one is added) unless it is empty. */
  private static String prefix(String value) {
    return value.isEmpty() || value.endsWith("/") ? value : value + "/";
  }

  private static Member member(Settings s, int i, String address) {
    URI uri;
    try {
      uri = URI.create(address);
    } catch (IllegalArgumentException e) {
      throw s.error("endpoints", "[" + i + "] is not an address; expected host:port or http(s)://host:port");
    }
    if (uri.getRawUserInfo() != null) {
      // never echo the text: it may hold a password
      throw s.error("endpoints", "[" + i + "] carries credentials in the address; set username and password instead,"
          + " which are sent only inside the connection");
    }
    if (uri.getHost() == null || uri.getPort() < 1 || (uri.getRawPath() != null && !uri.getRawPath().isEmpty()
        && !uri.getRawPath().equals("/")) || uri.getRawQuery() != null) {
      throw s.error("endpoints", "[" + i + "] '" + address.replaceFirst("^https?://", "")
          + "' is not an address; expected host:port or http(s)://host:port");
    }
    String host = uri.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new Member(host, uri.getPort());
  }
}
