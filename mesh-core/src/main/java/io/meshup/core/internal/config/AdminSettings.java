package io.meshup.core.internal.config;

/**
 * {@code mesh.admin}: the admin endpoint ({@code /metrics}, {@code /config_dump}, {@code /healthz},
 * {@code /ready}), off unless {@code enabled}.
 *
 * @param enabled whether the mesh serves it
 * @param address the address it listens on; loopback ({@code 127.0.0.1}) by default
 * @param port its port, {@value #DEFAULT_PORT} by default; 0 for one the system picks
 */
public record AdminSettings(boolean enabled, String address, int port) {
  /** The default port, Envoy's admin port in its documentation's examples. */
  public static final int DEFAULT_PORT = 9901;
  /** No admin endpoint. */
  public static final AdminSettings NONE = new AdminSettings(false, "127.0.0.1", DEFAULT_PORT);

  /** Reads {@code mesh.admin}; NONE when absent. */
  static AdminSettings parse(ConfigNode admin) {
    if (admin.isNull()) {
      return NONE;
    }
    admin.keys("enabled", "address", "port");
    String address = admin.get("address").string("127.0.0.1").trim();
    if (address.isEmpty()) {
      throw admin.get("address").error("is empty; expected an IP address or host name such as 127.0.0.1");
    }
    return new AdminSettings(admin.get("enabled").bool(true), address,
        (int) admin.get("port").integer(0, 65535, DEFAULT_PORT));
  }
}
