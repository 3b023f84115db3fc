package io.meshup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import io.meshup.core.Mesh;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/**
 * The inbound side of a Spring application: Spring MVC requests and calls to the gRPC server the
 * starter makes of the BindableService beans are authorized against the policy in force before a
 * handler runs, on real Tomcat and Netty servers on loopback. The path authorized is the path the
 * handler sees.
 */
@SpringBootTest(classes = InboundAuthorizationTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=inbound", "server.address=127.0.0.1", "meshup.grpc.server.port=0",
        "meshup.grpc.server.address=127.0.0.1"})
class InboundAuthorizationTest {
  @RestController
  static class Items {
    @GetMapping({"/items/{id}", "/admin/{id}", "/public/{id}"})
    String get(@PathVariable String id, HttpServletRequest request) {
      return "GET " + request.getRequestURI() + " id=" + id;
    }

    @DeleteMapping("/items/{id}")
    String delete(@PathVariable String id) {
      return "deleted " + id;
    }
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class App {
    @Bean
    Items items() {
      return new Items();
    }

    @Bean
    SimpleServiceGrpc.SimpleServiceImplBase simple() {
      return new SimpleServiceGrpc.SimpleServiceImplBase() {
        @Override
        public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
          out.onNext(SimpleResponse.newBuilder().setResponseMessage("inventory").build());
          out.onCompleted();
        }

        @Override
        public void serverStreamingRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
          out.onNext(SimpleResponse.newBuilder().setResponseMessage("stream").build());
          out.onCompleted();
        }
      };
    }
  }

  @LocalServerPort int port;
  @Autowired MeshGrpcServer grpcServer;
  @Autowired Mesh mesh;
  @Autowired MeterRegistry meters;
  final HttpClient http = HttpClient.newHttpClient();
  ManagedChannel channel;

  @BeforeEach
  void channel() {
    channel = NettyChannelBuilder.forAddress("127.0.0.1", grpcServer.port()).usePlaintext().build();
  }

  @AfterEach
  void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  HttpResponse<String> send(String method, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void allowedRequestsReachTheirHandler() throws Exception {
    HttpResponse<String> r = send("GET", "/items/42");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("GET /items/42 id=42");
  }

  @Test
  void aDeniedRequestIsAnsweredBeforeAnyHandler() throws Exception {
    HttpResponse<String> r = send("DELETE", "/items/42");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("meshup: denied by AuthorizationPolicy inventory-guard rules[0]\n");
    assertThat(r.headers().firstValue("x-meshup-authz-policy")).hasValue("inventory-guard");
    assertThat(r.headers().firstValue("x-meshup-authz-rule")).hasValue("rules[0]");
    assertThat(meters.find("mesh.authz.denials").tag("policy", "inventory-guard").tag("rule", "rules[0]").counter().count())
        .isPositive();   // one counter per rule, registered when the policy is compiled
    // the filter times the request once the answer is written, which the client may read first
    org.awaitility.Awaitility.await().untilAsserted(() -> assertThat(
        meters.find("mesh.server.requests").tag("protocol", "http").tag("status", "4xx").timer().count()).isPositive());
  }

  @Test
  void thePathAuthorizedIsThePathTheHandlerSees() throws Exception {
    HttpResponse<String> climbed = send("GET", "/public/../admin/x");
    assertThat(climbed.statusCode()).isEqualTo(403);
    assertThat(climbed.body()).contains("denied by AuthorizationPolicy inventory-guard rules[1]");

    HttpResponse<String> decoded = send("GET", "/public/%61dmin/../%41");
    assertThat(decoded.statusCode()).isEqualTo(200);
    assertThat(decoded.body()).isEqualTo("GET /public/A id=A");

    HttpResponse<String> encodedAdmin = send("GET", "/%61dmin/x");
    assertThat(encodedAdmin.statusCode()).isEqualTo(403);
  }

  @Test
  void whatTheContainerWouldDropFromThePathIsRefused() throws Exception {
    HttpResponse<String> parameter = send("GET", "/admin;x=1/y");
    assertThat(parameter.statusCode()).isEqualTo(400);
    assertThat(parameter.body()).startsWith("meshup: path parameters (';') are refused");
    HttpResponse<String> empty = send("GET", "//admin/x");
    assertThat(empty.statusCode()).isEqualTo(400);
    HttpResponse<String> lower = send("delete", "/items/42");
    assertThat(lower.statusCode()).isEqualTo(400);
    assertThat(meters.find("mesh.server.requests.rejected").tag("reason", "path_parameter").counter().count()).isPositive();
    assertThat(meters.find("mesh.server.requests.rejected").tag("reason", "method_case").counter().count()).isPositive();
  }

  @Test
  void grpcCallsAreAuthorizedBeforeTheHandler() {
    SimpleServiceGrpc.SimpleServiceBlockingStub stub = SimpleServiceGrpc.newBlockingStub(channel);
    SimpleRequest hi = SimpleRequest.newBuilder().setRequestMessage("hi").build();
    assertThat(stub.unaryRpc(hi).getResponseMessage()).isEqualTo("inventory");
    assertThatThrownBy(() -> stub.serverStreamingRpc(hi).next())
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
          assertThat(e.getStatus().getDescription()).contains("AuthorizationPolicy inventory-guard rules[2]");
        });
  }

  @Test
  void aPolicyUpdateAppliesToTheNextRequest() throws Exception {
    assertThat(send("GET", "/items/7").statusCode()).isEqualTo(200);
    mesh.updatePolicies("ops", """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: freeze }
        spec:
          action: DENY
          rules: [{ to: [{ operation: { paths: ["/items/7"] } }] }]
        """);
    try {
      HttpResponse<String> r = send("GET", "/items/7");
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(r.body()).contains("AuthorizationPolicy freeze rules[0]");
    } finally {
      mesh.updatePolicies("ops", "");
    }
    assertThat(send("GET", "/items/7").statusCode()).isEqualTo(200);
  }
}
