package io.meshup.core.internal.authz;

import io.meshup.core.route.InboundAuthorizer;

import io.meshup.core.identity.MtlsMode;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.AuthzAction;
import io.meshup.core.internal.policy.PolicyModel.AuthzOperation;
import io.meshup.core.internal.policy.PolicyModel.AuthzRule;
import io.meshup.core.internal.policy.PolicyModel.AuthzSource;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import io.meshup.core.internal.policy.WildcardMatch;
import io.micrometer.core.instrument.Counter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * What this service's servers accept: its AuthorizationPolicies and PeerAuthentication, compiled
 * into matchers and precomputed decisions. Immutable; thread-safe; evaluating allocates nothing.
 *
 * <p>Istio's semantics: a PeerAuthentication in STRICT mode refuses plaintext callers; then any
 * matching rule of a DENY policy denies; then, when there is at least one ALLOW policy, the call
 * must match a rule of one of them; with no ALLOW policy everything left is allowed. A rule
 * matches when any of its {@code from} entries and any of its {@code to} entries match (a missing
 * list matches everything, so {@code rules: [{}]} matches every call and a policy with no rules
 * matches none). A plaintext caller has no principal and no namespace: {@code principals} and
 * {@code namespaces} never match it, {@code notPrincipals} and {@code notNamespaces} always do.
 */
public final class InboundPolicy {
  /** No policy: every call is allowed. */
  public static final InboundPolicy EMPTY = new InboundPolicy(new Rule[0], new Rule[0], null, null, null, List.of());

  private final Rule[] deny;
  private final Rule[] allow;
  private final AuthzDecision noAllowMatch;
  private final AuthzDecision plaintextRefused;
  private final MtlsMode peerMode;
  private final List<String> policies;

  private InboundPolicy(Rule[] deny, Rule[] allow, AuthzDecision noAllowMatch, AuthzDecision plaintextRefused,
      MtlsMode peerMode, List<String> policies) {
    this.deny = deny;
    this.allow = allow;
    this.noAllowMatch = noAllowMatch;
    this.plaintextRefused = plaintextRefused;
    this.peerMode = peerMode;
    this.policies = policies;
  }

  /**
   * Compiles the policies that apply to {@code service}: those without a selector and those whose
   * {@code selector.matchLabels.app} is {@code service}.
   *
   * @param denials the counter of denials by a policy name and rule ({@code rules[i]}, {@code none}
   *     or {@code mtls}), resolved here once per rule; null to count nothing
   */
  public static InboundPolicy compile(List<AuthorizationPolicy> authorizationPolicies, PeerAuthentication peer,
      String service, BiFunction<String, String, Counter> denials) {
    List<Rule> deny = new ArrayList<>();
    List<Rule> allow = new ArrayList<>();
    List<String> allowNames = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (AuthorizationPolicy p : authorizationPolicies) {
      if (p.app() != null && !p.app().equals(service)) {
        continue;
      }
      names.add(p.name());
      if (p.action() == AuthzAction.ALLOW) {
        allowNames.add(p.name());
      }
      for (int i = 0; i < p.rules().size(); i++) {
        String rule = "rules[" + i + "]";
        AuthzDecision denial = null;
        if (p.action() == AuthzAction.DENY) {
          denial = new AuthzDecision(InboundAuthorizer.Kind.DENY, p.name(), rule,
              "meshup: denied by AuthorizationPolicy " + p.name() + " " + rule, counter(denials, p.name(), rule));
        }
        (p.action() == AuthzAction.DENY ? deny : allow).add(new Rule(p.rules().get(i), denial));
      }
    }
    AuthzDecision noAllow = null;
    if (!allowNames.isEmpty()) {
      noAllow = new AuthzDecision(InboundAuthorizer.Kind.DENY, "none", "none",
          "meshup: no ALLOW rule of AuthorizationPolicy " + String.join(", ", allowNames) + " matches",
          counter(denials, "none", "none"));
    }
    AuthzDecision plaintext = null;
    MtlsMode mode = peer == null ? null : peer.mode();
    if (mode == MtlsMode.STRICT) {
      plaintext = new AuthzDecision(InboundAuthorizer.Kind.UNAUTHENTICATED, peer.name(), "mtls",
          "meshup: PeerAuthentication " + peer.name() + " requires mutual TLS (mode STRICT); the call came in plaintext",
          counter(denials, peer.name(), "mtls"));
    }
    return new InboundPolicy(deny.toArray(new Rule[0]), allow.toArray(new Rule[0]), noAllow, plaintext, mode,
        List.copyOf(names));
  }

  private static Counter counter(BiFunction<String, String, Counter> denials, String policy, String rule) {
    return denials == null ? null : denials.apply(policy, rule);
  }

  /**
   * Decides one call.
   *
   * @param caller the verified identity of the caller, or null for a plaintext caller
   * @param path the request path; for gRPC {@code /package.Service/Method}
   * @param method the request method; {@code POST} for gRPC
   */
  public AuthzDecision evaluate(WorkloadIdentity caller, String path, String method) {
    if (caller == null && plaintextRefused != null) {
      return plaintextRefused;
    }
    String principal = caller == null ? null : caller.principal();
    String namespace = caller == null ? null : caller.namespace();
    for (Rule r : deny) {
      if (r.matches(principal, namespace, path, method)) {
        return r.denial;
      }
    }
    if (noAllowMatch == null) {
      return AuthzDecision.ALLOW;
    }
    for (Rule r : allow) {
      if (r.matches(principal, namespace, path, method)) {
        return AuthzDecision.ALLOW;
      }
    }
    return noAllowMatch;
  }

  /** The PeerAuthentication mode in force, or null when there is none or it is UNSET. */
  public MtlsMode peerMode() {
    return peerMode;
  }

  /** The names of the AuthorizationPolicies that apply to this service, in order. */
  public List<String> policies() {
    return policies;
  }

  /** One compiled rule; {@code denial} is set for rules of DENY policies. */
  private static final class Rule {
    private final Source[] from;
    private final Operation[] to;
    private final AuthzDecision denial;

    Rule(AuthzRule rule, AuthzDecision denial) {
      this.from = rule.from().stream().map(Source::new).toArray(Source[]::new);
      this.to = rule.to().stream().map(Operation::new).toArray(Operation[]::new);
      this.denial = denial;
    }

    boolean matches(String principal, String namespace, String path, String method) {
      if (from.length > 0) {
        boolean any = false;
        for (Source s : from) {
          if (s.matches(principal, namespace)) {
            any = true;
            break;
          }
        }
        if (!any) {
          return false;
        }
      }
      if (to.length > 0) {
        for (Operation o : to) {
          if (o.matches(path, method)) {
            return true;
          }
        }
        return false;
      }
      return true;
    }
  }

  private static final class Source {
    private final WildcardMatch[] principals;
    private final WildcardMatch[] notPrincipals;
    private final WildcardMatch[] namespaces;
    private final WildcardMatch[] notNamespaces;

    Source(AuthzSource s) {
      principals = compile(s.principals());
      notPrincipals = compile(s.notPrincipals());
      namespaces = compile(s.namespaces());
      notNamespaces = compile(s.notNamespaces());
    }

    boolean matches(String principal, String namespace) {
      return in(principals, principal, true) && !in(notPrincipals, principal, false)
          && in(namespaces, namespace, true) && !in(notNamespaces, namespace, false);
    }
  }

  private static final class Operation {
    private final WildcardMatch[] paths;
    private final WildcardMatch[] notPaths;
    private final WildcardMatch[] methods;
    private final WildcardMatch[] notMethods;

    Operation(AuthzOperation o) {
      paths = compile(o.paths());
      notPaths = compile(o.notPaths());
      methods = compile(o.methods());
      notMethods = compile(o.notMethods());
    }

    boolean matches(String path, String method) {
      return in(paths, path, true) && !in(notPaths, path, false)
          && in(methods, method, true) && !in(notMethods, method, false);
    }
  }

  private static WildcardMatch[] compile(List<String> values) {
    return values.stream().map(WildcardMatch::of).toArray(WildcardMatch[]::new);
  }

  /** Whether any matcher matches {@code value}; {@code whenEmpty} when there are none. */
  private static boolean in(WildcardMatch[] matchers, String value, boolean whenEmpty) {
    if (matchers.length == 0) {
      return whenEmpty;
    }
    for (WildcardMatch m : matchers) {
      if (m.matches(value)) {
        return true;
      }
    }
    return false;
  }
}
