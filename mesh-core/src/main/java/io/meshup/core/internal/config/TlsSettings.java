package io.meshup.core.internal.config;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The {@code mesh.tls} section.
 *
 * @param mode what servers accept; DISABLE when the section is absent
 * @param certificates {@code dev}, {@code files}, a plug-in's type, or null (no certificates: plaintext)
 * @param identity this workload's identity when {@code certificates} is {@code dev}, else null: Consul's
 *     shape by default, Istio's {@code .../ns/<ns>/sa/<serviceAccount>} when {@code serviceAccount} is set
 * @param certChain with {@code files}: the chain PEM, resolved against the bootstrap's folder
 * @param privateKey with {@code files}: the key PEM
 * @param trustBundle with {@code files}: the roots PEM
 * @param refreshInterval with {@code files}: how often the files are checked for changes
 * @param providerSettings with a plug-in's type: the {@code mesh.tls.<type>} section (NULL node when absent)
 * @param devCaDirectory with {@code dev}: the folder holding the shared development root, or null
 *     for a root in memory (only this mesh trusts it)
 */
public record TlsSettings(MtlsMode mode, String certificates, WorkloadIdentity identity, Path certChain,
    Path privateKey, Path trustBundle, Duration refreshInterval, ConfigNode providerSettings, Path devCaDirectory) {
  /** No TLS. */
  public static final TlsSettings NONE = new TlsSettings(MtlsMode.DISABLE, null, null, null, null, null, null, null, null);

  /** The system property that sets the default of {@code mesh.tls.caDirectory} (test builds point it into target/). */
  public static final String DEV_CA_PROPERTY = "meshup.dev-ca.directory";

  /** The default folder of the shared development CA: the property above, else ~/.meshup/dev-ca. */
  static Path defaultDevCaDirectory() {
    String p = System.getProperty(DEV_CA_PROPERTY);
    return p != null && !p.isBlank() ? Path.of(p) : Path.of(System.getProperty("user.home"), ".meshup", "dev-ca");
  }

  /** Whether the certificates come from a plug-in rather than being built in. */
  public boolean fromProvider() {
    return certificates != null && !certificates.equals("dev") && !certificates.equals("files");
  }

  /** Default interval between checks of certificate files. */
  public static final Duration DEFAULT_REFRESH = Duration.ofSeconds(10);

  static TlsSettings parse(ConfigNode tls, String service, Path baseDir) {
    if (tls.isNull()) {
      return NONE;
    }
    String certs = tls.has("certificates") ? tls.get("certificates").nonEmpty().trim() : null;
    if (certs == null || certs.equals("dev") || certs.equals("files")) {
      tls.keys("mode", "certificates", "trustDomain", "namespace", "datacenter", "serviceAccount", "caDirectory", "files");
    } else {
      tls.keys("mode", "certificates", "trustDomain", "namespace", "datacenter", "serviceAccount", "files", certs);
    }
    MtlsMode mode = certs == null ? MtlsMode.DISABLE : MtlsMode.STRICT;
    if (tls.has("mode")) {
      mode = MtlsMode.valueOf(tls.get("mode").oneOf("STRICT", "PERMISSIVE", "DISABLE"));
    }
    if (certs == null && mode != MtlsMode.DISABLE) {
      throw tls.get("certificates").error("is required when mode is " + mode + "; expected dev or files");
    }
    if (!"files".equals(certs) && tls.has("files")) {
      throw tls.get("files").error("is only read when certificates is files");
    }
    if (!"dev".equals(certs)) {
      for (String k : new String[] {"trustDomain", "namespace", "datacenter", "serviceAccount", "caDirectory"}) {
        if (tls.has(k)) {
          throw tls.get(k).error("is only read when certificates is dev (files and Consul carry the identity in the certificate)");
        }
      }
    }
    if ("dev".equals(certs)) {
      String td = tls.required("trustDomain").nonEmpty();
      WorkloadIdentity id;
      try {
        WorkloadIdentity.of(td, "x");
      } catch (IllegalArgumentException e) {
        throw tls.get("trustDomain").error(e.getMessage());
      }
      if (tls.has("serviceAccount") && tls.has("datacenter")) {
        throw tls.get("serviceAccount").error("names Istio's identity shape (.../ns/<namespace>/sa/<service-account>),"
            + " which has no datacenter; set one of serviceAccount or datacenter");
      }
      try {
        String ns = tls.get("namespace").string(WorkloadIdentity.DEFAULT_NAMESPACE);
        id = tls.has("serviceAccount") ? WorkloadIdentity.serviceAccount(td, ns, tls.get("serviceAccount").nonEmpty())
            : WorkloadIdentity.of(td, ns, tls.get("datacenter").string(WorkloadIdentity.DEFAULT_DATACENTER), service);
      } catch (IllegalArgumentException e) {
        throw tls.error(e.getMessage());
      }
      Path caDir = defaultDevCaDirectory();
      if (tls.has("caDirectory")) {
        String d = tls.get("caDirectory").nonEmpty().trim();
        caDir = d.equals("none") ? null : baseDir == null ? Path.of(d) : baseDir.resolve(d);
      }
      return new TlsSettings(mode, certs, id, null, null, null, null, null, caDir);
    }
    if ("files".equals(certs)) {
      ConfigNode f = tls.required("files").keys("certChain", "privateKey", "trustBundle", "refreshInterval");
      return new TlsSettings(mode, certs, null, path(f.required("certChain"), baseDir), path(f.required("privateKey"), baseDir),
          path(f.required("trustBundle"), baseDir), f.get("refreshInterval").positiveDuration(DEFAULT_REFRESH), null, null);
    }
    return new TlsSettings(mode, certs, null, null, null, null, null, certs == null ? null : tls.get(certs), null);
  }

  private static Path path(ConfigNode n, Path baseDir) {
    String p = n.nonEmpty();
    return baseDir == null ? Path.of(p) : baseDir.resolve(p);
  }
}
