package io.meshup.jmh;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshup.core.Mesh;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import java.net.InetAddress;
import java.util.Date;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What authorizing one inbound call costs on the server's request path (issue 13), through the
 * mesh's {@link InboundAuthorizer} with a request view reused as the Netty adapter reuses its own:
 * Istio's DENY and ALLOW rules on principals, paths and methods; rules with {@code when}
 * conditions, hosts, ports and IP blocks; a RequestAuthentication with no token; and one with a
 * valid RS256 token verified (and {@code requestPrincipals} matched) on every call.
 *
 * <p>Run with {@code java -jar jmh/target/benchmarks.jar AuthorizationBenchmark -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class AuthorizationBenchmark {
  private Mesh rules;
  private Mesh conditions;
  private Mesh jwt;
  private InboundAuthorizer rulesAuthorizer;
  private InboundAuthorizer conditionsAuthorizer;
  private InboundAuthorizer jwtAuthorizer;
  private final View view = new View();
  private String token;

  /** A request view like the adapters': fields set per call, read during the decision only. */
  static final class View implements InboundAuthorizer.Request {
    WorkloadIdentity caller = WorkloadIdentity.parse("spiffe://cluster.local/ns/default/sa/sleep");
    String path = "/pay.Payments/Charge";
    String method = "POST";
    String authorization;
    final InetAddress source = InetAddress.getLoopbackAddress();

    @Override public WorkloadIdentity caller() { return caller; }
    @Override public String path() { return path; }
    @Override public String method() { return method; }
    @Override public String host() { return "payments.default.svc.cluster.local"; }
    @Override public InetAddress sourceAddress() { return source; }
    @Override public int destinationPort() { return 8443; }

    @Override
    public String header(String name) {
      switch (name) {
        case "authorization":
          return authorization;
        case "x-tenant":
          return "acme";
        default:
          return null;
      }
    }
  }

  static String ap(String name, String spec) {
    return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: " + name + " }\nspec:\n"
        + spec.indent(2) + "---\n";
  }

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    rules = Mesh.builder().service("payments").policies("bench",
        ap("deny-legacy", "action: DENY\nrules:\n- from: [{ source: { principals: [cluster.local/ns/legacy/sa/legacy] } }]")
            + ap("allow", "rules:\n- from: [{ source: { principals: [\"*/sa/sleep\"], namespaces: [\"def*\"] } }]\n"
                + "  to: [{ operation: { paths: [\"/pay.Payments/*\"], methods: [POST] } }]")).build();
    conditions = Mesh.builder().service("payments").policies("bench",
        ap("deny-outside", "action: DENY\nrules:\n- from: [{ source: { notIpBlocks: [\"127.0.0.0/8\", \"10.0.0.0/8\"] } }]")
            + ap("allow", "rules:\n- to: [{ operation: { hosts: [\"payments.*\"], ports: [\"8443\"], paths: [\"/pay.Payments/{*}\"] } }]\n"
                + "  when:\n  - { key: \"request.headers[x-tenant]\", values: [acme, globex] }\n"
                + "  - { key: source.namespace, values: [default] }")).build();
    RSAKey key = new RSAKeyGenerator(2048).keyID("k1").generate();
    SignedJWT signed = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("k1").build(),
        new JWTClaimsSet.Builder().issuer("testing@secure.istio.io").subject("alice")
            .expirationTime(new Date(System.currentTimeMillis() + 3_600_000)).build());
    signed.sign(new RSASSASigner(key));
    token = "Bearer " + signed.serialize();
    jwt = Mesh.builder().service("payments").policies("bench",
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: jwt }\nspec:\n  jwtRules:\n"
            + "  - issuer: testing@secure.istio.io\n    jwks: '" + new JWKSet(key.toPublicJWK()) + "'\n    forwardOriginalToken: true\n---\n"
            + ap("require-jwt", "rules:\n- from: [{ source: { requestPrincipals: [\"testing@secure.istio.io/*\"] } }]")).build();
    rulesAuthorizer = rules.authorizer();
    conditionsAuthorizer = conditions.authorizer();
    jwtAuthorizer = jwt.authorizer();
    if (!rulesAuthorizer.authorize(view).allowed() || !conditionsAuthorizer.authorize(view).allowed()) {
      throw new IllegalStateException("the benchmark's call must be allowed");
    }
    view.authorization = token;
    if (!jwtAuthorizer.authorize(view).allowed()) {
      throw new IllegalStateException("the benchmark's token must be accepted");
    }
    view.authorization = null;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    rules.close();
    conditions.close();
    jwt.close();
  }

  /** DENY and ALLOW rules on principals, namespaces, paths and methods. */
  @Benchmark
  public InboundAuthorizer.Decision principalsPathsMethods() {
    return rulesAuthorizer.authorize(view);
  }

  /** when conditions on a header and the source namespace, hosts, ports, a path template, IP blocks. */
  @Benchmark
  public InboundAuthorizer.Decision conditionsHostsPortsIpBlocks() {
    return conditionsAuthorizer.authorize(view);
  }

  /** A RequestAuthentication in force and no token: refused by requestPrincipals. */
  @Benchmark
  public InboundAuthorizer.Decision jwtAbsent() {
    view.authorization = null;
    return jwtAuthorizer.authorize(view);
  }

  /** A valid RS256 token, parsed, verified and matched on every call (nothing is cached). */
  @Benchmark
  public InboundAuthorizer.Decision jwtValidRs256() {
    view.authorization = token;
    return jwtAuthorizer.authorize(view);
  }
}
