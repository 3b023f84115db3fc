package io.meshup.core.testing;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.Protocol;
import java.util.List;

/**
 * The one table of what happens after an attempt ends, for every transport: the core's engine
 * tests run every row on a fake transport, and the gRPC and HTTP tests run rows against real
 * servers, so the two transports cannot disagree. Conditions are Envoy's ({@code retryOn}), as
 * Istio documents them; a row's route allows 2 retries.
 */
public final class RetryTable {
  /** What the engine does next. */
  public enum Next {
    /** Sends again at once, on another endpoint, with no policy, backoff or budget. */
    REPLAY,
    /** Retries after a backoff, within the retry budget. */
    RETRY,
    /** Ends the call with this attempt's result. */
    FINAL
  }

  /**
   * One rule.
   *
   * @param code the gRPC code value or HTTP status, for {@link AttemptEnd#STATUS}
   * @param retryOn the route's {@code retryOn}
   * @param idempotent whether the method is idempotent or safe
   */
  public record Row(Protocol protocol, AttemptEnd end, int code, String retryOn, boolean idempotent, Next next) {
    @Override
    public String toString() {
      return protocol + " " + end + (end == AttemptEnd.STATUS ? " " + code : "") + " retryOn=" + retryOn
          + (idempotent ? " idempotent" : " not idempotent") + " -> " + next;
    }
  }

  private RetryTable() {}

  private static Row http(AttemptEnd end, int code, String on, boolean idem, Next next) {
    return new Row(Protocol.HTTP, end, code, on, idem, next);
  }

  private static Row grpc(AttemptEnd end, int code, String on, boolean idem, Next next) {
    return new Row(Protocol.GRPC, end, code, on, idem, next);
  }

  /** Every row. */
  public static List<Row> rows() {
    AttemptEnd s = AttemptEnd.STATUS;
    return List.of(
        // HTTP statuses (Envoy: 5xx, gateway-error = 502/503/504, retriable-4xx = 409, listed codes)
        http(s, 503, "5xx", true, Next.RETRY),
        http(s, 503, "gateway-error", true, Next.RETRY),
        http(s, 503, "5xx", false, Next.FINAL),
        http(s, 500, "5xx", true, Next.RETRY),
        http(s, 500, "gateway-error", true, Next.FINAL),
        http(s, 502, "gateway-error", true, Next.RETRY),
        http(s, 504, "gateway-error", true, Next.RETRY),
        http(s, 409, "retriable-4xx", true, Next.RETRY),
        http(s, 409, "5xx", true, Next.FINAL),
        http(s, 429, "5xx,gateway-error,retriable-4xx,resource-exhausted", true, Next.FINAL),
        http(s, 503, "unavailable,connect-failure,reset", true, Next.FINAL),
        http(s, 503, "503", true, Next.RETRY),
        http(s, 404, "404", true, Next.RETRY),
        http(s, 404, "503", true, Next.FINAL),
        http(s, 200, "5xx,retriable-4xx", true, Next.FINAL),
        // HTTP failures without a response
        http(AttemptEnd.NOT_SENT, 0, "", false, Next.REPLAY),
        http(AttemptEnd.REFUSED, 0, "", false, Next.REPLAY),
        http(AttemptEnd.RESET, 0, "reset", true, Next.RETRY),
        http(AttemptEnd.RESET, 0, "5xx", true, Next.RETRY),
        http(AttemptEnd.RESET, 0, "reset", false, Next.FINAL),
        http(AttemptEnd.RESET, 0, "connect-failure", true, Next.FINAL),
        http(AttemptEnd.TIMEOUT, 0, "gateway-error", true, Next.RETRY),
        http(AttemptEnd.TIMEOUT, 0, "deadline-exceeded", true, Next.FINAL),
        http(AttemptEnd.TIMEOUT, 0, "5xx", false, Next.FINAL),
        http(AttemptEnd.CANCELLED, 0, "cancelled,5xx,reset", true, Next.FINAL),
        http(AttemptEnd.LOCAL_ERROR, 0, "5xx,reset,connect-failure", true, Next.FINAL),
        // gRPC statuses from a server (x-envoy-retry-grpc-on names; 5xx as before)
        grpc(s, 14, "unavailable", true, Next.RETRY),
        grpc(s, 14, "unavailable", false, Next.FINAL),
        grpc(s, 14, "5xx", true, Next.RETRY),
        grpc(s, 14, "gateway-error", true, Next.RETRY),
        grpc(s, 1, "cancelled", true, Next.RETRY),
        grpc(s, 8, "resource-exhausted", true, Next.RETRY),
        grpc(s, 8, "resource-exhausted", false, Next.FINAL),
        grpc(s, 4, "deadline-exceeded", true, Next.RETRY),
        grpc(s, 13, "internal", true, Next.RETRY),
        grpc(s, 13, "5xx", true, Next.RETRY),
        grpc(s, 2, "5xx", true, Next.RETRY),
        grpc(s, 2, "internal", true, Next.FINAL),
        grpc(s, 0, "unavailable,5xx", true, Next.FINAL),
        grpc(s, 5, "unavailable,5xx,internal", true, Next.FINAL),
        // gRPC failures without a server's status
        grpc(AttemptEnd.NOT_SENT, 14, "", false, Next.REPLAY),
        grpc(AttemptEnd.REFUSED, 14, "", false, Next.REPLAY),
        grpc(AttemptEnd.RESET, 14, "unavailable", true, Next.RETRY),
        grpc(AttemptEnd.RESET, 14, "unavailable", false, Next.FINAL),
        grpc(AttemptEnd.RESET, 14, "reset", true, Next.RETRY),
        grpc(AttemptEnd.UNRESPONSIVE, 14, "unavailable", true, Next.RETRY),
        grpc(AttemptEnd.UNRESPONSIVE, 14, "unavailable", false, Next.FINAL),
        grpc(AttemptEnd.TIMEOUT, 4, "deadline-exceeded", true, Next.RETRY),
        grpc(AttemptEnd.TIMEOUT, 4, "", true, Next.FINAL),
        grpc(AttemptEnd.TIMEOUT, 4, "deadline-exceeded", false, Next.FINAL),
        grpc(AttemptEnd.CANCELLED, 1, "cancelled", true, Next.FINAL),
        grpc(AttemptEnd.LOCAL_ERROR, 8, "resource-exhausted", true, Next.FINAL));
  }
}
