package io.meshup.core.internal.authz;

import io.meshup.core.MeshConfigException;
import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.jwt.Jwt;
import io.meshup.core.internal.jwt.JwtAuthenticator;
import io.meshup.core.internal.jwt.KeySets;
import io.meshup.core.internal.jwt.KeySource;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.AuthzAction;
import io.meshup.core.internal.policy.PolicyModel.AuthzCondition;
import io.meshup.core.internal.policy.PolicyModel.AuthzOperation;
import io.meshup.core.internal.policy.PolicyModel.AuthzRule;
import io.meshup.core.internal.policy.PolicyModel.AuthzSource;
import io.meshup.core.internal.policy.PolicyModel.JwtRule;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import io.meshup.core.internal.policy.PolicyModel.RequestAuthentication;
import io.meshup.core.internal.policy.PolicyModel.Scope;
import io.meshup.core.internal.policy.PolicySet;
import io.meshup.core.internal.routing.Metrics;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.route.InboundAuthorizer.Kind;
import io.meshup.core.route.InboundAuthorizer.Request;
import io.meshup.core.spi.ExternalAuthorizer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What this workload's servers accept: the AuthorizationPolicies, PeerAuthentications and
 * RequestAuthentications that apply to it, compiled into matchers and precomputed decisions.
 * Immutable; thread-safe; a call that no JWT, CUSTOM, AUDIT or dry-run policy concerns allocates
 * nothing.
 *
 * <p>Which documents apply, as Istio has it: those of the workload's namespace and of the root
 * namespace (a document without {@code metadata.namespace} is of the workload's own), without a
 * selector or with a {@code selector.matchLabels} that the workload's labels hold, or with a
 * {@code targetRef(s)} naming its service. PeerAuthentication: a workload-level one (with a
 * selector) over the namespace's over the mesh's (root namespace); UNSET inherits; a port in
 * {@code portLevelMtls} takes its own mode.
 *
 * <p>A call is decided in Istio's order: plaintext under STRICT is refused (401); a JWT present
 * but invalid is refused (401); AUDIT and dry-run policies are evaluated, logged and counted and
 * never decide; a matching CUSTOM policy sends the call to its external authorizer, whose refusal
 * stands; then any matching DENY rule refuses (403); then, when there is at least one ALLOW
 * policy, the call must match a rule of one of them (else 403); with no ALLOW policy it is
 * allowed. A rule matches when any of its {@code from}, any of its {@code to} and all of its
 * {@code when} match; a policy with no rules matches nothing.
 */
public final class InboundPolicy {
  private static final Logger audit = LoggerFactory.getLogger("io.meshup.audit");
  private static final Logger log = LoggerFactory.getLogger(InboundPolicy.class);

  /** No policy: every call is allowed. */
  public static final InboundPolicy EMPTY = new InboundPolicy();

  private final Rule[] deny;
  private final Rule[] allow;
  private final Rule[] custom;
  private final Rule[] audits;
  private final Rule[] dryDeny;
  private final Rule[] dryAllow;
  private final Rule[] dryCustom;
  private final AuthzDecision noAllowMatch;
  private final AuthzDecision plaintextRefused;
  private final MtlsMode peerMode;
  private final int[] ports;
  private final MtlsMode[] portModes;
  private final AuthzDecision[] portPlaintextRefused;
  private final JwtAuthenticator jwt;
  private final Map<String, EnumMap<JwtAuthenticator.Reason, AuthzDecision>> jwtRefusals;
  private final ExternalAuthorizers.Provider provider;
  private final ScheduledExecutorService scheduler;
  private final Counter[] customResults;
  private final Counter dryNoAllow;
  private final List<String> policies;
  private final Set<KeySource> keySources;

  private InboundPolicy() {
    deny = allow = custom = audits = dryDeny = dryAllow = dryCustom = new Rule[0];
    noAllowMatch = null;
    plaintextRefused = null;
    peerMode = null;
    ports = new int[0];
    portModes = new MtlsMode[0];
    portPlaintextRefused = new AuthzDecision[0];
    jwt = new JwtAuthenticator(List.of(), null);
    jwtRefusals = Map.of();
    provider = null;
    scheduler = null;
    customResults = null;
    dryNoAllow = null;
    policies = List.of();
    keySources = Set.of();
  }

  private InboundPolicy(Builder b) {
    deny = b.deny.toArray(new Rule[0]);
    allow = b.allow.toArray(new Rule[0]);
    custom = b.custom.toArray(new Rule[0]);
    audits = b.audits.toArray(new Rule[0]);
    dryDeny = b.dryDeny.toArray(new Rule[0]);
    dryAllow = b.dryAllow.toArray(new Rule[0]);
    dryCustom = b.dryCustom.toArray(new Rule[0]);
    noAllowMatch = b.noAllowMatch;
    plaintextRefused = b.plaintextRefused;
    peerMode = b.peerMode;
    ports = b.ports;
    portModes = b.portModes;
    portPlaintextRefused = b.portPlaintextRefused;
    jwt = b.jwt;
    jwtRefusals = b.jwtRefusals;
    provider = b.provider;
    scheduler = b.scheduler;
    customResults = b.customResults;
    dryNoAllow = b.dryNoAllow;
    policies = List.copyOf(b.names);
    keySources = Set.copyOf(b.keySources);
  }

  /**
   * Compiles the documents of {@code set} that apply to {@code workload}.
   *
   * @throws MeshConfigException when a CUSTOM policy names a provider the mesh does not have, or
   *     the workload's CUSTOM policies name two providers
   */
  public static InboundPolicy compile(PolicySet set, Workload workload) {
    Builder b = new Builder(workload);
    b.peer(set.peerAuthentications());
    b.requestAuthentications(set.requestAuthentications());
    for (AuthorizationPolicy p : set.authorizationPolicies()) {
      if (applies(p.scope(), workload)) {
        b.authorization(p);
      }
    }
    b.finish();
    return new InboundPolicy(b);
  }

  /** Whether a document of scope {@code s} applies to {@code w}. */
  static boolean applies(Scope s, Workload w) {
    String ns = s.namespace() == null ? w.namespace() : s.namespace();
    if (!ns.equals(w.namespace()) && !ns.equals(w.rootNamespace())) {
      return false;
    }
    if (s.matchLabels() != null) {
      for (Map.Entry<String, String> e : s.matchLabels().entrySet()) {
        if (!e.getValue().equals(w.labels().get(e.getKey()))) {
          return false;
        }
      }
    }
    return s.targetServices().isEmpty() || s.targetServices().contains(w.service());
  }

  /** Collects what the compiled policy holds. */
  private static final class Builder {
    final Workload w;
    final Matchers.TrustDomains domains;
    final List<Rule> deny = new ArrayList<>();
    final List<Rule> allow = new ArrayList<>();
    final List<Rule> custom = new ArrayList<>();
    final List<Rule> audits = new ArrayList<>();
    final List<Rule> dryDeny = new ArrayList<>();
    final List<Rule> dryAllow = new ArrayList<>();
    final List<Rule> dryCustom = new ArrayList<>();
    final List<String> allowNames = new ArrayList<>();
    final List<String> names = new ArrayList<>();
    final Set<KeySource> keySources = new HashSet<>();
    AuthzDecision noAllowMatch;
    AuthzDecision plaintextRefused;
    MtlsMode peerMode;
    int[] ports = new int[0];
    MtlsMode[] portModes = new MtlsMode[0];
    AuthzDecision[] portPlaintextRefused = new AuthzDecision[0];
    JwtAuthenticator jwt;
    final Map<String, EnumMap<JwtAuthenticator.Reason, AuthzDecision>> jwtRefusals = new HashMap<>();
    ExternalAuthorizers.Provider provider;
    AuthorizationPolicy providerPolicy;
    ScheduledExecutorService scheduler;
    Counter[] customResults;
    Counter dryNoAllow;

    Builder(Workload w) {
      this.w = w;
      List<String> tds = new ArrayList<>();
      if (w.trustDomain() != null) {
        tds.add(w.trustDomain());
      }
      for (String a : w.trustDomainAliases()) {
        if (!tds.contains(a)) {
          tds.add(a);
        }
      }
      this.domains = new Matchers.TrustDomains(List.copyOf(tds));
    }

    void peer(List<PeerAuthentication> all) {
      PeerAuthentication workload = null;
      PeerAuthentication namespace = null;
      PeerAuthentication mesh = null;
      for (PeerAuthentication pa : all) {
        if (!applies(pa.scope(), w)) {
          continue;
        }
        String ns = pa.scope().namespace() == null ? w.namespace() : pa.scope().namespace();
        if (pa.scope().selects()) {
          if (workload == null) {
            workload = pa;
          } else {
            log.warn("PeerAuthentications {} and {} both select {}; {} applies (the first, as Istio applies the oldest)",
                workload.origin(), pa.origin(), w.service(), workload.name());
          }
        } else if (ns.equals(w.namespace())) {
          namespace = pa;
        } else {
          mesh = pa;
        }
      }
      PeerAuthentication decided = null;
      for (PeerAuthentication pa : new PeerAuthentication[] {workload, namespace, mesh}) {
        if (pa != null && pa.mode() != null) {
          decided = pa;
          break;
        }
      }
      peerMode = decided == null ? null : decided.mode();
      if (peerMode == MtlsMode.STRICT) {
        plaintextRefused = strictRefusal(decided);
      }
      if (workload != null && !workload.portModes().isEmpty()) {
        int n = workload.portModes().size();
        ports = new int[n];
        portModes = new MtlsMode[n];
        portPlaintextRefused = new AuthzDecision[n];
        int i = 0;
        for (Map.Entry<Integer, MtlsMode> e : workload.portModes().entrySet()) {
          ports[i] = e.getKey();
          portModes[i] = e.getValue() != null ? e.getValue() : peerMode;
          portPlaintextRefused[i] = portModes[i] == MtlsMode.STRICT
              ? (e.getValue() == null ? plaintextRefused : strictRefusal(workload)) : null;
          i++;
        }
      }
    }

    AuthzDecision strictRefusal(PeerAuthentication pa) {
      return new AuthzDecision(Kind.UNAUTHENTICATED, pa.name(), "mtls",
          "meshup: PeerAuthentication " + pa.name() + " requires mutual TLS (mode STRICT); the call came in plaintext",
          w.denial(pa.name(), "mtls"));
    }

    void requestAuthentications(List<RequestAuthentication> all) {
      List<JwtAuthenticator.Rule> rules = new ArrayList<>();
      for (RequestAuthentication ra : all) {
        if (!applies(ra.scope(), w)) {
          continue;
        }
        EnumMap<JwtAuthenticator.Reason, AuthzDecision> refusals = new EnumMap<>(JwtAuthenticator.Reason.class);
        for (JwtAuthenticator.Reason reason : JwtAuthenticator.Reason.values()) {
          refusals.put(reason, new AuthzDecision(Kind.UNAUTHENTICATED, ra.name(), "jwt",
              "meshup: RequestAuthentication " + ra.name() + ": " + reason.message(), jwtCounter(ra.name(), reason), 401,
              List.of(Map.entry("www-authenticate", "Bearer error=\"invalid_token\"")), List.of(), List.of()));
        }
        jwtRefusals.put(ra.name(), refusals);
        for (JwtRule r : ra.jwtRules()) {
          KeySource keys = keys(r);
          keySources.add(keys);
          rules.add(new JwtAuthenticator.Rule(ra.name(), r, keys));
        }
      }
      jwt = new JwtAuthenticator(rules, w.clock());
    }

    Counter jwtCounter(String policy, JwtAuthenticator.Reason reason) {
      MeterRegistry m = w.meters();
      Counter denial = w.denial(policy, "jwt");
      if (m == null) {
        return denial;
      }
      Counter byReason = Counter.builder(Metrics.JWT_REJECTIONS).description("Requests refused for their JWT, by why")
          .baseUnit("requests").tag("policy", policy).tag("reason", reason.tag()).register(m);
      w.hold(byReason);
      return denial == null ? byReason : new BothCounter(denial, byReason);
    }

    KeySource keys(JwtRule r) {
      if (r.jwks() != null) {
        return KeySource.of(KeySetsAccess.parse(r.jwks()));
      }
      if (w.jwks() == null) {
        return KeySource.none("no key set fetcher in this mesh");
      }
      return r.jwksUri() != null ? w.jwks().uri(r.jwksUri(), r.timeout()) : w.jwks().discovered(r.issuer(), r.timeout());
    }

    void authorization(AuthorizationPolicy p) {
      names.add(p.name());
      if (p.action() == AuthzAction.CUSTOM && !p.dryRun()) {
        ExternalAuthorizers.Provider found = w.externalAuthorizers().get(p.provider());
        if (found == null) {
          throw new MeshConfigException(p.origin(), "spec.provider.name", "'" + p.provider()
              + "' is not an extension provider of this mesh; mesh.security.extensionProviders names "
              + w.externalAuthorizers().names());
        }
        if (provider != null && !provider.name().equals(found.name())) {
          throw new MeshConfigException(p.origin(), "spec.provider.name", "'" + p.provider() + "' is a second extension"
              + " provider for " + w.service() + " (" + providerPolicy.origin() + " names '" + provider.name()
              + "'); Istio allows one per workload");
        }
        provider = found;
        providerPolicy = p;
      }
      if (p.action() == AuthzAction.ALLOW && !p.dryRun()) {
        allowNames.add(p.name());
      }
      String ns = p.scope().namespace() == null ? w.namespace() : p.scope().namespace();
      for (int i = 0; i < p.rules().size(); i++) {
        String rule = "rules[" + i + "]";
        AuthzDecision decision = null;
        Counter observed = null;
        if (p.dryRun()) {
          observed = counter(Metrics.AUTHZ_DRYRUN, "Requests a dry-run AuthorizationPolicy matched (never enforced)",
              p.name(), rule, p.action() == AuthzAction.ALLOW ? "allowed" : p.action() == AuthzAction.DENY ? "denied"
                  : p.action().name().toLowerCase(java.util.Locale.ROOT));
        } else if (p.action() == AuthzAction.DENY) {
          decision = new AuthzDecision(Kind.DENY, p.name(), rule, "meshup: denied by AuthorizationPolicy " + p.name()
              + " " + rule, w.denial(p.name(), rule));
        } else if (p.action() == AuthzAction.AUDIT) {
          observed = counter(Metrics.AUTHZ_AUDITS, "Requests an AUDIT AuthorizationPolicy matched", p.name(), rule, null);
        }
        Counter customDenial = p.action() == AuthzAction.CUSTOM && !p.dryRun() ? w.denial(p.name(), rule) : null;
        Rule r = new Rule(p.name(), rule, p.rules().get(i), ns, domains, decision, observed, p.action(), customDenial);
        List<Rule> target = p.dryRun()
            ? (p.action() == AuthzAction.DENY ? dryDeny : p.action() == AuthzAction.ALLOW ? dryAllow
                : p.action() == AuthzAction.CUSTOM ? dryCustom : audits)
            : switch (p.action()) {
              case DENY -> deny;
              case ALLOW -> allow;
              case CUSTOM -> custom;
              case AUDIT -> audits;
            };
        target.add(r);
      }
    }

    Counter counter(String name, String description, String policy, String rule, String result) {
      MeterRegistry m = w.meters();
      if (m == null) {
        return null;
      }
      Counter.Builder c = Counter.builder(name).description(description).baseUnit("requests").tag("policy", policy)
          .tag("rule", rule);
      if (result != null) {
        c.tag("result", result);
      }
      return w.hold(c.register(m));
    }

    void finish() {
      if (!allowNames.isEmpty()) {
        noAllowMatch = new AuthzDecision(Kind.DENY, "none", "none",
            "meshup: no ALLOW rule of AuthorizationPolicy " + String.join(", ", allowNames) + " matches",
            w.denial("none", "none"));
      }
      if (!dryAllow.isEmpty()) {
        dryNoAllow = counter(Metrics.AUTHZ_DRYRUN, "Requests a dry-run AuthorizationPolicy matched (never enforced)",
            "none", "none", "denied");
      }
      if (provider != null) {
        scheduler = w.scheduler();
        MeterRegistry m = w.meters();
        String[] results = {"allowed", "denied", "error", "timeout", "fail_open"};
        customResults = new Counter[results.length];
        for (int i = 0; i < results.length && m != null; i++) {
          customResults[i] = Counter.builder(Metrics.AUTHZ_CUSTOM).description("Checks by an external authorizer, by outcome")
              .baseUnit("requests").tag("provider", provider.name()).tag("result", results[i]).register(m);
          w.hold(customResults[i]);
        }
      }
    }
  }

  /** The key set parser, reached from this package. */
  private static final class KeySetsAccess {
    static com.nimbusds.jose.jwk.JWKSet parse(String json) {
      try {
        return com.nimbusds.jose.jwk.JWKSet.parse(json);
      } catch (java.text.ParseException e) {
        throw new IllegalStateException("a key set validated when parsed no longer parses: " + KeySets.problem(json), e);
      }
    }
  }

  /** Increments two counters. */
  private static final class BothCounter implements Counter {
    private final Counter a;
    private final Counter b;

    BothCounter(Counter a, Counter b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public void increment(double amount) {
      a.increment(amount);
      b.increment(amount);
    }

    @Override
    public double count() {
      return a.count();
    }

    @Override
    public Id getId() {
      return a.getId();
    }
  }

  // ---- deciding -------------------------------------------------------------------------

  /**
   * Decides one call from its caller, path and method.
   *
   * @param caller the verified identity of the caller, or null for a plaintext caller
   */
  public InboundAuthorizer.Decision evaluate(WorkloadIdentity caller, String path, String method) {
    return evaluate(new BasicRequest(caller, path, method));
  }

  /** Decides one call; the decision is not counted (the {@link Authorizer} counts refusals). */
  public InboundAuthorizer.Decision evaluate(Request r) {
    WorkloadIdentity caller = r.caller();
    if (caller == null) {
      AuthzDecision strict = plaintextRefusal(r.destinationPort());
      if (strict != null) {
        return strict;
      }
    }
    Jwt token = null;
    if (!jwt.isEmpty()) {
      JwtAuthenticator.Outcome o = jwt.authenticate(r);
      if (o.refused() != null) {
        return jwtRefusals.get(o.rule().policy()).get(o.refused());
      }
      token = o.jwt();
    }
    if (audits.length > 0) {
      observe(audits, r, token, "audit");
    }
    if (dryDeny.length > 0 || dryAllow.length > 0 || dryCustom.length > 0) {
      dryRun(r, token);
    }
    AuthzDecision local = local(r, token);
    if (local.allowed() && token != null) {
      List<Map.Entry<String, String>> set = JwtAuthenticator.headersToSet(token);
      String remove = JwtAuthenticator.headerToRemove(token);
      if (!set.isEmpty() || remove != null) {
        local = AuthzDecision.allowChanging(set, remove == null ? List.of() : List.of(remove));
      }
    }
    if (custom.length > 0) {
      for (Rule c : custom) {
        if (c.matches(r, token)) {
          return external(c, r, local);
        }
      }
    }
    return local;
  }

  private AuthzDecision plaintextRefusal(int port) {
    for (int i = 0; i < ports.length; i++) {
      if (ports[i] == port) {
        return portPlaintextRefused[i];
      }
    }
    return plaintextRefused;
  }

  private AuthzDecision local(Request r, Jwt token) {
    for (Rule d : deny) {
      if (d.matches(r, token)) {
        return d.decision;
      }
    }
    if (noAllowMatch == null) {
      return AuthzDecision.ALLOW;
    }
    for (Rule a : allow) {
      if (a.matches(r, token)) {
        return AuthzDecision.ALLOW;
      }
    }
    return noAllowMatch;
  }

  /** Counts and logs the first matching rule of each policy among {@code rules}. */
  private static void observe(Rule[] rules, Request r, Jwt token, String what) {
    String last = null;
    for (Rule a : rules) {
      if (a.policy.equals(last)) {
        continue;
      }
      if (a.matches(r, token)) {
        last = a.policy;
        if (a.observed != null) {
          a.observed.increment();
        }
        audit.info("meshup {}: AuthorizationPolicy {} {} ({}) matched {} {} from {}", what, a.policy, a.rule, a.action,
            r.method(), r.path(), r.caller() == null ? "a plaintext caller" : r.caller().principal());
      }
    }
  }

  private void dryRun(Request r, Jwt token) {
    observe(dryDeny, r, token, "dry-run");
    observe(dryCustom, r, token, "dry-run");
    if (dryAllow.length > 0) {
      for (Rule a : dryAllow) {
        if (a.matches(r, token)) {
          observe(new Rule[] {a}, r, token, "dry-run");
          return;
        }
      }
      if (dryNoAllow != null) {
        dryNoAllow.increment();
      }
      audit.info("meshup dry-run: no rule of the dry-run ALLOW policies matches {} {} from {}: they would deny it",
          r.method(), r.path(), r.caller() == null ? "a plaintext caller" : r.caller().principal());
    }
  }

  private static final int ALLOWED = 0;
  private static final int DENIED = 1;
  private static final int ERROR = 2;
  private static final int TIMEOUT = 3;
  private static final int FAIL_OPEN = 4;

  private void countCustom(int result) {
    if (customResults != null && customResults[result] != null) {
      customResults[result].increment();
    }
  }

  /** Asks the external authorizer, holding the call until it answers or its timeout passes. */
  private InboundAuthorizer.Decision external(Rule rule, Request r, AuthzDecision local) {
    CompletableFuture<InboundAuthorizer.Decision> out = new CompletableFuture<>();
    CompletionStage<ExternalAuthorizer.Answer> answer;
    try {
      answer = provider.authorizer().check(r);
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    ScheduledFuture<?> timer = null;
    if (scheduler != null) {
      try {
        timer = scheduler.schedule(() -> {
          if (out.complete(failed(rule, local, "did not answer within " + provider.timeout().toMillis() + " ms"))) {
            countCustom(provider.failOpen() ? FAIL_OPEN : TIMEOUT);
          }
        }, provider.timeout().toNanos(), TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        out.complete(failed(rule, local, "cannot be timed (the mesh is closing)"));
      }
    }
    ScheduledFuture<?> t = timer;
    answer.whenComplete((a, error) -> {
      if (t != null) {
        t.cancel(false);
      }
      InboundAuthorizer.Decision d;
      int result;
      if (error != null || a == null) {
        d = failed(rule, local, "failed (" + (error == null ? "no answer" : rootMessage(error)) + ")");
        result = provider.failOpen() ? FAIL_OPEN : ERROR;
      } else if (!a.allowed()) {
        int status = a.httpStatus() >= 200 && a.httpStatus() <= 599 && a.httpStatus() != 200 ? a.httpStatus() : 403;
        String message = a.body() == null || a.body().isEmpty()
            ? "meshup: denied by the external authorizer " + provider.name() + " (AuthorizationPolicy " + rule.policy + " " + rule.rule + ")"
            : a.body();
        d = new AuthzDecision(status == 401 ? Kind.UNAUTHENTICATED : Kind.DENY, rule.policy, rule.rule, message,
            rule.customDenial, status, a.responseHeaders(), List.of(), List.of());
        result = DENIED;
      } else {
        d = merge(local, a);
        result = ALLOWED;
      }
      if (out.complete(d)) {
        countCustom(result);
      }
    });
    return new AuthzDecision.Pending(out);
  }

  private static String rootMessage(Throwable t) {
    Throwable c = t;
    while ((c instanceof java.util.concurrent.CompletionException || c instanceof java.util.concurrent.ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    return c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage());
  }

  /** The decision when the check could not be made: the local one with failOpen, else a refusal with statusOnError. */
  private InboundAuthorizer.Decision failed(Rule rule, AuthzDecision local, String why) {
    log.warn("meshup: the external authorizer {} {}; the call is {}", provider.name(), why,
        provider.failOpen() ? "decided without it (failOpen)" : "refused (fail closed)");
    if (provider.failOpen()) {
      return local;
    }
    int status = provider.statusOnError();
    return new AuthzDecision(status == 401 ? Kind.UNAUTHENTICATED : Kind.DENY, rule.policy, rule.rule,
        "meshup: the external authorizer " + provider.name() + " " + why + "; refused (AuthorizationPolicy "
            + rule.policy + " " + rule.rule + ", fail closed)", rule.customDenial, status, List.of(), List.of(), List.of());
  }

  private static InboundAuthorizer.Decision merge(AuthzDecision local, ExternalAuthorizer.Answer a) {
    if (!local.allowed() || (a.headersToSet().isEmpty() && a.headersToRemove().isEmpty())) {
      return local;
    }
    List<Map.Entry<String, String>> set = new ArrayList<>(local.requestHeadersToSet());
    set.addAll(a.headersToSet());
    Set<String> remove = new LinkedHashSet<>(local.requestHeadersToRemove());
    remove.addAll(a.headersToRemove());
    return AuthzDecision.allowChanging(List.copyOf(set), List.copyOf(remove));
  }

  /** The PeerAuthentication mode in force for the workload, or null when there is none or it is UNSET. */
  public MtlsMode peerMode() {
    return peerMode;
  }

  /** The mode for connections to {@code port}: its {@code portLevelMtls} mode, else {@link #peerMode()}. */
  public MtlsMode peerMode(int port) {
    for (int i = 0; i < ports.length; i++) {
      if (ports[i] == port) {
        return portModes[i];
      }
    }
    return peerMode;
  }

  /** The names of the AuthorizationPolicies that apply to this workload, in order. */
  public List<String> policies() {
    return policies;
  }

  /** The key sources of the RequestAuthentications compiled, for the key cache to keep refreshing. */
  public Set<KeySource> keySources() {
    return keySources;
  }

  /** One compiled rule of a policy. */
  private static final class Rule {
    final String policy;
    final String rule;
    final AuthzAction action;
    final Matchers.Attribute[][] from;
    final Matchers.Attribute[][] to;
    final Matchers.Attribute[] when;
    final AuthzDecision decision;
    final Counter observed;
    final Counter customDenial;

    Rule(String policy, String rule, AuthzRule r, String namespace, Matchers.TrustDomains domains,
        AuthzDecision decision, Counter observed, AuthzAction action, Counter customDenial) {
      this.policy = policy;
      this.rule = rule;
      this.action = action;
      this.decision = decision;
      this.observed = observed;
      this.customDenial = customDenial;
      this.from = r.from().stream().map(s -> source(s, namespace, domains)).toArray(Matchers.Attribute[][]::new);
      this.to = r.to().stream().map(Rule::operation).toArray(Matchers.Attribute[][]::new);
      this.when = r.when().stream().map(c -> condition(c, namespace, domains)).toArray(Matchers.Attribute[]::new);
    }

    private static Matchers.Attribute[] source(AuthzSource s, String ns, Matchers.TrustDomains domains) {
      List<Matchers.Attribute> a = new ArrayList<>();
      if (!s.principals().isEmpty() || !s.notPrincipals().isEmpty()) {
        a.add(Matchers.principals(s.principals(), s.notPrincipals(), domains));
      }
      if (!s.namespaces().isEmpty() || !s.notNamespaces().isEmpty()) {
        a.add(Matchers.strings(s.namespaces(), s.notNamespaces(), Matchers::namespace));
      }
      if (!s.serviceAccounts().isEmpty() || !s.notServiceAccounts().isEmpty()) {
        a.add(Matchers.serviceAccounts(s.serviceAccounts(), s.notServiceAccounts(), ns));
      }
      if (!s.requestPrincipals().isEmpty() || !s.notRequestPrincipals().isEmpty()) {
        a.add(Matchers.requestPrincipals(s.requestPrincipals(), s.notRequestPrincipals()));
      }
      if (!s.ipBlocks().isEmpty() || !s.notIpBlocks().isEmpty()) {
        a.add(Matchers.ipBlocks(s.ipBlocks(), s.notIpBlocks(), Request::sourceAddress));
      }
      if (!s.remoteIpBlocks().isEmpty() || !s.notRemoteIpBlocks().isEmpty()) {
        // in-process there is no proxy in front: the remote address is the peer's
        a.add(Matchers.ipBlocks(s.remoteIpBlocks(), s.notRemoteIpBlocks(), Request::sourceAddress));
      }
      return a.toArray(new Matchers.Attribute[0]);
    }

    private static Matchers.Attribute[] operation(AuthzOperation o) {
      List<Matchers.Attribute> a = new ArrayList<>();
      if (!o.hosts().isEmpty() || !o.notHosts().isEmpty()) {
        a.add(Matchers.hosts(o.hosts(), o.notHosts()));
      }
      if (!o.ports().isEmpty() || !o.notPorts().isEmpty()) {
        a.add(Matchers.ports(o.ports(), o.notPorts()));
      }
      if (!o.methods().isEmpty() || !o.notMethods().isEmpty()) {
        a.add(Matchers.strings(o.methods(), o.notMethods(), (r, j) -> r.method()));
      }
      if (!o.paths().isEmpty() || !o.notPaths().isEmpty()) {
        a.add(Matchers.paths(o.paths(), o.notPaths()));
      }
      return a.toArray(new Matchers.Attribute[0]);
    }

    private static Matchers.Attribute condition(AuthzCondition c, String ns, Matchers.TrustDomains domains) {
      String key = c.key();
      int b = key.indexOf('[');
      String base = b < 0 ? key : key.substring(0, b);
      switch (base) {
        case "request.headers":
          return Matchers.header(key.substring(b + 1, key.length() - 1).toLowerCase(java.util.Locale.ROOT), c.values(), c.notValues());
        case "request.auth.claims":
          return Matchers.claim(key.substring(b + 1, key.length() - 1).split("\\]\\[", -1), c.values(), c.notValues());
        case "source.ip":
        case "remote.ip":
          return Matchers.ipBlocks(c.values(), c.notValues(), Request::sourceAddress);
        case "destination.ip":
          return Matchers.ipBlocks(c.values(), c.notValues(), Request::destinationAddress);
        case "destination.port":
          return Matchers.ports(c.values(), c.notValues());
        case "source.principal":
          return Matchers.principals(c.values(), c.notValues(), domains);
        case "source.namespace":
          return Matchers.strings(c.values(), c.notValues(), Matchers::namespace);
        case "source.serviceAccount":
          return Matchers.serviceAccounts(c.values(), c.notValues(), ns);
        case "request.auth.principal":
          return Matchers.requestPrincipals(c.values(), c.notValues());
        case "request.auth.audiences":
          return Matchers.audiences(c.values(), c.notValues());
        case "request.auth.presenter":
          return Matchers.strings(c.values(), c.notValues(), (r, j) -> j == null ? null : j.presenter());
        case "connection.sni":
          return Matchers.strings(c.values(), c.notValues(), (r, j) -> r.serverName());
        default:
          throw new IllegalStateException("condition key " + key + " passed the parser but has no matcher");
      }
    }

    boolean matches(Request r, Jwt jwt) {
      if (from.length > 0 && !anyAll(from, r, jwt)) {
        return false;
      }
      if (to.length > 0 && !anyAll(to, r, jwt)) {
        return false;
      }
      for (Matchers.Attribute w : when) {
        if (!w.matches(r, jwt)) {
          return false;
        }
      }
      return true;
    }

    /** Whether any entry has all its attributes matching. */
    private static boolean anyAll(Matchers.Attribute[][] entries, Request r, Jwt jwt) {
      for (Matchers.Attribute[] entry : entries) {
        boolean all = true;
        for (Matchers.Attribute a : entry) {
          if (!a.matches(r, jwt)) {
            all = false;
            break;
          }
        }
        if (all) {
          return true;
        }
      }
      return false;
    }
  }

  /** A request known only by caller, path and method. */
  record BasicRequest(WorkloadIdentity caller, String path, String method) implements Request {}
}
