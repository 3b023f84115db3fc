package io.meshup.jmh.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A sidecar pair as Istio deploys it, with HAProxy in the role of Envoy: the client's local proxy
 * and the server side's proxy, both HTTP/2 aware ({@code mode http}, {@code proto h2}), so each
 * gRPC call is balanced per request (round robin) over the server instances by the remote proxy,
 * on reused HTTP/2 connections. With TLS, the hop between the two proxies is mutual TLS with
 * certificates of the same dev CA (EC P-256); client to local proxy and remote proxy to servers
 * stay plaintext on loopback, as in a pod.
 */
final class Haproxy implements AutoCloseable {
  final Process local;
  final Process remote;
  final int port;

  private Haproxy(Process local, Process remote, int port) {
    this.local = local;
    this.remote = remote;
    this.port = port;
  }

  static Haproxy start(List<String> binary, Path dir, String name, boolean tls, int[] serverPorts, Path certs)
      throws IOException, InterruptedException {
    int localPort = LoadDriver.freePort();
    int remotePort = LoadDriver.freePort();
    String defaults = """
        global
          maxconn 4000
        defaults
          mode http
          timeout connect 5s
          timeout client 60s
          timeout server 60s
          http-reuse always
        """;
    String remoteBind = tls
        ? "ssl crt %s ca-file %s verify required alpn h2".formatted(certs.resolve("proxy-remote.pem"), Certs.bundle(certs))
        : "proto h2";
    StringBuilder servers = new StringBuilder();
    for (int i = 0; i < serverPorts.length; i++) {
      servers.append("  server s").append(i).append(" 127.0.0.1:").append(serverPorts[i]).append(" proto h2\n");
    }
    String remoteCfg = defaults + """
        frontend inbound
          bind 127.0.0.1:%d %s
          default_backend app
        backend app
          balance roundrobin
        %s""".formatted(remotePort, remoteBind, servers);
    String upstream = tls
        ? "ssl crt %s ca-file %s verify required alpn h2".formatted(certs.resolve("proxy-local.pem"), Certs.bundle(certs))
        : "proto h2";
    String localCfg = defaults + """
        frontend outbound
          bind 127.0.0.1:%d proto h2
          default_backend remote
        backend remote
          server remote 127.0.0.1:%d %s
        """.formatted(localPort, remotePort, upstream);
    Path rc = dir.resolve(name + "-remote.cfg");
    Path lc = dir.resolve(name + "-local.cfg");
    Files.writeString(rc, remoteCfg);
    Files.writeString(lc, localCfg);
    Process remote = launch(binary, rc, dir.resolve(name + "-remote.log"));
    Process local = launch(binary, lc, dir.resolve(name + "-local.log"));
    waitForPort(remotePort, remote, dir.resolve(name + "-remote.log"));
    waitForPort(localPort, local, dir.resolve(name + "-local.log"));
    return new Haproxy(local, remote, localPort);
  }

  private static Process launch(List<String> binary, Path cfg, Path log) throws IOException {
    List<String> cmd = new java.util.ArrayList<>(binary);
    cmd.addAll(List.of("-db", "-f", cfg.toString()));
    return new ProcessBuilder(cmd)
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static void waitForPort(int port, Process p, Path log) throws IOException, InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < until) {
      if (!p.isAlive()) {
        throw new IllegalStateException("haproxy exited with " + p.exitValue() + ": " + Files.readString(log));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException e) {
        Thread.sleep(50);
      }
    }
    throw new IllegalStateException("haproxy did not listen on " + port + " in 10 s: " + Files.readString(log));
  }

  String pids() {
    return local.pid() + "," + remote.pid();
  }

  @Override
  public void close() {
    local.destroy();
    remote.destroy();
  }
}
