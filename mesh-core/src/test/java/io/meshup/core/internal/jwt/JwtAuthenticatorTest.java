package io.meshup.core.internal.jwt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import io.meshup.core.internal.policy.PolicyModel.JwtFailureMode;
import io.meshup.core.internal.policy.PolicyModel.JwtRule;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.testing.FakeClock;
import io.meshup.core.identity.WorkloadIdentity;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * JWT validation on the mesh clock, and key sets fetched from a real HTTP server on loopback:
 * cached, refetched when a token names a key the set lacks (rotation), the last good set kept when
 * a fetch fails, and found by OpenID Connect Discovery.
 */
class JwtAuthenticatorTest {
  static final String ISS = "https://issuer.test";
  final FakeClock clock = new FakeClock();
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  HttpServer server;

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
    if (server != null) {
      server.stop(0);
    }
  }

  static JwtRule rule(String issuer, List<String> audiences) {
    return new JwtRule(issuer, audiences, null, null, List.of(), List.of(), List.of(), null, false, List.of(),
        Duration.ofSeconds(5), JwtFailureMode.PERMISSIVE, "test");
  }

  static String sign(RSAKey key, String iss, Date nbf, Date exp) throws Exception {
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
        new JWTClaimsSet.Builder().issuer(iss).subject("alice").notBeforeTime(nbf).expirationTime(exp).build());
    jwt.sign(new RSASSASigner(key));
    return jwt.serialize();
  }

  static InboundAuthorizer.Request bearer(String token) {
    return new InboundAuthorizer.Request() {
      @Override public WorkloadIdentity caller() { return null; }
      @Override public String path() { return "/"; }
      @Override public String method() { return "GET"; }
      @Override public String header(String name) { return name.equals("authorization") ? "Bearer " + token : null; }
    };
  }

  @Test
  void expiryAndNotBeforeAreJudgedByTheMeshClockWithEnvoysSixtySecondsOfSkew() throws Exception {
    RSAKey key = new RSAKeyGenerator(2048).keyID("k1").generate();
    long now = clock.currentTimeMillis();
    String token = sign(key, ISS, new Date(now + 120_000), new Date(now + 600_000));
    JwtAuthenticator auth = new JwtAuthenticator(List.of(new JwtAuthenticator.Rule("ra", rule(ISS, List.of()),
        KeySource.of(new JWKSet(key.toPublicJWK())))), clock);

    assertThat(auth.authenticate(bearer(token)).refused()).isEqualTo(JwtAuthenticator.Reason.NOT_YET_VALID);
    clock.advance(Duration.ofSeconds(60));
    assertThat(auth.authenticate(bearer(token)).refused()).as("valid 60 s before nbf").isNull();
    clock.advance(Duration.ofSeconds(600));
    assertThat(auth.authenticate(bearer(token)).jwt()).as("still valid 60 s after exp").isNotNull();
    clock.advance(Duration.ofMillis(1));
    assertThat(auth.authenticate(bearer(token)).refused()).isEqualTo(JwtAuthenticator.Reason.EXPIRED);
  }

  @Test
  void theKeyTypeMustFitTheAlgorithmAndEveryFamilyVerifies() throws Exception {
    ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("e1").generate();
    SignedJWT es = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("e1").build(),
        new JWTClaimsSet.Builder().issuer(ISS).subject("alice").build());
    es.sign(new ECDSASigner(ec));
    byte[] secret = new byte[32];
    new java.security.SecureRandom().nextBytes(secret);
    com.nimbusds.jose.jwk.OctetSequenceKey oct = new com.nimbusds.jose.jwk.OctetSequenceKey.Builder(secret).keyID("h1").build();
    SignedJWT hs = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("h1").build(),
        new JWTClaimsSet.Builder().issuer(ISS).subject("bob").build());
    hs.sign(new MACSigner(secret));
    // an HS256 token whose key id names the EC key: algorithm confusion is refused
    SignedJWT confused = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("e1").build(),
        new JWTClaimsSet.Builder().issuer(ISS).subject("mallory").build());
    confused.sign(new MACSigner(secret));
    JwtAuthenticator auth = new JwtAuthenticator(List.of(new JwtAuthenticator.Rule("ra", rule(ISS, List.of()),
        KeySource.of(new JWKSet(List.of(ec.toPublicJWK(), oct))))), clock);

    assertThat(auth.authenticate(bearer(es.serialize())).jwt().subject()).isEqualTo("alice");
    assertThat(auth.authenticate(bearer(hs.serialize())).jwt().subject()).isEqualTo("bob");
    assertThat(auth.authenticate(bearer(confused.serialize())).refused()).isIn(JwtAuthenticator.Reason.NO_KEY,
        JwtAuthenticator.Reason.SIGNATURE);
  }

  @Test
  void aKeySetFromAUrlIsFetchedOnceRefetchedWhenATokenNamesAnUnknownKeyAndKeptWhenAFetchFails() throws Exception {
    RSAKey k1 = new RSAKeyGenerator(2048).keyID("k1").generate();
    RSAKey k2 = new RSAKeyGenerator(2048).keyID("k2").generate();
    AtomicReference<String> served = new AtomicReference<>(new JWKSet(k1.toPublicJWK()).toString());
    AtomicInteger status = new AtomicInteger(200);
    AtomicInteger fetches = new AtomicInteger();
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/keys", e -> {
      fetches.incrementAndGet();
      byte[] b = served.get().getBytes(StandardCharsets.UTF_8);
      e.sendResponseHeaders(status.get(), b.length);
      try (OutputStream o = e.getResponseBody()) {
        o.write(b);
      }
    });
    server.start();
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    JwksCache cache = new JwksCache(null, scheduler, clock, JwksCache.DEFAULT_REFRESH, meters);
    KeySource keys = cache.uri("http://127.0.0.1:" + server.getAddress().getPort() + "/keys", Duration.ofSeconds(5));
    JwtAuthenticator auth = new JwtAuthenticator(List.of(new JwtAuthenticator.Rule("ra", rule(ISS, List.of()), keys)), clock);
    long now = clock.currentTimeMillis();
    Date nbf = new Date(now - 1000);
    Date exp = new Date(now + 3_600_000);

    await().atMost(Duration.ofSeconds(10)).until(() -> keys.keys() != null);
    assertThat(auth.authenticate(bearer(sign(k1, ISS, nbf, exp))).jwt()).isNotNull();
    assertThat(auth.authenticate(bearer(sign(k1, ISS, nbf, exp))).jwt()).isNotNull();
    assertThat(fetches.get()).as("cached").isEqualTo(1);

    // the issuer rotates to k2: the first k2 token asks for the set again (once the minimum interval passed)
    served.set(new JWKSet(k2.toPublicJWK()).toString());
    clock.advance(Duration.ofSeconds(31));
    String t2 = sign(k2, ISS, new Date(clock.currentTimeMillis() - 1000), new Date(clock.currentTimeMillis() + 3_600_000));
    assertThat(auth.authenticate(bearer(t2)).refused()).isEqualTo(JwtAuthenticator.Reason.NO_KEY);
    await().atMost(Duration.ofSeconds(10)).until(() -> auth.authenticate(bearer(t2)).jwt() != null);
    assertThat(fetches.get()).isEqualTo(2);

    // the key server fails: the last good set keeps serving
    status.set(500);
    clock.advance(Duration.ofSeconds(31));
    keys.refreshSoon();
    await().atMost(Duration.ofSeconds(10)).until(() -> meters.counter("mesh.jwks.fetches", "result", "failure").count() >= 1);
    assertThat(auth.authenticate(bearer(t2)).jwt()).isNotNull();
    cache.close();
  }

  @Test
  void keysAreFoundByOpenIdConnectDiscoveryWhenTheRuleNamesNone() throws Exception {
    RSAKey k1 = new RSAKeyGenerator(2048).keyID("k1").generate();
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    String issuer = "http://127.0.0.1:" + server.getAddress().getPort();
    server.createContext("/.well-known/openid-configuration", e -> {
      byte[] b = ("{\"issuer\":\"" + issuer + "\",\"jwks_uri\":\"" + issuer + "/jwks\"}").getBytes(StandardCharsets.UTF_8);
      e.sendResponseHeaders(200, b.length);
      try (OutputStream o = e.getResponseBody()) {
        o.write(b);
      }
    });
    server.createContext("/jwks", e -> {
      byte[] b = new JWKSet(k1.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
      e.sendResponseHeaders(200, b.length);
      try (OutputStream o = e.getResponseBody()) {
        o.write(b);
      }
    });
    server.start();
    JwksCache cache = new JwksCache(null, scheduler, clock, JwksCache.DEFAULT_REFRESH, new SimpleMeterRegistry());
    KeySource keys = cache.discovered(issuer, Duration.ofSeconds(5));
    await().atMost(Duration.ofSeconds(10)).until(() -> keys.keys() != null);
    long now = clock.currentTimeMillis();
    JwtAuthenticator auth = new JwtAuthenticator(List.of(new JwtAuthenticator.Rule("ra", rule(issuer, List.of()), keys)), clock);
    assertThat(auth.authenticate(bearer(sign(k1, issuer, new Date(now - 1000), new Date(now + 60_000)))).jwt()).isNotNull();
    assertThat(cache.discovered("issuer-foo", Duration.ofSeconds(1)).unavailableReason()).contains("is not a URL");
    cache.close();
  }

  @Test
  void aRequestWithoutATokenAllocatesNothing() {
    JwtAuthenticator auth = new JwtAuthenticator(List.of(new JwtAuthenticator.Rule("ra", rule(ISS, List.of()),
        KeySource.none("none"))), clock);
    InboundAuthorizer.Request none = new InboundAuthorizer.Request() {
      @Override public WorkloadIdentity caller() { return null; }
      @Override public String path() { return "/"; }
      @Override public String method() { return "GET"; }
    };
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long tid = Thread.currentThread().getId();
    for (int i = 0; i < 10_000; i++) {
      auth.authenticate(none);
    }
    long before = mx.getThreadAllocatedBytes(tid);
    for (int i = 0; i < 100_000; i++) {
      auth.authenticate(none);
    }
    assertThat(mx.getThreadAllocatedBytes(tid) - before).isLessThan(10_000);
  }
}
