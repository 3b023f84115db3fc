package io.meshup.core;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Everything a {@link Mesh} has in force at one moment, as plain values: its policy sources and the
 * documents they hold, the compiled routes and subsets of every destination with their endpoints
 * (weights, peak-EWMA estimates, requests in flight, ejections) and breaker states, the registry's
 * health per destination, this workload's certificate and the mutual TLS mode. Taken by
 * {@link Mesh#snapshot()}; the admin endpoint serves it as {@code /config_dump}, and frameworks (an
 * Actuator endpoint, say) may serve {@link #toJson()} or the values their own way.
 *
 * <p>Immutable. Times are wall-clock instants; null where there is none (never accepted, not
 * ejected...). Field names are those of the JSON.
 *
 * @param service this service's name
 * @param takenAt when the snapshot was taken
 * @param ready true when every destination the mesh holds has had an answer from the registry
 *     (endpoints, or an error): {@code /ready}
 * @param mtls the mutual TLS in force
 * @param certificate this workload's certificate, or null when the mesh runs plaintext
 * @param policySources the policy sources, lowest precedence first
 * @param documents the policy documents in force, as {@code source: Kind name}, in order
 * @param destinations every destination the mesh holds state for, by name
 */
public record MeshSnapshot(String service, Instant takenAt, boolean ready, Mtls mtls, Certificate certificate,
    List<PolicySource> policySources, List<String> documents, List<Destination> destinations) {

  /** Copies the lists. */
  public MeshSnapshot {
    policySources = List.copyOf(policySources);
    documents = List.copyOf(documents);
    destinations = List.copyOf(destinations);
  }

  /**
   * The mutual TLS in force.
   *
   * @param mode what servers built without a mode accept ({@code mesh.tls.mode})
   * @param peerAuthentication the mode a PeerAuthentication in force sets, or null when none does
   */
  public record Mtls(String mode, String peerAuthentication) {}

  /**
   * This workload's current certificate.
   *
   * @param spiffeId its SPIFFE ID (URI SAN)
   * @param serial its serial number, in hex
   * @param notBefore start of validity
   * @param notAfter end of validity
   * @param trustBundle how many CA certificates it trusts
   */
  public record Certificate(String spiffeId, String serial, Instant notBefore, Instant notAfter, int trustBundle) {}

  /**
   * One policy source and what it last sent.
   *
   * @param name the source's name ({@code inline}, a file, {@code consul-kv}...)
   * @param documents how many documents of it are in force
   * @param lastAccepted when an update of it was last accepted, or null
   * @param lastRejected when an update of it was last rejected, or null
   * @param lastError the error of the last rejected update (naming file, document and field), or null
   */
  public record PolicySource(String name, int documents, Instant lastAccepted, Instant lastRejected,
      String lastError) {}

  /**
   * One destination service.
   *
   * @param service its name
   * @param registry the registry's health for it
   * @param routes its compiled routes, in match order
   * @param subsets its subsets ({@code all} first: every endpoint)
   */
  public record Destination(String service, Registry registry, List<Route> routes, List<Subset> subsets) {
    /** Copies the lists. */
    public Destination {
      routes = List.copyOf(routes);
      subsets = List.copyOf(subsets);
    }
  }

  /**
   * What the registry said of one destination.
   *
   * @param endpointsKnown true once it answered with endpoints (maybe none)
   * @param endpoints how many endpoints it reported last
   * @param errors how many times its watch failed so far
   * @param lastError the failure since its last answer (the last endpoints keep serving), or null
   * @param lastErrorAt when that failure happened, or null
   */
  public record Registry(boolean endpointsKnown, int endpoints, long errors, String lastError, Instant lastErrorAt) {}

  /**
   * One compiled route.
   *
   * @param name its name ({@code http[i]} when unnamed; the {@code route} tag of the meters)
   * @param matches how many match entries it has (0: it matches every request)
   * @param timeoutMillis its timeout, 0 for none
   * @param retryAttempts the retries it allows (0: none)
   * @param perTryTimeoutMillis its per-try timeout, 0 for none
   * @param targets its weighted destinations
   */
  public record Route(String name, int matches, long timeoutMillis, int retryAttempts, long perTryTimeoutMillis,
      List<WeightedTarget> targets) {
    /** Copies the list. */
    public Route {
      targets = List.copyOf(targets);
    }
  }

  /**
   * One weighted destination of a route.
   *
   * @param service the destination service
   * @param subset its subset, {@code all} for every endpoint
   * @param weight its weight
   */
  public record WeightedTarget(String service, String subset, int weight) {}

  /**
   * One destination subset.
   *
   * @param name its name, {@code all} for every endpoint of the service
   * @param labels the endpoint labels it selects
   * @param balancer its load balancer
   * @param breaker its circuit breaker's state ({@code closed}, {@code open}, {@code half_open}...), or
   *     {@code disabled}
   * @param breakerFailureRate the breaker's failure rate in percent over its window, or -1 while it
   *     has too few calls (or none)
   * @param inFlight logical calls holding one of its permits
   * @param endpoints its members
   */
  public record Subset(String name, Map<String, String> labels, String balancer, String breaker,
      float breakerFailureRate, int inFlight, List<EndpointView> endpoints) {
    /** Copies the collections. */
    public Subset {
      labels = Map.copyOf(labels);
      endpoints = List.copyOf(endpoints);
    }
  }

  /**
   * One endpoint as the balancer and outlier detection see it.
   *
   * @param id its id in the registry
   * @param address its {@code host:port}
   * @param labels its labels
   * @param weight its weight
   * @param ewmaMillis the peak-EWMA latency estimate, in milliseconds
   * @param inFlight attempts in flight on it
   * @param consecutiveFailures its current streak of failed attempts
   * @param ejected whether outlier detection ejected it
   * @param ejectedUntil when the ejection ends, or null
   * @param ejections how many times it was ejected (less one per successful probe)
   * @param connectivity what the transport last reported of its connection
   */
  public record EndpointView(String id, String address, Map<String, String> labels, int weight, double ewmaMillis,
      int inFlight, int consecutiveFailures, boolean ejected, Instant ejectedUntil, int ejections,
      String connectivity) {
    /** Copies the labels. */
    public EndpointView {
      labels = Map.copyOf(labels);
    }
  }

  /** The destination named {@code service}, if the mesh holds it. */
  public java.util.Optional<Destination> destination(String service) {
    return destinations.stream().filter(d -> d.service().equals(service)).findFirst();
  }

  /** The policy source named {@code name}, if there is one. */
  public java.util.Optional<PolicySource> policySource(String name) {
    return policySources.stream().filter(p -> p.name().equals(name)).findFirst();
  }

  /** This snapshot as a JSON object, with the field names of these records; {@code /config_dump} serves it. */
  public String toJson() {
    return io.meshup.core.internal.admin.Json.write(this);
  }
}
