package io.meshup.core.identity;

import io.meshup.core.MeshClock;
import io.meshup.core.spi.CertificateSource;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority for local runs and tests: an EC P-256 root for one trust domain that
 * issues short-lived leaf certificates whose only URI SAN is the workload's SPIFFE ID, in Consul's
 * shape ({@link #identity}) or Istio's ({@link #serviceAccountIdentity}). Leaf keys
 * never leave memory. A CA from {@link #create} keeps its root in memory too, so only workloads of
 * this process trust each other; one from {@link #shared} keeps its root in a folder (readable by
 * its owner only), so the processes of one user on one machine share it. Not for production.
 *
 * <pre>{@code
 * DevCertificateAuthority ca = DevCertificateAuthority.create("dev.meshup.local");
 * DevCertificateAuthority.Source checkout = ca.source("checkout");   // a CertificateSource
 * checkout.rotate();                                                  // a new leaf
 * ca.rotateRoot();                                                    // a new root; every source re-issued
 * }</pre>
 *
 * <p>Thread-safe. Signing uses the JDK's providers; BouncyCastle only builds the certificates, and
 * no security provider is installed globally.
 */
public final class DevCertificateAuthority {
  /** Leaf lifetime unless set: one hour. */
  public static final Duration DEFAULT_LEAF_LIFETIME = Duration.ofHours(1);
  /** Root lifetime: 30 days. */
  public static final Duration ROOT_LIFETIME = Duration.ofDays(30);
  /** Leaves are valid from this long before issue, for clock skew between workloads. */
  public static final Duration BACKDATE = Duration.ofMinutes(1);

  private static final String SIGNATURE = "SHA256withECDSA";

  private final String trustDomain;
  private final MeshClock clock;
  private final Duration leafLifetime;
  private final SecureRandom random = new SecureRandom();
  private final List<Source> sources = new CopyOnWriteArrayList<>();
  private KeyPair rootKey;
  private X509Certificate root;
  private List<X509Certificate> bundle;

  private DevCertificateAuthority(String trustDomain, MeshClock clock, Duration leafLifetime) {
    // validates the trust domain with the same rules as identities
    this.trustDomain = WorkloadIdentity.of(trustDomain, "ca").trustDomain();
    this.clock = Objects.requireNonNull(clock, "clock");
    if (leafLifetime.isNegative() || leafLifetime.isZero()) {
      throw new IllegalArgumentException("leaf lifetime " + leafLifetime + " must be positive");
    }
    this.leafLifetime = leafLifetime;
  }

  /**
   * A CA for {@code trustDomain} whose root lives in {@code directory/<trustDomain>/} as
   * {@code root.pem} and {@code root-key.pem}: read when present and valid for at least another
   * day, else created (and replaced when it is about to expire). Processes that name the same
   * folder and trust domain trust each other's leaves. Creation is guarded by a file lock, so
   * processes starting together agree on one root. The folder and key are made readable by their
   * owner only where the file system supports POSIX permissions.
   *
   * @throws IllegalArgumentException when the trust domain is malformed, the lifetime not positive,
   *     or the folder holds a root of another trust domain or a key that does not match it
   * @throws java.io.UncheckedIOException when the folder cannot be read or written
   */
  public static DevCertificateAuthority shared(Path directory, String trustDomain, MeshClock clock,
      Duration leafLifetime) {
    DevCertificateAuthority ca = new DevCertificateAuthority(trustDomain, clock, leafLifetime);
    SharedRoot.loadOrCreate(ca, directory.resolve(ca.trustDomain));
    return ca;
  }

  /** Generates a fresh root; for {@link SharedRoot} and the in-memory factory. */
  void generateRoot() {
    newRoot(List.of());
  }

  /** Installs a root read from disk. */
  synchronized void installRoot(KeyPair key, X509Certificate cert) {
    this.rootKey = key;
    this.root = cert;
    this.bundle = List.of(cert);
  }

  /** The root's key pair, for writing it to disk. */
  synchronized KeyPair rootKeyPair() {
    return rootKey;
  }

  MeshClock clock() {
    return clock;
  }

  /** A CA for {@code trustDomain} on the system clock, issuing one-hour leaves. */
  public static DevCertificateAuthority create(String trustDomain) {
    return create(trustDomain, MeshClock.system(), DEFAULT_LEAF_LIFETIME);
  }

  /**
   * A CA for {@code trustDomain} whose validity windows start at {@code clock}'s wall time.
   *
   * @throws IllegalArgumentException when the trust domain is malformed or the lifetime not positive
   */
  public static DevCertificateAuthority create(String trustDomain, MeshClock clock, Duration leafLifetime) {
    DevCertificateAuthority ca = new DevCertificateAuthority(trustDomain, clock, leafLifetime);
    ca.generateRoot();
    return ca;
  }

  /** How long this CA's leaves live. */
  public Duration leafLifetime() {
    return leafLifetime;
  }

  /** The trust domain, lower case. */
  public String trustDomain() {
    return trustDomain;
  }

  /** The current root certificate. */
  public synchronized X509Certificate root() {
    return root;
  }

  /** The roots peers should trust: the current one first, then the one it replaced, if any. */
  public synchronized List<X509Certificate> trustBundle() {
    return bundle;
  }

  /** The identity of {@code service} in this CA's trust domain, default namespace and datacenter. */
  public WorkloadIdentity identity(String service) {
    return WorkloadIdentity.of(trustDomain, service);
  }

  /**
   * The identity of service account {@code serviceAccount} in namespace {@code namespace} of this
   * CA's trust domain, in Istio's shape {@code spiffe://<td>/ns/<namespace>/sa/<serviceAccount>}.
   */
  public WorkloadIdentity serviceAccountIdentity(String namespace, String serviceAccount) {
    return WorkloadIdentity.serviceAccount(trustDomain, namespace, serviceAccount);
  }

  /**
   * Issues a leaf for {@code identity} (of either shape: Consul's or Istio's), valid from a minute
   * ago for the CA's leaf lifetime.
   */
  public Credentials issue(WorkloadIdentity identity) {
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    return issue(identity, now.minus(BACKDATE), now.plus(leafLifetime));
  }

  /**
   * Issues a leaf for {@code identity} valid from {@code notBefore} to {@code notAfter}, which may lie
   * in the past (tests of expiry use this).
   *
   * @throws IllegalArgumentException when the identity is of another trust domain or the window is empty
   */
  public synchronized Credentials issue(WorkloadIdentity identity, Instant notBefore, Instant notAfter) {
    if (!identity.trustDomain().equals(trustDomain)) {
      throw new IllegalArgumentException("this CA signs for trust domain '" + trustDomain + "', not for " + identity);
    }
    if (!notAfter.isAfter(notBefore)) {
      throw new IllegalArgumentException("notAfter " + notAfter + " must be after notBefore " + notBefore);
    }
    KeyPair leafKey = newKeyPair();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(root, serial(), Date.from(notBefore),
          Date.from(notAfter), new X500Principal("CN=" + identity.service()), leafKey.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
          .addExtension(Extension.extendedKeyUsage, false,
              new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
          .addExtension(Extension.subjectAlternativeName, true,
              new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, identity.toString())))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(leafKey.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(root));
      X509Certificate leaf = sign(b, rootKey);
      return new Credentials(leafKey.getPrivate(), List.of(leaf), bundle);
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot issue a certificate for " + identity, e);
    }
  }

  /** A certificate source for {@code service}, holding a freshly issued leaf. */
  public Source source(String service) {
    return source(identity(service));
  }

  /** A certificate source for {@code identity}, holding a freshly issued leaf. */
  public Source source(WorkloadIdentity identity) {
    Source s = new Source(this, identity, issue(identity));
    sources.add(s);
    return s;
  }

  /**
   * Replaces the root with a new key and certificate, in two steps so that no handshake between
   * this CA's sources fails meanwhile: first every source keeps its leaf but trusts the new bundle
   * (the new root and the previous one); then every source gets a new leaf signed by the new root.
   */
  public void rotateRoot() {
    List<X509Certificate> newBundle;
    synchronized (this) {
      newRoot(List.of(root));
      newBundle = bundle;
    }
    for (Source s : sources) {
      s.trust(newBundle);
    }
    for (Source s : sources) {
      s.rotate();
    }
  }

  private void newRoot(List<X509Certificate> previous) {
    KeyPair key = newKeyPair();
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    X500Principal name = new X500Principal("CN=MeshUp development CA " + trustDomain + " " + serial().toString(16).substring(0, 8)
        + ",O=MeshUp");
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(BACKDATE)),
          Date.from(now.plus(ROOT_LIFETIME)), name, key.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectAlternativeName, false,
              new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key.getPublic()));
      X509Certificate cert = sign(b, key);
      List<X509Certificate> roots = new ArrayList<>();
      roots.add(cert);
      roots.addAll(previous);
      this.rootKey = key;
      this.root = cert;
      this.bundle = List.copyOf(roots);
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot create a root certificate for " + trustDomain, e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder(SIGNATURE).build(signer.getPrivate())));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException("cannot sign with " + SIGNATURE, e);
    }
  }

  private BigInteger serial() {
    return new BigInteger(127, random).add(BigInteger.ONE);
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot generate EC P-256 keys", e);
    }
  }

  /**
   * One workload's credentials from this CA. {@link #rotate()} issues a new leaf; listeners are
   * called on the rotating thread. Thread-safe.
   */
  public static final class Source implements CertificateSource {
    private final DevCertificateAuthority ca;
    private final WorkloadIdentity identity;
    private final RotatingCredentials credentials;
    private volatile ScheduledFuture<?> renewal;

    private Source(DevCertificateAuthority ca, WorkloadIdentity identity, Credentials initial) {
      this.ca = ca;
      this.identity = identity;
      this.credentials = new RotatingCredentials(initial);
    }

    /** The identity this source issues for. */
    public WorkloadIdentity identity() {
      return identity;
    }

    @Override
    public Credentials current() {
      return credentials.current();
    }

    /** Issues a new leaf (new key, new serial) and makes it current; returns it. */
    public Credentials rotate() {
      Credentials next = ca.issue(identity);
      credentials.replace(next);
      return next;
    }

    /**
     * Issues a new leaf every two thirds of the CA's leaf lifetime, on {@code scheduler}, until
     * this source is closed; a failed renewal is logged and retried at the next period while the
     * current leaf keeps serving. Returns this source.
     */
    public Source renewing(ScheduledExecutorService scheduler) {
      long period = Math.max(1, ca.leafLifetime.toMillis() * 2 / 3);
      ScheduledFuture<?> previous = renewal;
      if (previous != null) {
        previous.cancel(false);
      }
      renewal = scheduler.scheduleAtFixedRate(() -> {
        try {
          rotate();
        } catch (RuntimeException e) {
          LoggerFactory.getLogger(DevCertificateAuthority.class)
              .warn("Development CA: cannot renew the leaf of {}: {}", identity, e.toString());
        }
      }, period, period, TimeUnit.MILLISECONDS);
      return this;
    }

    private void trust(List<X509Certificate> bundle) {
      Credentials c = credentials.current();
      credentials.replace(new Credentials(c.privateKey(), c.chain(), bundle));
    }

    @Override
    public Subscription subscribe(Listener listener) {
      return credentials.subscribe(listener);
    }

    @Override
    public void close() {
      ScheduledFuture<?> r = renewal;
      if (r != null) {
        r.cancel(false);
      }
      ca.sources.remove(this);
    }

    @Override
    public String toString() {
      return "DevCertificateAuthority.Source{" + identity + "}";
    }
  }
}
