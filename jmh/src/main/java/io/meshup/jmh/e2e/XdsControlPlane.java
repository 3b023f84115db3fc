package io.meshup.jmh.e2e;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real xDS server (Envoy's java-control-plane, aggregated discovery over gRPC) for the
 * benchmark's proxyless peer, grpc-java's xDS client: the same policy as MeshUp's
 * ({@link Clients#POLICY}) in xDS terms. A listener named after the service whose
 * HttpConnectionManager routes every call 80/20 over two weighted clusters, {@code v1} (instances 0
 * and 1) and {@code v2} (the rest), each an EDS cluster with round robin, outlier detection of 5
 * consecutive 5xx (interval 1 s, 30 s ejection; gRFC A50) and a circuit breaker on concurrent
 * requests (the only one grpc-java honours, gRFC A32; Resilience4j's failure-rate breaker has no
 * xDS counterpart). Runs in the servers' JVM, so its CPU is not the client's.
 */
final class XdsControlPlane implements AutoCloseable {
  static final String GROUP = "bench";
  /** grpc-java's circuit breaker default, kept explicit: concurrent requests per cluster. */
  static final int MAX_REQUESTS = 1024;

  private final Server server;

  private XdsControlPlane(Server server) {
    this.server = server;
  }

  /** Starts the xDS server on a free loopback port, serving the policy for {@code service} over {@code ports}. */
  static XdsControlPlane start(String service, int[] ports, int v1Weight) throws IOException {
    SimpleCache<String> cache = new SimpleCache<>(node -> GROUP);
    cache.setSnapshot(GROUP, snapshot(service, ports, v1Weight));
    V3DiscoveryServer discovery = new V3DiscoveryServer(cache);
    Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(discovery.getAggregatedDiscoveryServiceImpl())
        .build().start();
    return new XdsControlPlane(s);
  }

  int port() {
    return server.getPort();
  }

  static Snapshot snapshot(String service, int[] ports, int v1Weight) {
    List<int[]> split = List.of(new int[] {0, Math.min(2, ports.length)}, new int[] {Math.min(2, ports.length), ports.length});
    String[] names = {"v1", "v2"};
    List<Cluster> clusters = new ArrayList<>();
    List<ClusterLoadAssignment> assignments = new ArrayList<>();
    for (int c = 0; c < 2; c++) {
      String name = service + "-" + names[c];
      clusters.add(Cluster.newBuilder()
          .setName(name)
          .setType(Cluster.DiscoveryType.EDS)
          .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ads()))
          .setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN)
          .setConnectTimeout(Duration.newBuilder().setSeconds(5))
          .setOutlierDetection(OutlierDetection.newBuilder()
              .setConsecutive5Xx(UInt32Value.of(5))
              .setInterval(Duration.newBuilder().setSeconds(1))
              .setBaseEjectionTime(Duration.newBuilder().setSeconds(30)))
          .setCircuitBreakers(CircuitBreakers.newBuilder()
              .addThresholds(CircuitBreakers.Thresholds.newBuilder().setMaxRequests(UInt32Value.of(MAX_REQUESTS))))
          .build());
      // grpc-java ignores a locality without a weight (Envoy only weighs localities when asked)
      LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder()
          .setLocality(io.envoyproxy.envoy.config.core.v3.Locality.newBuilder().setZone("local"))
          .setLoadBalancingWeight(UInt32Value.of(1));
      for (int i = split.get(c)[0]; i < split.get(c)[1]; i++) {
        locality.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(
            io.envoyproxy.envoy.config.endpoint.v3.Endpoint.newBuilder().setAddress(Address.newBuilder()
                .setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.0.1").setPortValue(ports[i])))));
      }
      assignments.add(ClusterLoadAssignment.newBuilder().setClusterName(name).addEndpoints(locality).build());
    }
    RouteConfiguration routes = RouteConfiguration.newBuilder()
        .setName(service + "-routes")
        .addVirtualHosts(VirtualHost.newBuilder()
            .setName(service)
            .addDomains("*")
            .addRoutes(Route.newBuilder()
                .setMatch(RouteMatch.newBuilder().setPrefix(""))
                .setRoute(RouteAction.newBuilder().setWeightedClusters(WeightedCluster.newBuilder()
                    .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(service + "-v1")
                        .setWeight(UInt32Value.of(v1Weight)))
                    .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(service + "-v2")
                        .setWeight(UInt32Value.of(100 - v1Weight)))))))
        .build();
    HttpConnectionManager hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix(service)
        .setRds(io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds.newBuilder()
            .setConfigSource(ads()).setRouteConfigName(routes.getName()))
        .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router")
            .setTypedConfig(Any.pack(Router.getDefaultInstance())))
        .build();
    Listener listener = Listener.newBuilder()
        .setName(service)
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm)))
        .build();
    return Snapshot.create(clusters, assignments, List.of(listener), List.of(routes), List.of(), "1");
  }

  private static ConfigSource ads() {
    return ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance())
        .setResourceApiVersion(io.envoyproxy.envoy.config.core.v3.ApiVersion.V3).build();
  }

  /**
   * Writes grpc-java's xDS bootstrap for a client of the server on {@code port} (plaintext, xDS v3,
   * node id {@code nodeId}) and returns its path; a client JVM names it in {@code GRPC_XDS_BOOTSTRAP}
   * or {@code -Dio.grpc.xds.bootstrap}.
   */
  static Path writeBootstrap(Path dir, int port, String nodeId) throws IOException {
    Path f = dir.resolve("xds-bootstrap.json");
    Files.writeString(f, """
        {
          "xds_servers": [
            { "server_uri": "127.0.0.1:%d", "channel_creds": [ { "type": "insecure" } ], "server_features": [ "xds_v3" ] }
          ],
          "node": { "id": "%s", "cluster": "bench", "locality": { "zone": "local" } }
        }
        """.formatted(port, nodeId));
    return f;
  }

  @Override
  public void close() {
    server.shutdownNow();
  }
}
