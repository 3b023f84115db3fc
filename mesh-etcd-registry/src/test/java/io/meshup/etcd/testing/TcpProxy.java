package io.meshup.etcd.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP forwarder on a loopback port to one target, which a test can cut (every connection closed,
 * new ones refused) and heal (accepting again on the same port): a network partition between a
 * client and a server that both keep running. Thread-safe.
 */
public final class TcpProxy implements AutoCloseable {
  private final InetSocketAddress target;
  private final int port;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile ServerSocket listener;
  private volatile boolean closed;

  /** Starts forwarding from a free loopback port to {@code host:port}. */
  public TcpProxy(String host, int targetPort) {
    this.target = new InetSocketAddress(host, targetPort);
    try {
      ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      this.port = s.getLocalPort();
      accept(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A proxy to {@code "host:port"}. */
  public static TcpProxy to(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    return new TcpProxy(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
  }

  /** {@code 127.0.0.1:PORT}, the address clients dial. */
  public String address() {
    return "127.0.0.1:" + port;
  }

  /** Closes every connection and refuses new ones until {@link #heal()}. */
  public synchronized void cut() {
    ServerSocket s = listener;
    listener = null;
    quietly(s);
    for (Socket c : sockets) {
      quietly(c);
    }
    sockets.clear();
  }

  /** Accepts connections again, on the same port. */
  public synchronized void heal() {
    if (listener != null || closed) {
      return;
    }
    try {
      ServerSocket s = new ServerSocket();
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
      accept(s);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + port + " again", e);
    }
  }

  private void accept(ServerSocket s) {
    listener = s;
    Thread t = new Thread(() -> {
      while (!s.isClosed()) {
        try {
          Socket in = s.accept();
          Socket out = new Socket();
          try {
            out.connect(target, 2_000);
          } catch (IOException e) {
            quietly(in);
            continue;
          }
          synchronized (this) {
            if (listener != s) { // cut while this one was being connected: it must not outlive the cut
              quietly(in);
              quietly(out);
              return;
            }
            sockets.add(in);
            sockets.add(out);
          }
          pipe(in, out);
          pipe(out, in);
        } catch (IOException e) {
          return; // cut or closed
        }
      }
    }, "tcp-proxy-" + port);
    t.setDaemon(true);
    t.start();
  }

  private void pipe(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // one side went
      } finally {
        quietly(from);
        quietly(to);
        sockets.remove(from);
        sockets.remove(to);
      }
    }, "tcp-proxy-pipe-" + port);
    t.setDaemon(true);
    t.start();
  }

  private static void quietly(java.io.Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // best effort
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    cut();
  }
}
