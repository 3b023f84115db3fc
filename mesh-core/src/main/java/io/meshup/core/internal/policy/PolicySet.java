package io.meshup.core.internal.policy;

import io.meshup.core.MeshConfigException;
import io.meshup.core.internal.config.ConfigNode;
import io.meshup.core.internal.policy.PolicyModel.AuthorizationPolicy;
import io.meshup.core.internal.policy.PolicyModel.Destination;
import io.meshup.core.internal.policy.PolicyModel.DestinationRule;
import io.meshup.core.internal.policy.PolicyModel.HttpRoute;
import io.meshup.core.internal.policy.PolicyModel.PeerAuthentication;
import io.meshup.core.internal.policy.PolicyModel.RequestAuthentication;
import io.meshup.core.internal.policy.PolicyModel.Subset;
import io.meshup.core.internal.policy.PolicyModel.VirtualService;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A whole, validated set of policy documents, indexed by destination host. Immutable; built only
 * through {@link #of}, which checks every cross reference, so a set that exists is a set that
 * compiles.
 */
public final class PolicySet {
  /** No documents at all: every service routes to all its endpoints with the defaults. */
  public static final PolicySet EMPTY = new PolicySet(Map.of(), Map.of(), Map.of(), Map.of(), Map.of(), List.of());

  private final Map<String, VirtualService> virtualServices;
  private final Map<String, DestinationRule> destinationRules;
  private final List<AuthorizationPolicy> authorizationPolicies;
  private final List<PeerAuthentication> peerAuthentications;
  private final List<RequestAuthentication> requestAuthentications;
  private final List<String> origins;

  private PolicySet(Map<String, VirtualService> vs, Map<String, DestinationRule> dr,
      Map<String, AuthorizationPolicy> authz, Map<String, PeerAuthentication> peers,
      Map<String, RequestAuthentication> requests, List<String> origins) {
    this.virtualServices = Map.copyOf(vs);
    this.destinationRules = Map.copyOf(dr);
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

  /**
   * Parses and validates the documents of several sources as one unit. Within a source, two
   * documents of a kind for one host are an error; across sources, the later source's document
   * for a host replaces the earlier one's. Security documents are keyed by namespace and name the
   * same way; a PeerAuthentication without a selector by its namespace alone (one per namespace,
   * as Istio has it).
   *
   * @param sources the sources, in precedence order, lowest first
   * @param knownService tells whether a destination host exists; with a static registry only the
   *     listed services do, with a dynamic one every name may
   * @throws MeshConfigException naming the document, the field and the problem
   */
  public static PolicySet of(List<Source> sources, Predicate<String> knownService) {
    Map<String, VirtualService> vs = new LinkedHashMap<>();
    Map<String, DestinationRule> dr = new LinkedHashMap<>();
    Map<String, AuthorizationPolicy> authz = new LinkedHashMap<>();
    Map<String, PeerAuthentication> peers = new LinkedHashMap<>();
    Map<String, RequestAuthentication> requests = new LinkedHashMap<>();
    for (Source source : sources) {
      PolicySet one = parseOne(source.docs());
      vs.putAll(one.virtualServices);
      dr.putAll(one.destinationRules);
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
    for (DestinationRule r : dr.values()) {
      origins.add(r.origin());
    }
    for (AuthorizationPolicy a : authz.values()) {
      origins.add(a.origin());
    }
    for (PeerAuthentication p : peers.values()) {
      origins.add(p.origin());
    }
    for (RequestAuthentication r : requests.values()) {
      origins.add(r.origin());
    }
    validate(vs, dr, knownService);
    return new PolicySet(vs, dr, authz, peers, requests, origins);
  }

  private static PolicySet parseOne(List<ConfigNode> docs) {
    PolicyParser parser = new PolicyParser();
    Map<String, VirtualService> vs = new LinkedHashMap<>();
    Map<String, DestinationRule> dr = new LinkedHashMap<>();
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
        for (String host : v.hosts()) {
          VirtualService prior = vs.putIfAbsent(host, v);
          if (prior != null) {
            throw new MeshConfigException(v.origin(), "spec.hosts",
                "host " + ConfigNode.quote(host) + " already has a VirtualService (" + prior.origin() + "); one VirtualService per host");
          }
        }
      } else {
        DestinationRule r = d.destinationRule();
        DestinationRule prior = dr.putIfAbsent(r.host(), r);
        if (prior != null) {
          throw new MeshConfigException(r.origin(), "spec.host",
              "host " + ConfigNode.quote(r.host()) + " already has a DestinationRule (" + prior.origin() + "); one DestinationRule per host");
        }
      }
    }
    return new PolicySet(vs, dr, authz, peers, requests, List.of());
  }

  private static void validate(Map<String, VirtualService> vs, Map<String, DestinationRule> dr,
      Predicate<String> knownService) {
    for (VirtualService v : vs.values()) {
      // a VirtualService's hosts may be names of its own (myapp.com routing to myapp-v1 and
      // myapp-v2); what it routes to must exist
      for (HttpRoute r : v.http()) {
        for (Destination d : r.route()) {
          ConfigNode host = d.where().get("destination").get("host");
          if (!knownService.test(d.host())) {
            throw host.error("unknown service " + ConfigNode.quote(d.host()) + ": the registry does not list it");
          }
          if (!d.subset().isEmpty()) {
            DestinationRule rule = dr.get(d.host());
            if (rule == null || rule.subsets().stream().noneMatch(s -> s.name().equals(d.subset()))) {
              throw d.where().get("destination").get("subset").error("subset '" + d.subset()
                  + "' is not defined" + (rule == null ? ": no DestinationRule for host " + ConfigNode.quote(d.host()) + ""
                  : " in " + rule.origin() + "; defined: " + rule.subsets().stream().map(Subset::name).toList()));
            }
          }
        }
      }
    }
    for (DestinationRule r : dr.values()) {
      if (!knownService.test(r.host())) {
        throw new MeshConfigException(r.origin(), "spec.host", "unknown service " + ConfigNode.quote(r.host()) + ": the registry does not list it");
      }
    }
  }

  public Optional<VirtualService> virtualService(String host) {
    return Optional.ofNullable(virtualServices.get(host));
  }

  public Optional<DestinationRule> destinationRule(String host) {
    return Optional.ofNullable(destinationRules.get(host));
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

  /** Every host any document names, as VirtualService host, route destination or DestinationRule host. */
  public Set<String> hosts() {
    java.util.Set<String> all = new java.util.TreeSet<>(virtualServices.keySet());
    all.addAll(destinationRules.keySet());
    for (VirtualService v : virtualServices.values()) {
      for (HttpRoute r : v.http()) {
        for (Destination d : r.route()) {
          all.add(d.host());
        }
      }
    }
    return all;
  }

  /** Where each document came from, in order; for the admin view and logs. */
  public List<String> origins() {
    return origins;
  }
}
