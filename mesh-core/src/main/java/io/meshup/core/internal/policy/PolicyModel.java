package io.meshup.core.internal.policy;

import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.route.FaultPolicy;
import io.meshup.core.route.RetryPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parsed, validated policy documents: Istio-style VirtualService, DestinationRule,
 * AuthorizationPolicy and PeerAuthentication.
 */
public final class PolicyModel {
  private PolicyModel() {}

  /**
   * A VirtualService. {@code origin} names the file or key and the document, for errors;
   * {@code namespace} is its {@code metadata.namespace} (null: this workload's); {@code hosts} are
   * full names or wildcards (empty for a delegate); {@code mesh} tells whether it applies to the
   * mesh's clients ({@code gateways} absent or naming {@code mesh}); {@code exportTo} the
   * namespaces that see it ({@code *} for all, {@code .} already resolved to its own).
   */
  public record VirtualService(String name, String origin, String namespace, List<String> hosts, boolean mesh,
      Set<String> exportTo, List<HttpRoute> http) {}

  /**
   * One {@code http[i]} entry. Exactly one of {@code route} (non-empty), {@code redirect},
   * {@code directResponse} or {@code delegate} says what it does.
   */
  public record HttpRoute(String name, List<RequestMatch> matches, List<Destination> route,
      Duration timeout, RetryPolicy retries, FaultPolicy fault, Rewrite rewrite, HeaderOps requestHeaders,
      HeaderOps responseHeaders, Redirect redirect, DirectResponse directResponse, List<Mirror> mirrors,
      Delegate delegate, Cors cors, ConfigNode where) {
    /** True when every match leaves the mesh out ({@code gateways}): no client of the mesh takes this route. */
    public boolean gatewayOnly() {
      if (matches.isEmpty()) {
        return false;
      }
      for (RequestMatch m : matches) {
        if (m.mesh()) {
          return false;
        }
      }
      return true;
    }
  }

  /**
   * {@code corsPolicy}, as Envoy's CORS filter applies it: origins allowed (any of the matches, or
   * {@code *}), what a preflight answers, and whether unmatched preflights go on to the destination.
   */
  public record Cors(List<StringMatch> allowOrigins, boolean anyOrigin, List<String> allowMethods,
      List<String> allowHeaders, List<String> exposeHeaders, Duration maxAge, Boolean allowCredentials,
      boolean forwardUnmatchedPreflights) {}

  /**
   * One {@code match[j]}; all present conditions must hold. Header and query maps hold a
   * {@link StringMatch} per name ({@link StringMatch.Kind#PRESENT} for {@code {}}); {@code port} is
   * 0 for any; {@code sourceLabels} must all be this workload's labels; {@code sourceNamespace}
   * (null: any) this workload's namespace; {@code mesh} is false when the match's own
   * {@code gateways} (or, without them, the VirtualService's) leave the mesh out.
   */
  public record RequestMatch(String name, StringMatch uri, StringMatch scheme, StringMatch method, StringMatch authority,
      Map<String, StringMatch> headers, Map<String, StringMatch> withoutHeaders, Map<String, StringMatch> queryParams,
      int port, Map<String, String> sourceLabels, String sourceNamespace, boolean mesh) {}

  /** One weighted destination; {@code host} in full; {@code port} 0 when not named; {@code where} locates it for reference errors. */
  public record Destination(String host, String subset, int port, int weight, HeaderOps requestHeaders,
      HeaderOps responseHeaders, ConfigNode where) {}

  /** Header changes: {@code set} replaces, {@code add} appends, {@code remove} drops (names in lower case). */
  public record HeaderOps(Map<String, String> set, Map<String, String> add, List<String> remove) {
    /** No change. */
    public static final HeaderOps NONE = new HeaderOps(Map.of(), Map.of(), List.of());

    public boolean isEmpty() {
      return set.isEmpty() && add.isEmpty() && remove.isEmpty();
    }
  }

  /** {@code rewrite}: {@code uri} (null: none), {@code authority} (null: none), or a regex rewrite of the path. */
  public record Rewrite(String uri, String authority, StringMatch regex, String regexReplacement) {}

  /** {@code redirect}; null members keep the request's; {@code port} 0 and {@code derivePort} null keep its port. */
  public record Redirect(String uri, String authority, int port, String derivePort, String scheme, int code) {}

  /** {@code directResponse}: a status and an optional body. */
  public record DirectResponse(int status, byte[] body) {}

  /** One mirror: where to, and the share of requests mirrored (0..100). */
  public record Mirror(Destination destination, double percent) {}

  /** {@code delegate}: the VirtualService whose routes this one takes (namespace null: the root's). */
  public record Delegate(String name, String namespace) {}

  /**
   * A DestinationRule; {@code host} in full or a wildcard; {@code exportTo} as a VirtualService's;
   * {@code trafficPolicy.portLevel} holds its {@code portLevelSettings}; {@code workloadSelector}
   * (null: every workload) the labels a workload of its namespace must have for it to apply.
   */
  public record DestinationRule(String name, String origin, String namespace, String host, Set<String> exportTo,
      TrafficPolicy trafficPolicy, List<Subset> subsets, Map<String, String> workloadSelector) {}

  /** One named subset selected by labels, with optional overrides. */
  public record Subset(String name, Map<String, String> labels, TrafficPolicy trafficPolicy) {}

  /**
   * A ServiceEntry: hosts outside the registry, their ports and, for {@code resolution: STATIC} or
   * {@code DNS} with endpoints, their endpoints (a DNS entry without endpoints is reached at its host
   * name on each port).
   */
  public record ServiceEntry(String name, String origin, String namespace, List<String> hosts, List<String> addresses,
      Set<String> exportTo,
      List<ServicePort> ports, String resolution, boolean external, List<io.meshup.core.Endpoint> endpoints,
      List<String> subjectAltNames) {}

  /** A ServiceEntry port: number, name, protocol (upper case), target port (0: the number). */
  public record ServicePort(int number, String name, String protocol, int targetPort) {}

  /** Settings for a destination; null members inherit. */
  public record TrafficPolicy(BalancerKind loadBalancer, ConnectionPool connectionPool,
      OutlierDetection outlierDetection, CircuitBreaker circuitBreaker, io.meshup.core.route.ClientTls tls,
      HashPolicy hash, LocalitySettings locality, TlsFiles tlsFiles, Map<Integer, TrafficPolicy> portLevel) {
    /** Nothing set. */
    public static final TrafficPolicy EMPTY = new TrafficPolicy(null, null, null, null, null, null, null, null, Map.of());

    /** A policy of the first five members (the others unset). */
    public TrafficPolicy(BalancerKind loadBalancer, ConnectionPool connectionPool, OutlierDetection outlierDetection,
        CircuitBreaker circuitBreaker, io.meshup.core.route.ClientTls tls) {
      this(loadBalancer, connectionPool, outlierDetection, circuitBreaker, tls, null, null, null, Map.of());
    }

    /** This policy with unset members taken from {@code parent}. */
    public TrafficPolicy inherit(TrafficPolicy parent) {
      if (parent == null) {
        return this;
      }
      boolean lbSet = loadBalancer != null || hash != null;
      return new TrafficPolicy(
          lbSet ? loadBalancer : parent.loadBalancer,
          connectionPool != null ? connectionPool : parent.connectionPool,
          outlierDetection != null ? outlierDetection : parent.outlierDetection,
          circuitBreaker != null ? circuitBreaker : parent.circuitBreaker,
          tls != null ? tls : parent.tls,
          lbSet ? hash : parent.hash,
          locality != null ? locality : parent.locality,
          tls != null ? tlsFiles : parent.tlsFiles,
          portLevel.isEmpty() ? parent.portLevel : portLevel);
    }

    /**
     * The settings for calls to {@code port} (0: no port named): its {@code portLevelSettings} when it
     * has some, as Istio has them ("settings specified at the destination-level will not be inherited
     * when overridden by port-level settings": the port's {@code loadBalancer}, {@code connectionPool},
     * {@code outlierDetection} and {@code tls} replace these, unset ones taking the defaults; MeshUp's
     * own {@code circuitBreaker} has no port level and stays), else these; without port levels.
     */
    public TrafficPolicy forPort(int port) {
      return overriddenBy(portLevel.get(port));
    }

    /**
     * The settings for calls to {@code port} of a subset whose own policy is {@code subset}, in the
     * order Istio merges them (pilot's {@code MergeTrafficPolicy}): this rule's port level over this
     * rule, the subset's settings over that, the subset's port level over all.
     */
    public TrafficPolicy forSubset(TrafficPolicy subset, int port) {
      return subset.overriddenBy(null).inherit(forPort(port)).overriddenBy(subset.portLevel.get(port));
    }

    /** The ports that have settings of their own here or in {@code subset}. */
    public Set<Integer> portsWithSettings(TrafficPolicy subset) {
      Set<Integer> ports = new java.util.TreeSet<>(portLevel.keySet());
      ports.addAll(subset.portLevel.keySet());
      return ports;
    }

    private TrafficPolicy overriddenBy(TrafficPolicy p) {
      return p == null
          ? new TrafficPolicy(loadBalancer, connectionPool, outlierDetection, circuitBreaker, tls, hash, locality,
              tlsFiles, Map.of())
          : new TrafficPolicy(p.loadBalancer, p.connectionPool, p.outlierDetection, circuitBreaker, p.tls, p.hash,
              p.locality, p.tlsFiles, Map.of());
    }
  }

  /**
   * {@code loadBalancer.consistentHash}: what the key is ({@code header}, {@code cookie},
   * {@code sourceIp}, {@code query}), and the ring: {@code maglev} or ring hash of
   * {@code minimumRingSize} entries; a cookie with a {@code cookieTtl} is generated when absent.
   */
  public record HashPolicy(String header, String cookie, Duration cookieTtl, String cookiePath, boolean sourceIp,
      String query, boolean maglev, long ringSize) {}

  /**
   * {@code loadBalancer.localityLbSetting}: {@code distribute} (from locality prefix to weights by
   * locality prefix), {@code failover} (region to region), {@code failoverPriority} (labels), and
   * whether it is enabled.
   */
  public record LocalitySettings(boolean enabled, List<Distribute> distribute, Map<String, String> failover,
      List<String> failoverPriority) {}

  /** One {@code distribute} entry: calls from {@code from} go to localities by weight. */
  public record Distribute(String from, Map<String, Integer> to) {}

  /** {@code tls} SIMPLE or MUTUAL: the files and names of a TLS origination to a destination outside the mesh. */
  public record TlsFiles(String mode, String clientCertificate, String privateKey, String caCertificates, String sni,
      List<String> subjectAltNames, boolean insecureSkipVerify) {}

  /** Load balancer choices. */
  public enum BalancerKind {
    /** Power of two choices on peak EWMA latency times outstanding requests (the default). */
    PEAK_EWMA,
    /** Power of two choices on outstanding requests (Istio's LEAST_REQUEST). */
    LEAST_REQUEST,
    /** Round robin, weighted by endpoint weight. */
    ROUND_ROBIN,
    /** Uniformly random. */
    RANDOM,
    /** Consistent hashing of a request key ({@link HashPolicy}): a ring hash or Maglev table. */
    RING_HASH
  }

  /**
   * Connection pool limits. {@code maxRequests} bounds requests in flight per subset
   * (http2MaxRequests); {@code maxRetries} bounds retries in flight per service; {@code h2Upgrade}
   * is {@code h2UpgradePolicy: UPGRADE} (plaintext HTTP clients ask to upgrade to HTTP/2).
   */
  public record ConnectionPool(int maxRequests, int maxPendingRequests, int maxRetries,
      int maxConnections, int maxRequestsPerConnection, Duration connectTimeout,
      Duration idleTimeout, io.meshup.core.route.ConnectionSettings.TcpKeepalive tcpKeepalive, boolean h2Upgrade) {}

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
