package io.meshup.core.internal.routing;

import io.meshup.core.Endpoint;
import io.meshup.core.internal.policy.PolicyModel.ServiceEntry;
import io.meshup.core.internal.policy.PolicyModel.ServicePort;
import io.meshup.core.internal.policy.PolicyParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The endpoints a ServiceEntry gives a host. MeshUp sends HTTP and gRPC, so a host is reached on
 * the entry's first port of protocol HTTP, HTTP2, GRPC or GRPC-WEB (an entry without such a port
 * gives no endpoints: its TCP, TLS or HTTPS ports carry traffic MeshUp does not send). With
 * {@code resolution: STATIC} or endpoints listed, those endpoints on that port; with
 * {@code DNS} or {@code NONE} and none listed, the host itself (the name the call addressed,
 * resolved by the transport when it connects). Stateless.
 */
final class ServiceEntries {
  static final Set<String> HTTP_PROTOCOLS = Set.of("HTTP", "HTTP2", "GRPC", "GRPC-WEB");

  private ServiceEntries() {}

  /** The port calls to this entry use, or null when it has none MeshUp can send to. */
  static ServicePort port(ServiceEntry e) {
    for (ServicePort p : e.ports()) {
      if (HTTP_PROTOCOLS.contains(p.protocol())) {
        return p;
      }
    }
    return null;
  }

  static List<Endpoint> endpoints(ServiceEntry e, String host) {
    ServicePort port = port(e);
    if (port == null) {
      return List.of();
    }
    List<Endpoint> out = new ArrayList<>();
    if (e.endpoints().isEmpty()) {
      int target = port.targetPort() > 0 ? port.targetPort() : port.number();
      out.add(new Endpoint(host + ":" + target, host, target, Map.of(), 1));
      return out;
    }
    String number = Integer.toString(port.number());
    for (Endpoint ep : e.endpoints()) {
      if (number.equals(ep.labels().get(PolicyParser.PORT_LABEL))) {
        out.add(ep);
      }
    }
    return out;
  }
}
