package io.meshup.http.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.route.Outcome;
import io.meshup.core.route.RetryPolicy;
import io.meshup.http.internal.HttpOutcomes.Failure;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The status, outcome and retry rules, one by one. */
class HttpOutcomesTest {
  static RetryPolicy on(String... conditions) {
    return new RetryPolicy(2, 0, Set.of(conditions));
  }

  @Test
  void statusesMapToOutcomes() {
    assertThat(HttpOutcomes.ofStatus(200)).isEqualTo(Outcome.SUCCESS);
    assertThat(HttpOutcomes.ofStatus(204)).isEqualTo(Outcome.SUCCESS);
    assertThat(HttpOutcomes.ofStatus(304)).isEqualTo(Outcome.SUCCESS);
    assertThat(HttpOutcomes.ofStatus(400)).isEqualTo(Outcome.CLIENT_ERROR);
    assertThat(HttpOutcomes.ofStatus(409)).isEqualTo(Outcome.CLIENT_ERROR);
    assertThat(HttpOutcomes.ofStatus(429)).isEqualTo(Outcome.OVERLOAD);
    assertThat(HttpOutcomes.ofStatus(500)).isEqualTo(Outcome.FAILURE);
    assertThat(HttpOutcomes.ofStatus(503)).isEqualTo(Outcome.FAILURE);
  }

  @Test
  void failuresAreClassifiedByWhetherTheRequestLeft() {
    assertThat(HttpOutcomes.classify(new ConnectException())).isEqualTo(Failure.NOT_SENT);
    assertThat(HttpOutcomes.classify(new IOException("wrapped", new ConnectException()))).isEqualTo(Failure.NOT_SENT);
    assertThat(HttpOutcomes.classify(new HttpConnectTimeoutException("connect"))).isEqualTo(Failure.NOT_SENT);
    assertThat(HttpOutcomes.classify(new HttpTimeoutException("request"))).isEqualTo(Failure.TIMEOUT);
    assertThat(HttpOutcomes.classify(new IOException("Connection reset"))).isEqualTo(Failure.RESET);
    assertThat(HttpOutcomes.classify(new CancellationException())).isEqualTo(Failure.CANCELLED);
    assertThat(HttpOutcomes.classify(new IllegalStateException())).isEqualTo(Failure.OTHER);
    assertThat(HttpOutcomes.unwrap(new CompletionException(new ConnectException()))).isInstanceOf(ConnectException.class);
    assertThat(HttpOutcomes.ofFailure(Failure.NOT_SENT)).isEqualTo(Outcome.FAILURE);
    assertThat(HttpOutcomes.ofFailure(Failure.RESET)).isEqualTo(Outcome.FAILURE);
    assertThat(HttpOutcomes.ofFailure(Failure.TIMEOUT)).isEqualTo(Outcome.TIMEOUT);
    assertThat(HttpOutcomes.ofFailure(Failure.CANCELLED)).isEqualTo(Outcome.CANCELLED);
  }

  @Test
  void onlyIdempotentMethodsAreIdempotent() {
    for (String m : new String[] {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}) {
      assertThat(HttpOutcomes.idempotent(m)).as(m).isTrue();
    }
    for (String m : new String[] {"POST", "PATCH", "CONNECT", "PROPFIND"}) {
      assertThat(HttpOutcomes.idempotent(m)).as(m).isFalse();
    }
  }

  @Test
  void statusRetriesFollowEnvoysConditions() {
    assertThat(HttpOutcomes.retriableStatus(503, on("5xx"))).isTrue();
    assertThat(HttpOutcomes.retriableStatus(500, on("5xx"))).isTrue();
    assertThat(HttpOutcomes.retriableStatus(502, on("gateway-error"))).isTrue();
    assertThat(HttpOutcomes.retriableStatus(504, on("gateway-error"))).isTrue();
    assertThat(HttpOutcomes.retriableStatus(500, on("gateway-error"))).isFalse();
    assertThat(HttpOutcomes.retriableStatus(409, on("retriable-4xx"))).isTrue();
    assertThat(HttpOutcomes.retriableStatus(409, on("5xx"))).isFalse();
    assertThat(HttpOutcomes.retriableStatus(429, on("5xx", "gateway-error", "retriable-4xx", "resource-exhausted"))).isFalse();
    assertThat(HttpOutcomes.retriableStatus(503, on("unavailable", "connect-failure", "reset"))).as("gRPC and connection conditions").isFalse();
  }

  @Test
  void failureRetriesFollowEnvoysConditions() {
    assertThat(HttpOutcomes.retriableFailure(Failure.NOT_SENT, on("connect-failure"))).isTrue();
    assertThat(HttpOutcomes.retriableFailure(Failure.NOT_SENT, on("5xx"))).isTrue();
    assertThat(HttpOutcomes.retriableFailure(Failure.NOT_SENT, on("refused-stream"))).isFalse();
    assertThat(HttpOutcomes.retriableFailure(Failure.RESET, on("reset"))).isTrue();
    assertThat(HttpOutcomes.retriableFailure(Failure.RESET, on("connect-failure"))).isFalse();
    assertThat(HttpOutcomes.retriableFailure(Failure.TIMEOUT, on("gateway-error"))).isTrue();
    assertThat(HttpOutcomes.retriableFailure(Failure.TIMEOUT, on("deadline-exceeded"))).isFalse();
    assertThat(HttpOutcomes.retriableFailure(Failure.CANCELLED, on("cancelled", "5xx", "reset"))).isFalse();
  }

  @Test
  void injectedGrpcAbortsMapToHttpStatuses() {
    assertThat(HttpOutcomes.httpStatusOfGrpc("UNAVAILABLE")).isEqualTo(503);
    assertThat(HttpOutcomes.httpStatusOfGrpc("RESOURCE_EXHAUSTED")).isEqualTo(429);
    assertThat(HttpOutcomes.httpStatusOfGrpc("DEADLINE_EXCEEDED")).isEqualTo(504);
    assertThat(HttpOutcomes.httpStatusOfGrpc("NOT_FOUND")).isEqualTo(404);
    assertThat(HttpOutcomes.httpStatusOfGrpc("INTERNAL")).isEqualTo(500);
  }
}
