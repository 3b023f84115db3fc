package io.meshup.spring.autoconfigure;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The starter's own settings, under {@code meshup}. MeshUp's settings stay in the {@code mesh:}
 * section, which is read and checked whole by MeshUp itself (as {@code Mesh.fromYaml} reads it), so
 * the two never mix.
 */
@ConfigurationProperties("meshup")
public class MeshStarterProperties {
  /** Whether the starter builds a Mesh bean from the mesh section (and everything that needs one). */
  private boolean enabled = true;
  private final Grpc grpc = new Grpc();
  private final Servlet servlet = new Servlet();

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public Grpc getGrpc() {
    return grpc;
  }

  public Servlet getServlet() {
    return servlet;
  }

  /** The gRPC server. */
  public static class Grpc {
    private final Server server = new Server();

    public Server getServer() {
      return server;
    }
  }

  /** The gRPC server made of the context's BindableService beans. */
  public static class Server {
    /** Whether to serve the context's BindableService beans. */
    private boolean enabled = true;
    /** The port to listen on; 0 lets the system choose one. */
    private int port = 9090;
    /** The address to listen on; all addresses when unset. */
    private String address;
    /** How long calls in flight may take to end when the server stops; then they are cancelled. */
    private Duration shutdownTimeout = Duration.ofSeconds(30);

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public int getPort() {
      return port;
    }

    public void setPort(int port) {
      this.port = port;
    }

    public String getAddress() {
      return address;
    }

    public void setAddress(String address) {
      this.address = address;
    }

    public Duration getShutdownTimeout() {
      return shutdownTimeout;
    }

    public void setShutdownTimeout(Duration shutdownTimeout) {
      this.shutdownTimeout = shutdownTimeout;
    }
  }

  /** The servlet (Spring MVC) side. */
  public static class Servlet {
    private final Authorization authorization = new Authorization();

    public Authorization getAuthorization() {
      return authorization;
    }
  }

  /** The servlet filter authorizing inbound requests. */
  public static class Authorization {
    /** Whether every request is authorized against the mesh's policies before the application sees it. */
    private boolean enabled = true;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }
  }
}
