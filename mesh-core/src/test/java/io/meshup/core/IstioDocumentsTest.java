package io.meshup.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Examples from Istio's documentation, with only supported fields, load unchanged. */
class IstioDocumentsTest {
  @Test
  void loadsIstioDocumentationExamplesUnchanged() {
    String docs = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews-route
        spec:
          hosts:
          - reviews.prod.svc.cluster.local
          http:
          - name: "reviews-v2-routes"
            match:
            - uri:
                prefix: "/wpcatalog"
            - uri:
                prefix: "/consumercatalog"
            route:
            - destination:
                host: reviews.prod.svc.cluster.local
                subset: v2
          - name: "reviews-v1-route"
            route:
            - destination:
                host: reviews.prod.svc.cluster.local
                subset: v1
            retries:
              attempts: 3
              perTryTimeout: 2s
              retryOn: gateway-error,connect-failure,refused-stream
            timeout: 10s
            fault:
              delay:
                percentage:
                  value: 0.1
                fixedDelay: 5s
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews-destination
        spec:
          host: reviews.prod.svc.cluster.local
          trafficPolicy:
            connectionPool:
              tcp:
                maxConnections: 100
                connectTimeout: 30ms
                tcpKeepalive:
                  time: 7200s
                  interval: 75s
              http:
                http2MaxRequests: 1000
                maxRequestsPerConnection: 10
            outlierDetection:
              consecutive5xxErrors: 7
              interval: 5m
              baseEjectionTime: 15m
          subsets:
          - name: v1
            labels:
              version: v1
          - name: v2
            labels:
              version: v2
            trafficPolicy:
              loadBalancer:
                simple: ROUND_ROBIN
        """;
    try (Mesh mesh = Mesh.builder().service("productpage").namespace("prod")
        .endpoints("reviews", List.of(Endpoint.of("127.0.0.1", 9080, Map.of("version", "v1"))))
        .policies("istio-docs.yaml", docs).build()) {
      assertThat(mesh.policyOrigins()).containsExactly("istio-docs.yaml: VirtualService reviews-route",
          "istio-docs.yaml: DestinationRule reviews-destination");
      assertThat(mesh.runtimeOf("reviews").subset("v2")).isPresent();
    }
  }
}
