package io.meshup.http;

import com.sun.net.httpserver.HttpServer;
import io.meshup.core.Endpoint;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Real HTTP servers (the JDK's {@code HttpServer}) on ephemeral loopback ports; each answers with
 * its own id as body and echoes what it saw in headers {@code x-seen-method}, {@code x-seen-uri}
 * and {@code x-seen-body}.
 */
final class TestServers implements AutoCloseable {
  static {
    // The JDK server writes headers and body separately; without TCP_NODELAY every small response
    // waits for the client's delayed ACK (about 40 ms on Linux).
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  /** One server and the knobs a test turns. */
  static final class Instance {
    final String id;
    final Map<String, String> labels;
    final AtomicInteger calls = new AtomicInteger();
    /** When non-zero, every request is answered with this status. */
    final AtomicInteger failWith = new AtomicInteger();
    /** When positive, this many next requests are answered with 503. */
    final AtomicInteger failNext = new AtomicInteger();
    /** When set, requests wait for it before answering. */
    final AtomicReference<CountDownLatch> hold = new AtomicReference<>();
    /** When set, responses send their headers and first body bytes, then wait for it. */
    final AtomicReference<CountDownLatch> holdBody = new AtomicReference<>();
    HttpServer server;
    ExecutorService executor;

    Instance(String id, Map<String, String> labels) {
      this.id = id;
      this.labels = labels;
    }

    int port() {
      return server.getAddress().getPort();
    }

    Endpoint endpoint() {
      return new Endpoint(id, "127.0.0.1", port(), labels, 1);
    }
  }

  final List<Instance> instances = new ArrayList<>();

  Instance start(String id, Map<String, String> labels) throws IOException {
    Instance in = new Instance(id, labels);
    in.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    in.executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "test-http-" + id);
      t.setDaemon(true);
      return t;
    });
    in.server.setExecutor(in.executor);
    in.server.createContext("/", ex -> {
      try (ex) {
        in.calls.incrementAndGet();
        byte[] seenBody = ex.getRequestBody().readAllBytes();
        CountDownLatch latch = in.hold.get();
        if (latch != null) {
          await(latch);
        }
        int status = in.failWith.get();
        if (status == 0 && in.failNext.getAndUpdate(n -> Math.max(n - 1, 0)) > 0) {
          status = 503;
        }
        if (status == 0) {
          status = 200;
        }
        byte[] body = in.id.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("x-seen-method", ex.getRequestMethod());
        ex.getResponseHeaders().add("x-seen-uri", ex.getRequestURI().toString());
        ex.getResponseHeaders().add("x-seen-body", new String(seenBody, StandardCharsets.UTF_8));
        CountDownLatch bodyLatch = in.holdBody.get();
        if (bodyLatch != null) {
          ex.sendResponseHeaders(status, 0);
          ex.getResponseBody().write(body);
          ex.getResponseBody().flush();
          await(bodyLatch);
          return;
        }
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
      }
    });
    in.server.start();
    instances.add(in);
    return in;
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  List<Endpoint> endpoints() {
    return instances.stream().map(Instance::endpoint).toList();
  }

  /** A loopback port with nothing listening. */
  static int deadPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    for (Instance in : instances) {
      CountDownLatch l = in.hold.get();
      if (l != null) {
        l.countDown();
      }
      CountDownLatch b = in.holdBody.get();
      if (b != null) {
        b.countDown();
      }
      in.server.stop(0);
      in.executor.shutdownNow();
    }
  }
}
