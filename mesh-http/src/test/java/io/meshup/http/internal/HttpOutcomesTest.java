package io.meshup.http.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshup.core.call.AttemptEnd;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/**
 * What the JDK client's failures mean to the engine; what is then retried is the core's shared
 * table ({@code io.meshup.core.testing.RetryTable}).
 */
class HttpOutcomesTest {
  @Test
  void failuresAreClassifiedByWhetherTheRequestLeft() {
    assertThat(HttpOutcomes.classify(new ConnectException())).isEqualTo(AttemptEnd.NOT_SENT);
    assertThat(HttpOutcomes.classify(new IOException("wrapped", new ConnectException()))).isEqualTo(AttemptEnd.NOT_SENT);
    assertThat(HttpOutcomes.classify(new HttpConnectTimeoutException("connect"))).isEqualTo(AttemptEnd.NOT_SENT);
    assertThat(HttpOutcomes.classify(new HttpTimeoutException("request"))).isEqualTo(AttemptEnd.TIMEOUT);
    assertThat(HttpOutcomes.classify(new IOException("Connection reset"))).isEqualTo(AttemptEnd.RESET);
    assertThat(HttpOutcomes.classify(new CancellationException())).isEqualTo(AttemptEnd.CANCELLED);
    assertThat(HttpOutcomes.classify(new IllegalStateException())).isEqualTo(AttemptEnd.LOCAL_ERROR);
    assertThat(HttpOutcomes.unwrap(new CompletionException(new ConnectException()))).isInstanceOf(ConnectException.class);
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
  void injectedGrpcAbortsMapToHttpStatuses() {
    assertThat(HttpOutcomes.httpStatusOfGrpc("UNAVAILABLE")).isEqualTo(503);
    assertThat(HttpOutcomes.httpStatusOfGrpc("RESOURCE_EXHAUSTED")).isEqualTo(429);
    assertThat(HttpOutcomes.httpStatusOfGrpc("DEADLINE_EXCEEDED")).isEqualTo(504);
    assertThat(HttpOutcomes.httpStatusOfGrpc("NOT_FOUND")).isEqualTo(404);
    assertThat(HttpOutcomes.httpStatusOfGrpc("INTERNAL")).isEqualTo(500);
  }
}
