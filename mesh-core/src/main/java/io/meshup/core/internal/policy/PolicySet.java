package io.meshup.core.internal.policy;

import io.meshup.core.MeshConfigException;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.Destination;
import io.meshup.core.internal.policy.PolicyModel.DestinationRule;
import io.meshup.core.internal.policy.PolicyModel.HttpRoute;
import io.meshup.core.internal.policy.PolicyModel.Mirror;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import io.meshup.core.internal.policy.PolicyModel.RequestAuthentication;
import io.meshup.core.internal.policy.PolicyModel.ServiceEntry;
import io.meshup.core.internal.policy.PolicyModel.Subset;
import io.meshup.core.internal.policy.PolicyModel.VirtualService;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * A whole, validated set of policy documents as one client sees them. Immutable; built only
 * through {@link #of}, which parses every source, merges them and then checks every cross
 * reference of the merged set, so the order of sources and documents never matters and a set that
 * exists is a set that compiles.
 *
 * <p>What applies to the client (a workload in {@link Client#namespace()}), as Istio has it:
 * documents exported to its namespace ({@code exportTo} absent or {@code *}, its namespace, or
 * {@code .} in its own namespace); VirtualServices bound to the mesh ({@code gateways} absent or
 * naming {@code mesh}); for a host, the VirtualService whose host pattern is the most specific
 * (an exact host before {@code *.suffix} before {@code *}), one of the client's own namespace
 * first, then one of the host's namespace, then any other; the DestinationRule of the client's
 * namespace first, then the host's namespace, then the root namespace, each the most specific.
 */
public final class PolicySet {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PolicySet.class);
  /** No documents at all: every service routes to all its endpoints with the defaults. */
  public static final PolicySet EMPTY = new PolicySet(Client.DEFAULT, Map.of(), Map.of(), Map.of(), Map.of(), Map.of(),
      Map.of(), Map.of(), List.of());

  /**
   * The workload policies are resolved for: its namespace, labels ({@code sourceLabels}) and the
   * root namespace (mesh-wide DestinationRules).
   */
  public record Client(String namespace, Map<String, String> labels, String rootNamespace) {
    /** A workload of namespace {@code default} without labels. */
    public static final Client DEFAULT = new Client("default", Map.of(), "istio-system");

    public Client {
      labels = Map.copyOf(labels);
    }
  }

  private final Client client;
  private final Hosts hosts;
  /** Keyed by namespace + "/" + host; delegates (no hosts) by namespace + "/" + name under {@link #delegates}. */
  private final Map<String, VirtualService> virtualServices;
  private final Map<String, VirtualService> delegates;
  private final Map<String, DestinationRule> destinationRules;
  private final Map<String, ServiceEntry> serviceEntries;
  private final List<AuthorizationPolicy> authorizationPolicies;
  private final List<PeerAuthentication> peerAuthentications;
  private final List<RequestAuthentication> requestAuthentications;
  private final List<String> origins;
  /** Per host asked, the VirtualService that applies (delegates merged); filled when built. */
  private final Map<String, Optional<VirtualService>> resolved = new java.util.concurrent.ConcurrentHashMap<>();

  private PolicySet(Client client, Map<String, VirtualService> vs, Map<String, VirtualService> delegates,
      Map<String, DestinationRule> dr, Map<String, ServiceEntry> se, Map<String, AuthorizationPolicy> authz,
      Map<String, PeerAuthentication> peers, Map<String, RequestAuthentication> requests, List<String> origins) {
    this.client = client;
    this.hosts = new Hosts(client.namespace());
    this.virtualServices = new LinkedHashMap<>(vs);
    this.delegates = new LinkedHashMap<>(delegates);
    this.destinationRules = new LinkedHashMap<>(dr);
    this.serviceEntries = new LinkedHashMap<>(se);
    this.authorizationPolicies = List.copyOf(authz.values());
    this.peerAuthentications = List.copyOf(peers.values());
    this.requestAuthentications = List.copyOf(requests.values());
    this.origins = List.copyOf(origins);
  }

  /** A security document's key: its namespace (empty for none: the workload's own) and name. */
  private static String key(PolicyModel.Scope scope, String name) {
    return (scope.namespace() == null ? "" : scope.namespace()) + "/" + name;
  }

  /**
   * A PeerAuthentication's key: with a selector its namespace and name; without one its namespace
   * alone, as a namespace (or, in the root namespace, the mesh) has at most one such policy.
   */
  private static String peerKey(PeerAuthentication pa) {
    return pa.scope().selects() ? key(pa.scope(), pa.name())
        : (pa.scope().namespace() == null ? "" : pa.scope().namespace()) + "/*";
  }

  private static <T> void replace(Map<String, T> into, Map<String, T> from) {
    for (Map.Entry<String, T> e : from.entrySet()) {
      into.remove(e.getKey());
      into.put(e.getKey(), e.getValue());
    }
  }

  /** The documents of one policy source (inline, a file, a Consul KV prefix...). */
  public record Source(String name, List<ConfigNode> docs) {}

  /** As {@link #of(List, Predicate, Client)} for a workload of namespace {@code default}. */
  public static PolicySet of(List<Source> sources, Predicate<String> knownService) {
    return of(sources, knownService, Client.DEFAULT);
  }

  /**
   * Parses the documents of several sources and validates them as one unit: references are
   * resolved in the merged set, wherever in it their target is defined. Within a source, two
   * documents of a kind for one host of one namespace are an error; across sources, the later
   * source's document replaces the earlier one's (VirtualServices and DestinationRules per
   * namespace and host, ServiceEntries and security documents per namespace and name; a
   * PeerAuthentication without a selector by its namespace alone, one per namespace as Istio has it).
   *
   * @param sources the sources, in precedence order, lowest first
   * @param knownService tells whether a registry service name exists; with a static registry only
   *     the listed services do, with a dynamic one every name may
   * @param client the workload the set is resolved for
   * @throws MeshConfigException naming the document, the field and the problem
   */
  public static PolicySet of(List<Source> sources, Predicate<String> knownService, Client client) {
    Map<String, VirtualService> vs = new LinkedHashMap<>();
    Map<String, VirtualService> delegates = new LinkedHashMap<>();
    Map<String, DestinationRule> dr = new LinkedHashMap<>();
    Map<String, ServiceEntry> se = new LinkedHashMap<>();
    Map<String, AuthorizationPolicy> authz = new LinkedHashMap<>();
    Map<String, PeerAuthentication> peers = new LinkedHashMap<>();
    Map<String, RequestAuthentication> requests = new LinkedHashMap<>();
    for (Source source : sources) {
      PolicySet one = parseOne(source.docs(), client);
      replace(vs, one.virtualServices);
      replace(delegates, one.delegates);
      replace(dr, one.destinationRules);
      replace(se, one.serviceEntries);
      Map<String, AuthorizationPolicy> a = new LinkedHashMap<>();
      one.authorizationPolicies.forEach(p -> a.put(key(p.scope(), p.name()), p));
      replace(authz, a);
      Map<String, PeerAuthentication> pa = new LinkedHashMap<>();
      one.peerAuthentications.forEach(p -> pa.put(peerKey(p), p));
      replace(peers, pa);
      Map<String, RequestAuthentication> ra = new LinkedHashMap<>();
      one.requestAuthentications.forEach(p -> ra.put(key(p.scope(), p.name()), p));
      replace(requests, ra);
    }
    List<String> origins = new ArrayList<>();
    for (VirtualService v : new java.util.LinkedHashSet<>(vs.values())) {
      origins.add(v.origin());
    }
    delegates.values().forEach(v -> origins.add(v.origin()));
    dr.values().forEach(r -> origins.add(r.origin()));
    se.values().forEach(e -> origins.add(e.origin()));
    authz.values().forEach(a -> origins.add(a.origin()));
    peers.values().forEach(p -> origins.add(p.origin()));
    requests.values().forEach(r -> origins.add(r.origin()));
    PolicySet set = new PolicySet(client, vs, delegates, dr, se, authz, peers, requests, origins);
    set.validate(knownService);
    return set;
  }

  private static String nsOf(String ns, Client client) {
    return ns == null ? client.namespace() : ns;
  }

  private static PolicySet parseOne(List<ConfigNode> docs, Client client) {
    PolicyParser parser = new PolicyParser(client.namespace());
    Map<String, VirtualService> vs = new LinkedHashMap<>();
    Map<String, VirtualService> delegates = new LinkedHashMap<>();
    Map<String, DestinationRule> dr = new LinkedHashMap<>();
    Map<String, ServiceEntry> se = new LinkedHashMap<>();
    Map<String, AuthorizationPolicy> authz = new LinkedHashMap<>();
    Map<String, PeerAuthentication> peers = new LinkedHashMap<>();
    Map<String, RequestAuthentication> requests = new LinkedHashMap<>();
    for (ConfigNode doc : docs) {
      PolicyParser.Document d;
      try {
        d = parser.parse(doc);
      } catch (MeshConfigException e) {
        throw e;
      } catch (RuntimeException | StackOverflowError e) {
        // a reader's bug must not pass for a crash of the caller's thread: it is a refused document
        throw new MeshConfigException(doc.source(), "", "cannot be read (" + e.getClass().getSimpleName() + ": "
            + e.getMessage() + ")", e);
      }
      if (d.authorizationPolicy() != null) {
        AuthorizationPolicy a = d.authorizationPolicy();
        AuthorizationPolicy prior = authz.putIfAbsent(key(a.scope(), a.name()), a);
        if (prior != null) {
          throw new MeshConfigException(a.origin(), "metadata.name",
              "AuthorizationPolicy " + ConfigNode.quote(a.name()) + " is defined twice (also " + prior.origin() + "); names must be unique in a namespace");
        }
      } else if (d.requestAuthentication() != null) {
        RequestAuthentication r = d.requestAuthentication();
        RequestAuthentication prior = requests.putIfAbsent(key(r.scope(), r.name()), r);
        if (prior != null) {
          throw new MeshConfigException(r.origin(), "metadata.name",
              "RequestAuthentication " + ConfigNode.quote(r.name()) + " is defined twice (also " + prior.origin() + "); names must be unique in a namespace");
        }
      } else if (d.peerAuthentication() != null) {
        PeerAuthentication pa = d.peerAuthentication();
        PeerAuthentication prior = peers.putIfAbsent(peerKey(pa), pa);
        if (prior != null) {
          throw new MeshConfigException(pa.origin(), pa.scope().selects() ? "metadata.name" : "kind", pa.scope().selects()
              ? "PeerAuthentication " + ConfigNode.quote(pa.name()) + " is defined twice (also " + prior.origin() + ")"
              : "this namespace already has a PeerAuthentication without a selector (" + prior.origin()
                  + "); a namespace (or, in the root namespace, the mesh) has one; select workloads with selector.matchLabels");
        }
      } else if (d.virtualService() != null) {
        VirtualService v = d.virtualService();
        String ns = nsOf(v.namespace(), client);
        if (v.hosts().isEmpty()) {
          VirtualService prior = delegates.putIfAbsent(ns + "/" + v.name(), v);
          if (prior != null) {
            throw new MeshConfigException(v.origin(), "metadata.name", "VirtualService " + ConfigNode.quote(v.name())
                + " is defined twice in namespace " + ConfigNode.quote(ns) + " (also " + prior.origin() + ")");
          }
        }
        for (String host : v.hosts()) {
          VirtualService prior = vs.putIfAbsent(ns + "/" + host, v);
          if (prior != null) {
            throw new MeshConfigException(v.origin(), "spec.hosts",
                "host " + ConfigNode.quote(host) + " already has a VirtualService in namespace " + ConfigNode.quote(ns)
                    + " (" + prior.origin() + "); one VirtualService per host and namespace");
          }
        }
      } else if (d.serviceEntry() != null) {
        ServiceEntry e = d.serviceEntry();
        ServiceEntry prior = se.putIfAbsent(nsOf(e.namespace(), client) + "/" + e.name(), e);
        if (prior != null) {
          throw new MeshConfigException(e.origin(), "metadata.name", "ServiceEntry " + ConfigNode.quote(e.name())
              + " is defined twice (also " + prior.origin() + "); names must be unique in a namespace");
        }
      } else {
        DestinationRule r = d.destinationRule();
        String ns = nsOf(r.namespace(), client);
        DestinationRule prior = dr.putIfAbsent(ns + "/" + r.host(), r);
        if (prior != null) {
          throw new MeshConfigException(r.origin(), "spec.host",
              "host " + ConfigNode.quote(r.host()) + " already has a DestinationRule in namespace " + ConfigNode.quote(ns)
                  + " (" + prior.origin() + "); one DestinationRule per host and namespace");
        }
      }
    }
    return new PolicySet(client, vs, delegates, dr, se, authz, peers, requests, List.of());
  }

  // ---- visibility and lookup -----------------------------------------------------------

  /** Whether a document is exported to the client's namespace ({@code .} was resolved when it was read). */
  private boolean visible(String docNamespace, Set<String> exportTo) {
    return exportTo.contains("*") || exportTo.contains(client.namespace());
  }

  /** Rank of a document's namespace for a host: the client's 0, the host's 1, the root's 2, any other 3. */
  private int namespaceRank(String docNamespace, String host) {
    String ns = nsOf(docNamespace, client);
    if (ns.equals(client.namespace())) {
      return 0;
    }
    if (ns.equals(hostNamespace(host))) {
      return 1;
    }
    return ns.equals(client.rootNamespace()) ? 2 : 3;
  }

  /** The namespace a host belongs to: its cluster namespace, or that of the ServiceEntry declaring it. */
  private String hostNamespace(String host) {
    String ns = Hosts.namespaceOf(host);
    if (ns != null) {
      return ns;
    }
    ServiceEntry e = serviceEntry(host).orElse(null);
    return e == null ? null : nsOf(e.namespace(), client);
  }

  /**
   * The VirtualService that applies to calls to {@code host} (in full), its delegates' routes
   * merged in; empty when none applies.
   */
  public Optional<VirtualService> virtualService(String host) {
    return resolved.computeIfAbsent(host, h -> Optional.ofNullable(findVirtualService(h)).map(this::mergeDelegates));
  }

  private VirtualService findVirtualService(String host) {
    VirtualService best = null;
    int bestSpec = -1;
    int bestRank = Integer.MAX_VALUE;
    for (VirtualService v : virtualServices.values()) {
      if (!v.mesh() || !visible(v.namespace(), v.exportTo())) {
        continue;
      }
      for (String pattern : v.hosts()) {
        if (!Hosts.covers(pattern, host)) {
          continue;
        }
        int spec = Hosts.specificity(pattern);
        int rank = namespaceRank(v.namespace(), host);
        if (spec > bestSpec || (spec == bestSpec && rank < bestRank)) {
          best = v;
          bestSpec = spec;
          bestRank = rank;
        }
      }
    }
    return best;
  }

  /** The VirtualService with each delegating route replaced by its delegate's routes (Istio merges them). */
  private VirtualService mergeDelegates(VirtualService v) {
    if (v.http().stream().noneMatch(r -> r.delegate() != null)) {
      return v;
    }
    List<HttpRoute> routes = new ArrayList<>();
    for (HttpRoute root : v.http()) {
      if (root.delegate() == null) {
        routes.add(root);
        continue;
      }
      VirtualService d = delegates.get(nsOf(root.delegate().namespace(), client) + "/" + root.delegate().name());
      for (HttpRoute child : d.http()) {
        HttpRoute merged = Delegation.merge(root, child);
        if (merged != null) {
          routes.add(merged);
        }
      }
    }
    return new VirtualService(v.name(), v.origin(), v.namespace(), v.hosts(), v.mesh(), v.exportTo(), List.copyOf(routes));
  }

  /** Whether a DestinationRule's workloadSelector (if any) selects this client: same namespace, labels all present. */
  private boolean selects(DestinationRule r) {
    if (r.workloadSelector() == null) {
      return true;
    }
    if (!nsOf(r.namespace(), client).equals(client.namespace())) {
      return false; // "Workload selectors do not apply across namespace boundaries"
    }
    for (Map.Entry<String, String> e : r.workloadSelector().entrySet()) {
      if (!e.getValue().equals(client.labels().get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** The DestinationRule that applies to calls to {@code host} (in full), if any. */
  public Optional<DestinationRule> destinationRule(String host) {
    DestinationRule best = null;
    int bestRank = Integer.MAX_VALUE;
    int bestSpec = -1;
    for (DestinationRule r : destinationRules.values()) {
      if (!visible(r.namespace(), r.exportTo()) || !Hosts.covers(r.host(), host) || !selects(r)) {
        continue;
      }
      int rank = namespaceRank(r.namespace(), host);
      int spec = Hosts.specificity(r.host());
      if (rank < bestRank || (rank == bestRank && spec > bestSpec)) {
        best = r;
        bestRank = rank;
        bestSpec = spec;
      }
    }
    return Optional.ofNullable(best);
  }

  /** The ServiceEntry declaring {@code host} (in full) for this client, if any: an exact host before a wildcard. */
  public Optional<ServiceEntry> serviceEntry(String host) {
    ServiceEntry best = null;
    int bestSpec = -1;
    for (ServiceEntry e : serviceEntries.values()) {
      if (!visible(e.namespace(), e.exportTo())) {
        continue;
      }
      for (String pattern : e.hosts()) {
        if (Hosts.covers(pattern, host) && Hosts.specificity(pattern) > bestSpec) {
          best = e;
          bestSpec = Hosts.specificity(pattern);
        }
      }
      if (e.addresses().contains(host) && best == null) {
        best = e;
      }
    }
    return Optional.ofNullable(best);
  }

  /** How this set maps names and hosts for its client. */
  public Hosts hostNames() {
    return hosts;
  }

  /** The client this set is resolved for. */
  public Client client() {
    return client;
  }

  // ---- validation -----------------------------------------------------------------------

  private void validate(Predicate<String> knownService) {
    for (VirtualService v : virtualServices.values()) {
      for (HttpRoute r : v.http()) {
        if (r.delegate() != null) {
          String key = nsOf(r.delegate().namespace(), client) + "/" + r.delegate().name();
          VirtualService d = delegates.get(key);
          if (d == null) {
            throw r.where().get("delegate").error("delegate VirtualService " + ConfigNode.quote(key)
                + " is not defined" + (virtualServices.values().stream().anyMatch(o -> o.name().equals(r.delegate().name()))
                ? ": a VirtualService of that name has hosts, and a delegate must have none" : ""));
          }
          for (HttpRoute c : d.http()) {
            if (c.delegate() != null) {
              throw c.where().get("delegate").error("a delegate VirtualService cannot delegate again (" + v.origin()
                  + " delegates to it); Istio supports one level of delegation");
            }
          }
        }
      }
    }
    // references are checked for what applies to this client: the routes it may take
    for (VirtualService v : new java.util.LinkedHashSet<>(virtualServices.values())) {
      if (!v.mesh() || !visible(v.namespace(), v.exportTo())) {
        continue;
      }
      List<HttpRoute> routes = new ArrayList<>(v.http());
      for (HttpRoute r : v.http()) {
        if (r.delegate() != null) {
          routes.addAll(delegates.get(nsOf(r.delegate().namespace(), client) + "/" + r.delegate().name()).http());
        }
      }
      for (HttpRoute r : routes) {
        if (r.gatewayOnly()) {
          continue; // bound to gateways only: its destinations are the gateway's to resolve
        }
        for (Destination d : r.route()) {
          checkDestination(d, d.where().get("destination"), knownService);
        }
        for (Mirror m : r.mirrors()) {
          checkDestination(m.destination(), m.destination().where(), knownService);
        }
      }
    }
    for (DestinationRule r : destinationRules.values()) {
      if (!Hosts.isWildcard(r.host()) && visible(r.namespace(), r.exportTo()) && selects(r)
          && !known(r.host(), knownService)) {
        throw new MeshConfigException(r.origin(), "spec.host", "unknown service " + ConfigNode.quote(r.host())
            + ": the registry does not list " + ConfigNode.quote(hosts.registryName(r.host())) + " and no ServiceEntry declares it");
      }
    }
  }

  private void checkDestination(Destination d, ConfigNode where, Predicate<String> knownService) {
    if (!known(d.host(), knownService)) {
      throw where.get("host").error("unknown service " + ConfigNode.quote(d.host()) + ": the registry does not list "
          + ConfigNode.quote(hosts.registryName(d.host())) + " and no ServiceEntry declares it");
    }
    if (!d.subset().isEmpty()) {
      DestinationRule rule = destinationRule(d.host()).orElse(null);
      if (rule == null) {
        // Istio accepts a subset no DestinationRule defines (yet): calls routed to it fail, as Envoy's
        // missing cluster does, until a rule defines it; said once per policy set, not silently
        LOG.warn("{}: subset '{}' of {} is not defined by any DestinationRule in force here; calls routed to it"
            + " fail (no endpoints) until one defines it", where.source() + ", " + where.get("subset").path(), d.subset(), d.host());
      } else if (rule.subsets().stream().noneMatch(s -> s.name().equals(d.subset()))) {
        throw where.get("subset").error("subset '" + d.subset() + "' is not defined in " + rule.origin()
            + "; defined: " + rule.subsets().stream().map(Subset::name).toList());
      }
    }
  }

  /** Whether a host (in full) is a destination: a registry service or a ServiceEntry's host. */
  public boolean known(String host, Predicate<String> knownService) {
    return serviceEntry(host).isPresent() || knownService.test(hosts.registryName(host));
  }

  /** The AuthorizationPolicies in force, whichever service they select, in source order. */
  public List<AuthorizationPolicy> authorizationPolicies() {
    return authorizationPolicies;
  }

  /** The PeerAuthentications in force, whichever workloads they select, in source order. */
  public List<PeerAuthentication> peerAuthentications() {
    return peerAuthentications;
  }

  /** The RequestAuthentications in force, whichever workloads they select, in source order. */
  public List<RequestAuthentication> requestAuthentications() {
    return requestAuthentications;
  }

  /**
   * Every exact host a document in force for this client names, as VirtualService host, route or
   * mirror destination, DestinationRule host or ServiceEntry host (wildcards left out).
   */
  public Set<String> hosts() {
    Set<String> all = new TreeSet<>();
    for (VirtualService v : virtualServices.values()) {
      if (!v.mesh() || !visible(v.namespace(), v.exportTo())) {
        continue;
      }
      v.hosts().stream().filter(h -> !Hosts.isWildcard(h)).forEach(all::add);
    }
    for (String h : new ArrayList<>(all)) {
      virtualService(h).ifPresent(v -> {
        for (HttpRoute r : v.http()) {
          r.route().forEach(d -> all.add(d.host()));
          r.mirrors().forEach(m -> all.add(m.destination().host()));
        }
      });
    }
    for (DestinationRule r : destinationRules.values()) {
      if (!Hosts.isWildcard(r.host()) && visible(r.namespace(), r.exportTo())) {
        all.add(r.host());
      }
    }
    return all;
  }

  /** Where each document came from, in order; for the admin view and logs. */
  public List<String> origins() {
    return origins;
  }
}
