package io.meshup.extauthz.internal;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.meshup.core.identity.WorkloadIdentity;
import io.meshup.core.route.InboundAuthorizer;
import io.meshup.core.spi.ExternalAuthorizer;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * An external authorizer reached over Envoy's {@code ext_authz} gRPC API: each check is one
 * asynchronous {@code envoy.service.auth.v3.Authorization/Check} call carrying what Envoy's
 * filter sends ({@code attributes.source} and {@code destination} with address, port and
 * principal, {@code request.http} with method, path and query, host, scheme, protocol and the
 * headers, pseudo-headers included), bounded by a gRPC deadline a little past the mesh's own
 * timeout (which decides first). An {@code OK} status allows
 * (its {@code ok_response} headers are set on the request and its {@code headers_to_remove}
 * removed); any other denies, with the {@code denied_response} status, body and headers. The
 * channel is plaintext. Thread-safe.
 */
final class GrpcExtAuthz implements ExternalAuthorizer {
  private final String name;
  private final ManagedChannel channel;
  private final AuthorizationGrpc.AuthorizationStub stub;
  private final Duration timeout;
  private static final long DEADLINE_MARGIN_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  GrpcExtAuthz(String name, String host, int port, Duration timeout) {
    this.name = name;
    this.timeout = timeout;
    this.channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
    this.stub = AuthorizationGrpc.newStub(channel);
  }

  @Override
  public CompletionStage<Answer> check(InboundAuthorizer.Request request) {
    CheckRequest check = CheckRequest.newBuilder().setAttributes(attributes(request)).build();
    CompletableFuture<Answer> answer = new CompletableFuture<>();
    // the mesh times the check itself and answers for it; the deadline, a little later, only frees the RPC
    stub.withDeadlineAfter(timeout.toNanos() + DEADLINE_MARGIN_NANOS, TimeUnit.NANOSECONDS).check(check, new StreamObserver<>() {
      @Override
      public void onNext(CheckResponse r) {
        answer.complete(answerOf(r));
      }

      @Override
      public void onError(Throwable t) {
        answer.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        answer.complete(null);
      }
    });
    return answer;
  }

  /** What Envoy's ext_authz filter tells of a request. */
  static AttributeContext attributes(InboundAuthorizer.Request r) {
    AttributeContext.HttpRequest.Builder http = AttributeContext.HttpRequest.newBuilder()
        .setMethod(r.method())
        .setPath(r.query() == null ? r.path() : r.path() + "?" + r.query())
        .setScheme(r.scheme())
        .setProtocol(r.protocol());
    String host = r.host();
    if (host != null) {
      http.setHost(host);
      http.putHeaders(":authority", host);
    }
    http.putHeaders(":method", r.method());
    http.putHeaders(":path", http.getPath());
    http.putHeaders(":scheme", r.scheme());
    for (String h : r.headerNames()) {
      String v = r.header(h);
      if (v != null && !h.startsWith(":")) {
        http.putHeaders(h.toLowerCase(Locale.ROOT), v);
      }
    }
    AttributeContext.Peer.Builder source = peer(r.sourceAddress(), r.sourcePort());
    WorkloadIdentity caller = r.caller();
    if (caller != null) {
      source.setPrincipal(caller.toString());
    }
    return AttributeContext.newBuilder()
        .setSource(source)
        .setDestination(peer(r.destinationAddress(), r.destinationPort()))
        .setRequest(AttributeContext.Request.newBuilder().setHttp(http))
        .build();
  }

  private static AttributeContext.Peer.Builder peer(InetAddress address, int port) {
    AttributeContext.Peer.Builder p = AttributeContext.Peer.newBuilder();
    if (address != null) {
      p.setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder()
          .setAddress(address.getHostAddress()).setPortValue(port)));
    }
    return p;
  }

  static Answer answerOf(CheckResponse r) {
    if (r.getStatus().getCode() == 0) {
      List<Map.Entry<String, String>> set = new ArrayList<>();
      for (HeaderValueOption h : r.getOkResponse().getHeadersList()) {
        set.add(Map.entry(h.getHeader().getKey().toLowerCase(Locale.ROOT), h.getHeader().getValue()));
      }
      List<String> remove = new ArrayList<>();
      for (String h : r.getOkResponse().getHeadersToRemoveList()) {
        remove.add(h.toLowerCase(Locale.ROOT));
      }
      return new Answer(true, 200, "", List.of(), set, remove);
    }
    int status = r.hasDeniedResponse() ? r.getDeniedResponse().getStatus().getCodeValue() : 403;
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    for (HeaderValueOption h : r.getDeniedResponse().getHeadersList()) {
      headers.add(Map.entry(h.getHeader().getKey().toLowerCase(Locale.ROOT), h.getHeader().getValue()));
    }
    return new Answer(false, status == 0 ? 403 : status, r.getDeniedResponse().getBody(), headers, List.of(), List.of());
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }

  @Override
  public String toString() {
    return "ext_authz " + name;
  }
}
