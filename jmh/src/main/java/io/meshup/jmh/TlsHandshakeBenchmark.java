package io.meshup.jmh;

import io.meshup.core.MeshClock;
import io.meshup.core.identity.Credentials;
import io.meshup.core.identity.DevCertificateAuthority;
import io.meshup.core.internal.tls.JdkTlsContexts;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of one mutual-TLS handshake, client and server together on one thread: two
 * {@link SSLEngine}s exchange their records through in-memory buffers (no sockets), until both
 * are done and the server's session ticket has reached the client.
 *
 * <ul>
 *   <li>{@code mesh*}: contexts from {@link JdkTlsContexts} (MeshUp's key and trust managers,
 *       which read the certificate source and run the SPIFFE checks at every handshake), with
 *       credentials from the dev CA (EC P-256 keys, ECDSA-SHA256).
 *   <li>{@code jdk*}: the same certificates and keys through the JDK's default
 *       {@code KeyManagerFactory} and {@code TrustManagerFactory} (PKIX, no SPIFFE checks): the
 *       difference is what MeshUp's per-handshake checks cost.
 *   <li>{@code *Full}: a client engine without peer host/port, so nothing can be resumed (what
 *       MeshUp's gRPC client does by design).
 *   <li>{@code *Resumed}: a client engine for the same host and port every time, so the JDK's
 *       client session cache offers the last ticket and the server (which allows resumption for
 *       {@value JdkTlsContexts#SESSION_TIMEOUT_SECONDS} s) accepts it.
 * </ul>
 *
 * <p>The setup fails the trial unless the server's first flight in a resumed handshake is far
 * smaller than in a full one (no Certificate, CertificateRequest or CertificateVerify: it really
 * resumed). Total bytes do not tell: the JDK's stateless ticket carries the session, peer
 * certificates included, so a resumed ClientHello is about 2 KB. TLS 1.3, the JDK's default.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class TlsHandshakeBenchmark {
  static final String SERVER = "echo";
  static final String HOST = "echo.bench";
  static final int PORT = 8443;

  private SSLContext meshClient;
  private SSLContext meshServer;
  private SSLContext jdkClient;
  private SSLContext jdkServer;
  private final ByteBuffer clientToServer = ByteBuffer.allocate(1 << 17);
  private final ByteBuffer serverToClient = ByteBuffer.allocate(1 << 17);
  private final ByteBuffer app = ByteBuffer.allocate(1 << 17);
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
  /** Bytes of the server's first flight in the last handshake (ServerHello .. Finished). */
  private int serverFlight;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    DevCertificateAuthority ca = DevCertificateAuthority.create("bench.meshup.local");
    DevCertificateAuthority.Source client = ca.source("bench-client");
    DevCertificateAuthority.Source server = ca.source(SERVER);
    MeshClock clock = MeshClock.system();
    meshClient = JdkTlsContexts.client(client, clock, SERVER, new SimpleMeterRegistry());
    meshServer = JdkTlsContexts.server(server, clock, new SimpleMeterRegistry());
    jdkClient = plainJdk(client.current(), ca.root());
    jdkServer = plainJdk(server.current(), ca.root());

    StringBuilder failures = new StringBuilder();
    for (String variant : new String[] {"mesh", "jdk"}) {
      SSLContext c = variant.equals("mesh") ? meshClient : jdkClient;
      SSLContext s = variant.equals("mesh") ? meshServer : jdkServer;
      handshake(c.createSSLEngine(), s);
      int full = serverFlight;
      handshake(c.createSSLEngine(HOST, PORT), s);
      handshake(c.createSSLEngine(HOST, PORT), s);
      int resumed = serverFlight;
      System.out.println(variant + ": server's first flight " + full + " bytes in a full handshake, " + resumed
          + " bytes in a resumed one");
      if (resumed * 2 > full) {
        failures.append(variant).append(": the server's first flight was ").append(resumed)
            .append(" bytes with the client's session offered, ").append(full)
            .append(" without (certificates were sent): resumption did not happen. ");
      }
    }
    if (failures.length() > 0) {
      throw new IllegalStateException(failures.toString().trim());
    }
  }

  @Benchmark
  public int meshFull() throws SSLException {
    return handshake(meshClient.createSSLEngine(), meshServer);
  }

  @Benchmark
  public int meshResumed() throws SSLException {
    return handshake(meshClient.createSSLEngine(HOST, PORT), meshServer);
  }

  @Benchmark
  public int jdkFull() throws SSLException {
    return handshake(jdkClient.createSSLEngine(), jdkServer);
  }

  @Benchmark
  public int jdkResumed() throws SSLException {
    return handshake(jdkClient.createSSLEngine(HOST, PORT), jdkServer);
  }

  /** Runs a mutual-TLS handshake between a new client engine and a new server engine; returns the bytes exchanged. */
  int handshake(SSLEngine client, SSLContext serverContext) throws SSLException {
    SSLEngine server = serverContext.createSSLEngine();
    client.setUseClientMode(true);
    server.setUseClientMode(false);
    server.setNeedClientAuth(true);
    clientToServer.clear();
    serverToClient.clear();
    client.beginHandshake();
    server.beginHandshake();
    int bytes = 0;
    serverFlight = 0;
    for (int round = 0; round < 100; round++) {
      bytes += step(client, serverToClient, clientToServer);
      int fromServer = step(server, clientToServer, serverToClient);
      if (serverFlight == 0) {
        serverFlight = fromServer;
      }
      bytes += fromServer;
      if (done(client) && done(server) && clientToServer.position() == 0 && serverToClient.position() == 0) {
        return bytes;
      }
    }
    throw new IllegalStateException("handshake did not finish: client " + client.getHandshakeStatus() + ", server "
        + server.getHandshakeStatus());
  }

  private static boolean done(SSLEngine e) {
    HandshakeStatus hs = e.getHandshakeStatus();
    return hs == HandshakeStatus.NOT_HANDSHAKING || hs == HandshakeStatus.FINISHED;
  }

  /** Lets one engine read what it has received and write what it must send, until it waits for its peer. */
  private int step(SSLEngine engine, ByteBuffer in, ByteBuffer out) throws SSLException {
    int produced = 0;
    while (true) {
      HandshakeStatus hs = engine.getHandshakeStatus();
      switch (hs) {
        case NEED_TASK -> {
          Runnable task;
          while ((task = engine.getDelegatedTask()) != null) {
            task.run();
          }
        }
        case NEED_WRAP -> {
          SSLEngineResult r = engine.wrap(EMPTY, out);
          produced += r.bytesProduced();
          if (r.getStatus() != SSLEngineResult.Status.OK) {
            throw new IllegalStateException("wrap: " + r);
          }
        }
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
          if (!unwrap(engine, in)) {
            return produced;
          }
        }
        default -> {
          // handshake done: read any post-handshake message (the session ticket), then stop
          while (in.position() > 0 && unwrap(engine, in)) {
            // keep reading
          }
          return produced;
        }
      }
    }
  }

  /** Unwraps one record from {@code in} if a whole one is there; false when it needs more bytes. */
  private boolean unwrap(SSLEngine engine, ByteBuffer in) throws SSLException {
    in.flip();
    try {
      SSLEngineResult r = engine.unwrap(in, app);
      app.clear();
      if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) {
        return false;
      }
      if (r.getStatus() != SSLEngineResult.Status.OK) {
        throw new IllegalStateException("unwrap: " + r);
      }
      return r.bytesConsumed() > 0 || r.getHandshakeStatus() != HandshakeStatus.NEED_UNWRAP;
    } finally {
      in.compact();
    }
  }

  private static SSLContext plainJdk(Credentials own, X509Certificate root) throws Exception {
    char[] pw = "bench".toCharArray();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("me", own.privateKey(), pw, own.chain().toArray(new X509Certificate[0]));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, pw);
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    ts.setCertificateEntry("root", root);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    ctx.getClientSessionContext().setSessionTimeout(JdkTlsContexts.SESSION_TIMEOUT_SECONDS);
    ctx.getServerSessionContext().setSessionTimeout(JdkTlsContexts.SESSION_TIMEOUT_SECONDS);
    return ctx;
  }
}
