package io.meshup.core.identity;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads and writes a {@link DevCertificateAuthority}'s root in a folder shared by the processes of
 * one user, under an exclusive file lock. Stateless.
 */
final class SharedRoot {
  private static final Logger log = LoggerFactory.getLogger(SharedRoot.class);
  /** A root closer than this to its end is replaced. */
  static final Duration MIN_REMAINING = Duration.ofDays(1);
  static final String CERT = "root.pem";
  static final String KEY = "root-key.pem";

  private SharedRoot() {}

  static void loadOrCreate(DevCertificateAuthority ca, Path dir) {
    try {
      createPrivateDirectories(dir);
      checkPrivate(dir);
      try (FileChannel lockFile = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock lock = lockFile.lock()) {
        Path certFile = dir.resolve(CERT);
        Path keyFile = dir.resolve(KEY);
        if (Files.exists(certFile) && Files.exists(keyFile)) {
          checkKeyPrivate(keyFile);
          X509Certificate cert = PemFileCertificateSource.certificates(certFile, Files.readAllBytes(certFile)).get(0);
          PrivateKey key = PemFileCertificateSource.privateKey(keyFile, Files.readAllBytes(keyFile));
          check(ca, certFile, cert, keyFile, key);
          Instant now = Instant.ofEpochMilli(ca.clock().currentTimeMillis());
          if (cert.getNotAfter().toInstant().isAfter(now.plus(MIN_REMAINING))) {
            ca.installRoot(new KeyPair(cert.getPublicKey(), key), cert);
            log.debug("Development CA for {}: root {} from {}", ca.trustDomain(), cert.getSerialNumber().toString(16), certFile);
            return;
          }
          log.warn("Development CA for {}: the root in {} expires {}; replacing it (processes holding the old root must restart)",
              ca.trustDomain(), certFile, cert.getNotAfter().toInstant());
        }
        ca.generateRoot();
        write(keyFile, pem("PRIVATE KEY", ca.rootKeyPair().getPrivate().getEncoded()), true);
        write(certFile, pem("CERTIFICATE", ca.root().getEncoded()), false);
        log.info("Development CA for {}: created a root in {}", ca.trustDomain(), certFile);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or create the development CA in " + dir + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot encode the development CA's root for " + dir, e);
    }
  }

  private static void check(DevCertificateAuthority ca, Path certFile, X509Certificate cert, Path keyFile, PrivateKey key)
      throws GeneralSecurityException {
    List<String> uris = SpiffeCertificates.uriSans(cert);
    String expected = "spiffe://" + ca.trustDomain();
    if (!uris.contains(expected)) {
      throw new IllegalArgumentException(certFile + ": is a root for " + uris + ", not for " + expected
          + "; use another folder or remove it");
    }
    byte[] probe = "meshup".getBytes(StandardCharsets.US_ASCII);
    Signature signer = Signature.getInstance("SHA256withECDSA");
    signer.initSign(key);
    signer.update(probe);
    byte[] sig = signer.sign();
    Signature verifier = Signature.getInstance("SHA256withECDSA");
    verifier.initVerify(cert.getPublicKey());
    verifier.update(probe);
    if (!verifier.verify(sig)) {
      throw new IllegalArgumentException(keyFile + ": is not the key of " + certFile + "; remove both to start a new CA");
    }
  }

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }

  private static final java.util.Set<java.nio.file.attribute.PosixFilePermission> OTHERS = java.util.EnumSet.of(
      java.nio.file.attribute.PosixFilePermission.GROUP_READ, java.nio.file.attribute.PosixFilePermission.GROUP_WRITE,
      java.nio.file.attribute.PosixFilePermission.GROUP_EXECUTE, java.nio.file.attribute.PosixFilePermission.OTHERS_READ,
      java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE, java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);

  /**
   * The folder must belong to this user; one that its group or others may enter is repaired (made
   * {@code rwx------}) with a warning: the key inside is checked on its own.
   */
  static void checkPrivate(Path dir) throws IOException {
    if (!posix()) {
      return;
    }
    String me = System.getProperty("user.name");
    java.nio.file.attribute.UserPrincipal owner = Files.getOwner(dir);
    if (me != null && !owner.getName().equals(me)) {
      throw new IllegalArgumentException("the development CA folder " + dir + " belongs to " + owner.getName() + ", not to "
          + me + "; another user could replace its root. Use a folder of your own (mesh.tls.caDirectory)");
    }
    java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
    if (perms.stream().anyMatch(OTHERS::contains)) {
      String was = PosixFilePermissions.toString(perms);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      log.warn("The development CA folder {} was open to its group or others ({}); restricted it to its owner (rwx------)",
          dir, was);
    }
  }

  /**
   * The root's key must be readable by its owner only: one that others could read may be known to
   * them, so it is refused, never used or silently repaired.
   */
  static void checkKeyPrivate(Path keyFile) throws IOException {
    if (!posix()) {
      return;
    }
    java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(keyFile);
    if (perms.stream().anyMatch(OTHERS::contains)) {
      throw new IllegalArgumentException("the development CA's key " + keyFile + " is open to its group or others ("
          + PosixFilePermissions.toString(perms) + "), so its root may be known to them; remove " + keyFile.getParent()
          + " to start a new development CA (or, if every user of this machine is trusted, chmod 600 " + keyFile + ")");
    }
  }

  private static void createPrivateDirectories(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } else {
      Files.createDirectories(dir);
    }
  }

  /** Writes through a temporary file and a rename, so a reader never sees half a file. */
  private static void write(Path file, String content, boolean secret) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    if (secret && FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }
    Files.writeString(tmp, content, StandardCharsets.US_ASCII);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }
}
