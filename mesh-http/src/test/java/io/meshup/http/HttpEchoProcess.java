package io.meshup.http;

import com.sun.net.httpserver.HttpServer;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * An HTTP echo server in a JVM of its own ({@link io.meshup.core.testing.ChildProcess}): answers
 * each request with its id, after writing the request's query as one line to its log before it
 * answers (so requests executed survive a SIGKILL). Args: id, log file.
 */
public final class HttpEchoProcess {
  private HttpEchoProcess() {}

  public static void main(String[] args) throws Exception {
    System.setProperty("sun.net.httpserver.nodelay", "true");
    String id = args[0];
    OutputStream log = new FileOutputStream(args[1], true);
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/", ex -> {
      try (ex) {
        ex.getRequestBody().readAllBytes();
        synchronized (log) {
          log.write((ex.getRequestURI().getRawQuery() + "\n").getBytes(StandardCharsets.UTF_8));
          log.flush();
        }
        byte[] body = id.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
      }
    });
    server.start();
    System.out.println("PORT " + server.getAddress().getPort());
    System.out.flush();
  }
}
