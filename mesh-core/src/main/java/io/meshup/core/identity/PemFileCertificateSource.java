package io.meshup.core.identity;

import io.meshup.core.spi.CertificateSource;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Credentials read from PEM files, as SPIRE's and Vault's agents write them: the certificate chain
 * (leaf first), the private key (PKCS#8 {@code PRIVATE KEY}, or {@code EC}/{@code RSA PRIVATE KEY})
 * and the trust bundle (one or more root certificates).
 *
 * <p>{@link #checkForChanges()} re-reads the files and, when their content changed and is valid,
 * makes the new credentials current and tells the listeners. {@link #start} runs it on a scheduler.
 * A file that is missing, half-written or does not match the others is logged and ignored: the last
 * good credentials keep serving. Thread-safe; checks are serialized.
 */
public final class PemFileCertificateSource implements CertificateSource {
  private static final Logger log = LoggerFactory.getLogger(PemFileCertificateSource.class);

  private final Path chainFile;
  private final Path keyFile;
  private final Path bundleFile;
  private final RotatingCredentials credentials;
  private final Object checkLock = new Object();
  private byte[][] lastContent;
  private String lastError;
  private volatile ScheduledFuture<?> schedule;

  private PemFileCertificateSource(Path chainFile, Path keyFile, Path bundleFile) {
    this.chainFile = Objects.requireNonNull(chainFile, "chainFile");
    this.keyFile = Objects.requireNonNull(keyFile, "keyFile");
    this.bundleFile = Objects.requireNonNull(bundleFile, "bundleFile");
    byte[][] content = readAll();
    this.credentials = new RotatingCredentials(parse(content));
    this.lastContent = content;
  }

  /**
   * Reads the three files now.
   *
   * @throws IllegalArgumentException naming the file that cannot be read or parsed, or saying why
   *     the files do not belong together
   */
  public static PemFileCertificateSource load(Path chainFile, Path keyFile, Path bundleFile) {
    return new PemFileCertificateSource(chainFile, keyFile, bundleFile);
  }

  /**
   * Checks the files every {@code interval} on {@code scheduler} (a check reads three small files).
   * Returns this. {@link #close()} stops it.
   */
  public PemFileCertificateSource start(ScheduledExecutorService scheduler, Duration interval) {
    long ms = Math.max(1, interval.toMillis());
    schedule = scheduler.scheduleWithFixedDelay(this::checkQuietly, ms, ms, TimeUnit.MILLISECONDS);
    return this;
  }

  @Override
  public Credentials current() {
    return credentials.current();
  }

  @Override
  public Subscription subscribe(Listener listener) {
    return credentials.subscribe(listener);
  }

  /**
   * Re-reads the files; when their content changed and is valid, makes it current.
   *
   * @return true when new credentials were published
   */
  public boolean checkForChanges() {
    synchronized (checkLock) {
      byte[][] content;
      Credentials next;
      try {
        content = readAll();
        if (sameContent(content, lastContent)) {
          return false;
        }
        next = parse(content);
      } catch (IllegalArgumentException e) {
        if (!e.getMessage().equals(lastError)) {
          log.warn("keeping the last good credentials {}: {}", credentials.currentOrNull(), e.getMessage());
          lastError = e.getMessage();
        }
        return false;
      }
      lastContent = content;
      lastError = null;
      credentials.replace(next);
      log.info("loaded new credentials {} from {}", next, chainFile);
      return true;
    }
  }

  private void checkQuietly() {
    try {
      checkForChanges();
    } catch (RuntimeException e) {
      log.warn("certificate file check failed", e);
    }
  }

  @Override
  public void close() {
    ScheduledFuture<?> s = schedule;
    if (s != null) {
      s.cancel(false);
    }
  }

  private byte[][] readAll() {
    return new byte[][] {read(chainFile), read(keyFile), read(bundleFile)};
  }

  private static byte[] read(Path p) {
    return io.meshup.core.internal.tls.PemFiles.read(p);
  }

  private static boolean sameContent(byte[][] a, byte[][] b) {
    if (b == null) {
      return false;
    }
    for (int i = 0; i < a.length; i++) {
      if (!Arrays.equals(a[i], b[i])) {
        return false;
      }
    }
    return true;
  }

  private Credentials parse(byte[][] content) {
    List<X509Certificate> chain = certificates(chainFile, content[0]);
    PrivateKey key = privateKey(keyFile, content[1]);
    List<X509Certificate> bundle = certificates(bundleFile, content[2]);
    checkKeyMatches(key, chain.get(0));
    try {
      return new Credentials(key, chain, bundle);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(chainFile + ": " + e.getMessage(), e);
    }
  }

  static List<X509Certificate> certificates(Path file, byte[] pem) {
    return io.meshup.core.internal.tls.PemFiles.certificates(file, pem);
  }

  static PrivateKey privateKey(Path file, byte[] pem) {
    return io.meshup.core.internal.tls.PemFiles.privateKey(file, pem);
  }

  private void checkKeyMatches(PrivateKey key, X509Certificate leaf) {
    String alg = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> null;
    };
    if (alg == null) {
      return;
    }
    try {
      byte[] probe = "meshup".getBytes(StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(leaf.getPublicKey());
      v.update(probe);
      if (!v.verify(sig)) {
        throw new IllegalArgumentException(keyFile + ": the private key does not belong to the leaf certificate in " + chainFile);
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(keyFile + ": the private key does not belong to the leaf certificate in " + chainFile
          + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "PemFileCertificateSource{" + chainFile + ", " + keyFile + ", " + bundleFile + "}";
  }
}
