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
    DENY
  }

  /**
   * An AuthorizationPolicy. {@code app} is the service its {@code selector.matchLabels.app} names,
   * or null when it has no selector (it then applies to this service's servers).
   */
  public record AuthorizationPolicy(String name, String origin, AuthzAction action, String app,
      List<AuthzRule> rules) {}

  /** One {@code rules[i]}: it matches when any {@code from} and any {@code to} entry match; an empty list means any. */
  public record AuthzRule(List<AuthzSource> from, List<AuthzOperation> to) {}

  /** One {@code from[j].source}: every non-empty list must be satisfied. Values are Istio wildcards. */
  public record AuthzSource(List<String> principals, List<String> notPrincipals, List<String> namespaces,
      List<String> notNamespaces) {}

  /** One {@code to[k].operation}: every non-empty list must be satisfied. Values are Istio wildcards. */
  public record AuthzOperation(List<String> paths, List<String> notPaths, List<String> methods,
      List<String> notMethods) {}

  /** A PeerAuthentication for this service; {@code mode} is null for UNSET (the transport's mode applies). */
  public record PeerAuthentication(String name, String origin, io.meshup.core.identity.MtlsMode mode) {}
}
