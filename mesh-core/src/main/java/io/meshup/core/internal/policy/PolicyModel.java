package io.meshup.core.internal.policy;

import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.RetryPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The parsed, validated policy documents: Istio-style VirtualService, DestinationRule,
 * AuthorizationPolicy and PeerAuthentication.
 */
public final class PolicyModel {
  private PolicyModel() {}

  /** A VirtualService. {@code origin} names the file or key and the document, for errors. */
  public record VirtualService(String name, String origin, List<String> hosts, List<HttpRoute> http) {}

  /** One {@code http[i]} entry. */
  public record HttpRoute(String name, List<RequestMatch> matches, List<Destination> route,
      Duration timeout, RetryPolicy retries, FaultPolicy fault) {}

  /** One {@code match[j]}; all present conditions must hold. */
  public record RequestMatch(StringMatch uri, StringMatch method, Map<String, StringMatch> headers,
      Map<String, StringMatch> withoutHeaders) {}

  /** One weighted destination; {@code where} locates it for reference errors. */
  public record Destination(String host, String subset, int weight, ConfigNode where) {}

  /** A DestinationRule. */
  public record DestinationRule(String name, String origin, String host, TrafficPolicy trafficPolicy,
      List<Subset> subsets) {}

  /** One named subset selected by labels, with optional overrides. */
  public record Subset(String name, Map<String, String> labels, TrafficPolicy trafficPolicy) {}

  /** Settings for a destination; null members inherit. */
  public record TrafficPolicy(BalancerKind loadBalancer, ConnectionPool connectionPool,
      OutlierDetection outlierDetection, CircuitBreaker circuitBreaker, io.meshup.core.route.ClientTls tls) {
    /** Nothing set. */
    public static final TrafficPolicy EMPTY = new TrafficPolicy(null, null, null, null, null);

    /** This policy with unset members taken from {@code parent}. */
    public TrafficPolicy inherit(TrafficPolicy parent) {
      if (parent == null) {
        return this;
      }
      return new TrafficPolicy(
          loadBalancer != null ? loadBalancer : parent.loadBalancer,
          connectionPool != null ? connectionPool : parent.connectionPool,
          outlierDetection != null ? outlierDetection : parent.outlierDetection,
          circuitBreaker != null ? circuitBreaker : parent.circuitBreaker,
          tls != null ? tls : parent.tls);
    }
  }

  /** Load balancer choices. */
  public enum BalancerKind {
    /** Power of two choices on peak EWMA latency times outstanding requests (the default). */
    PEAK_EWMA,
    /** Power of two choices on outstanding requests (Istio's LEAST_REQUEST). */
    LEAST_REQUEST,
    /** Round robin, weighted by endpoint weight. */
    ROUND_ROBIN,
    /** Uniformly random. */
    RANDOM
  }

  /**
   * Connection pool limits. {@code maxRequests} bounds requests in flight per subset
   * (http2MaxRequests); {@code maxRetries} bounds retries in flight per service; {@code h2Upgrade}
   * is {@code h2UpgradePolicy: UPGRADE} (plaintext HTTP clients ask to upgrade to HTTP/2).
   */
  public record ConnectionPool(int maxRequests, int maxPendingRequests, int maxRetries,
      int maxConnections, int maxRequestsPerConnection, Duration connectTimeout,
      Duration idleTimeout, Duration keepaliveTime, Duration keepaliveTimeout, boolean h2Upgrade) {}

  /** Ejection of failing endpoints (Envoy semantics, Istio fields). */
  public record OutlierDetection(int consecutiveErrors, int consecutiveGatewayErrors,
      Duration interval, Duration baseEjectionTime, int maxEjectionPercent) {
    /** DESIGN.md defaults: 5 consecutive failures, 10 s interval, 30 s base ejection, 10 %. */
    public static final OutlierDetection DEFAULT =
        new OutlierDetection(5, 0, Duration.ofSeconds(10), Duration.ofSeconds(30), 10);
  }

  /**
   * MeshUp's circuit breaker extension of DestinationRule: Resilience4j's failure-rate and
   * slow-call breaker over a count-based window, per destination subset.
   */
  public record CircuitBreaker(boolean enabled, float failureRateThreshold, float slowCallRateThreshold,
      Duration slowCallDurationThreshold, int slidingWindowSize, int minimumNumberOfCalls,
      Duration waitDurationInOpenState, int permittedNumberOfCallsInHalfOpenState) {
    /** Defaults: 50 % failures or 100 % calls slower than 10 s over 100 calls (at least 20), open 10 s. */
    public static final CircuitBreaker DEFAULT = new CircuitBreaker(true, 50f, 100f,
        Duration.ofSeconds(10), 100, 20, Duration.ofSeconds(10), 5);
  }

  /** What an AuthorizationPolicy does with a request one of its rules matches. */
  public enum AuthzAction {
    ALLOW,
    DENY,
    /** Logged and counted, never deciding. */
    AUDIT,
    /** Delegated to an external authorizer ({@code provider.name}). */
    CUSTOM
  }

  /**
   * Where a security document applies: its {@code metadata.namespace} (null when absent: the
   * workload's own namespace), its {@code selector.matchLabels} (null when absent) and the
   * services its {@code targetRef(s)} of kind {@code Service} name (empty when none).
   */
  public record Scope(String namespace, Map<String, String> matchLabels, List<String> targetServices) {
    /** Whether this scope has a selector or target references. */
    public boolean selects() {
      return matchLabels != null || !targetServices.isEmpty();
    }
  }

  /**
   * An AuthorizationPolicy. {@code provider} is the CUSTOM action's extension provider (null
   * otherwise); {@code dryRun} is the {@code istio.io/dry-run} annotation.
   */
  public record AuthorizationPolicy(String name, String origin, Scope scope, AuthzAction action, String provider,
      boolean dryRun, List<AuthzRule> rules) {}

  /** One {@code rules[i]}: it matches when any {@code from}, any {@code to} and every {@code when} match; an empty list means any. */
  public record AuthzRule(List<AuthzSource> from, List<AuthzOperation> to, List<AuthzCondition> when) {}

  /** One {@code from[j].source}: every non-empty list must be satisfied. Values are Istio wildcards or IP blocks. */
  public record AuthzSource(List<String> principals, List<String> notPrincipals, List<String> requestPrincipals,
      List<String> notRequestPrincipals, List<String> namespaces, List<String> notNamespaces,
      List<String> serviceAccounts, List<String> notServiceAccounts, List<String> ipBlocks, List<String> notIpBlocks,
      List<String> remoteIpBlocks, List<String> notRemoteIpBlocks) {}

  /** One {@code to[k].operation}: every non-empty list must be satisfied. Values are Istio wildcards. */
  public record AuthzOperation(List<String> hosts, List<String> notHosts, List<String> ports, List<String> notPorts,
      List<String> methods, List<String> notMethods, List<String> paths, List<String> notPaths) {}

  /** One {@code when[l]}: the attribute {@code key} must match one of {@code values} and none of {@code notValues}. */
  public record AuthzCondition(String key, List<String> values, List<String> notValues) {}

  /**
   * A PeerAuthentication: {@code mode} is null for UNSET (inherit); {@code portModes} maps a
   * workload port to its mode (a null value is UNSET: the workload's mode).
   */
  public record PeerAuthentication(String name, String origin, Scope scope, io.meshup.core.identity.MtlsMode mode,
      Map<Integer, io.meshup.core.identity.MtlsMode> portModes) {}

  /** A RequestAuthentication: the JWTs its selected workloads accept. */
  public record RequestAuthentication(String name, String origin, Scope scope, List<JwtRule> jwtRules) {}

  /** Where a JWT is looked for in a header: {@code name} (lower case), and the prefix stripped before decoding. */
  public record JwtHeader(String name, String prefix) {}

  /** One claim copied to a request header ({@code outputClaimToHeaders}). */
  public record ClaimToHeader(String header, String claim) {}

  /** How a JWT is checked when it is missing or invalid ({@code failureMode}). */
  public enum JwtFailureMode {
    /** A missing JWT passes, an invalid one is refused (the default). */
    PERMISSIVE,
    /** Neither a missing nor an invalid JWT is refused; only a valid one gives an identity. */
    IGNORE,
    /** A missing or invalid JWT is refused. */
    STRICT
  }

  /**
   * One {@code jwtRules[i]}. {@code jwks} is the inline key set, or null; {@code jwksUri} the URL of
   * one, or null (neither: discovered from the issuer by OpenID Connect Discovery).
   * {@code where} locates the rule for errors.
   */
  public record JwtRule(String issuer, List<String> audiences, String jwksUri, String jwks,
      List<JwtHeader> fromHeaders, List<String> fromParams, List<String> fromCookies, String outputPayloadToHeader,
      boolean forwardOriginalToken, List<ClaimToHeader> outputClaimToHeaders, Duration timeout,
      JwtFailureMode failureMode, String where) {}
}
