package io.meshup.core.internal.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.meshup.core.MeshSnapshot;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh's admin endpoint, on the JDK's own HTTP server: {@code GET /metrics} (Prometheus text
 * format, from the mesh's {@link PrometheusMeterRegistry}), {@code /config_dump} (the
 * {@link MeshSnapshot} as JSON), {@code /healthz} (200 while the mesh is open) and {@code /ready}
 * (200 once every destination had an answer from its registry, else 503 naming those waiting).
 * Anything else is 404; methods other than GET and HEAD are 405. Serves on one thread of its own;
 * closing stops it at once.
 */
public final class AdminServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  /** The content type of Prometheus's text exposition format. */
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService executor;
  private final PrometheusMeterRegistry prometheus;
  private final Supplier<MeshSnapshot> snapshot;
  private final BooleanSupplier healthy;

  private AdminServer(HttpServer server, ExecutorService executor, MeterRegistry registry,
      Supplier<MeshSnapshot> snapshot, BooleanSupplier healthy) {
    this.server = server;
    this.executor = executor;
    this.prometheus = prometheus(registry);
    this.snapshot = snapshot;
    this.healthy = healthy;
  }

  /**
   * Binds {@code address} and serves.
   *
   * @throws UncheckedIOException when the address cannot be bound (naming it)
   */
  public static AdminServer start(InetSocketAddress address, MeterRegistry registry, Supplier<MeshSnapshot> snapshot,
      BooleanSupplier healthy) {
    HttpServer server;
    try {
      server = HttpServer.create(address, 16);
    } catch (IOException e) {
      throw new UncheckedIOException("meshup: the admin endpoint cannot listen on " + address + " (mesh.admin): " + e, e);
    }
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "meshup-admin");
      t.setDaemon(true);
      return t;
    });
    AdminServer admin = new AdminServer(server, executor, registry, snapshot, healthy);
    server.createContext("/", admin::handle);
    server.setExecutor(executor);
    server.start();
    if (!address.getAddress().isLoopbackAddress()) {
      log.warn("meshup: the admin endpoint listens on {}, not on loopback: anyone who reaches it reads the mesh's"
          + " configuration", server.getAddress());
    }
    log.info("meshup: admin endpoint on http://{}:{}/ (/metrics, /config_dump, /healthz, /ready)",
        server.getAddress().getHostString(), server.getAddress().getPort());
    return admin;
  }

  /** The address it listens on (the port chosen when 0 was asked). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  /** The Prometheus registry {@code registry} is or holds, or null. */
  static PrometheusMeterRegistry prometheus(MeterRegistry registry) {
    if (registry instanceof PrometheusMeterRegistry p) {
      return p;
    }
    if (registry instanceof CompositeMeterRegistry c) {
      for (MeterRegistry r : c.getRegistries()) {
        PrometheusMeterRegistry p = prometheus(r);
        if (p != null) {
          return p;
        }
      }
    }
    return null;
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        answer(exchange, 405, "text/plain; charset=utf-8", "GET or HEAD only\n");
        return;
      }
      switch (exchange.getRequestURI().getPath()) {
        case "/metrics" -> {
          if (prometheus == null) {
            answer(exchange, 404, "text/plain; charset=utf-8", "meshup: the mesh's meter registry is no"
                + " PrometheusMeterRegistry (nor a composite holding one); pass one to Mesh.Builder.meterRegistry\n");
          } else {
            answer(exchange, 200, PROMETHEUS_TEXT, prometheus.scrape());
          }
        }
        case "/config_dump" -> answer(exchange, 200, "application/json", snapshot.get().toJson());
        case "/healthz" -> {
          boolean ok = healthy.getAsBoolean();
          answer(exchange, ok ? 200 : 503, "text/plain; charset=utf-8", ok ? "ok\n" : "closed\n");
        }
        case "/ready" -> {
          MeshSnapshot s = snapshot.get();
          if (s.ready() && healthy.getAsBoolean()) {
            answer(exchange, 200, "text/plain; charset=utf-8", "ready\n");
          } else {
            StringBuilder b = new StringBuilder("waiting for the registry:");
            for (MeshSnapshot.Destination d : s.destinations()) {
              if (!d.registry().endpointsKnown() && d.registry().lastError() == null) {
                b.append(' ').append(d.service());
              }
            }
            answer(exchange, 503, "text/plain; charset=utf-8", b.append('\n').toString());
          }
        }
        case "/" -> answer(exchange, 200, "text/plain; charset=utf-8", "/metrics /config_dump /healthz /ready\n");
        default -> answer(exchange, 404, "text/plain; charset=utf-8", "not found\n");
      }
    } catch (RuntimeException e) {
      log.warn("meshup: the admin endpoint failed to answer {}", exchange.getRequestURI(), e);
    }
  }

  private static void answer(HttpExchange exchange, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    if (exchange.getRequestMethod().equals("HEAD")) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Stops serving at once. */
  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
