package io.meshup.core.internal.engine;

import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.Protocol;
import io.meshup.core.route.Outcome;
import io.meshup.core.route.RetryPolicy;

/**
 * The one table of MeshUp's request path: how an attempt's end reads for the balancer, outlier
 * detection and breaker ({@link #outcome}), and whether it may be tried again ({@link #replayable},
 * {@link #retriable}). Every transport reports its attempts in {@link AttemptEnd} terms and gets
 * the same answers. Stateless.
 *
 * <p>What may be tried again, and where:
 *
 * <ul>
 *   <li>An attempt proven never to have left the client ({@link AttemptEnd#NOT_SENT}) or refused by
 *       the server before processing ({@link AttemptEnd#REFUSED}) is replayed at once on another
 *       endpoint, for any method, with no policy and no retry budget (a bounded number of times).
 *   <li>Beyond those replays, such an attempt is retried per the route's policy for any method: one
 *       that never left on {@code connect-failure}, {@code reset}, {@code 5xx} or
 *       {@code gateway-error} (gRPC also {@code unavailable}, its status for a failed connection);
 *       a refused one on {@code refused-stream}, {@code reset}, {@code 5xx}, {@code gateway-error}
 *       or {@code unavailable}.
 *   <li>Anything that may follow processing (a reset after the request was written, a per-try
 *       timeout, any status from a server, UNAVAILABLE included) is retried only for methods that are
 *       idempotent or safe, and only on a listed condition: see {@link #retriable}.
 *   <li>Cancellations and the client's own failures are never retried.
 * </ul>
 */
public final class RetryRules {
  // gRPC status code values (io.grpc.Status.Code.value())
  static final int OK = 0;
  static final int CANCELLED = 1;
  static final int UNKNOWN = 2;
  static final int DEADLINE_EXCEEDED = 4;
  static final int RESOURCE_EXHAUSTED = 8;
  static final int INTERNAL = 13;
  static final int UNAVAILABLE = 14;
  static final int DATA_LOSS = 15;

  /**
   * Conditions under which a request that never reached a server is retried beyond the replays
   * (Envoy's meanings; gRPC reports a failed connection as UNAVAILABLE, so {@code unavailable}
   * covers it there).
   */
  static final int NOT_SENT_CONDITIONS = RetryPolicy.CONNECT_FAILURE | RetryPolicy.RESET | RetryPolicy.FIVE_XX
      | RetryPolicy.GATEWAY_ERROR;
  /** Conditions under which a request refused before processing is retried beyond the replays. */
  static final int REFUSED_CONDITIONS = RetryPolicy.REFUSED_STREAM | RetryPolicy.RESET | RetryPolicy.FIVE_XX
      | RetryPolicy.GATEWAY_ERROR | RetryPolicy.UNAVAILABLE;
  /** Conditions under which a reset after sending is retried (idempotent methods only). */
  static final int RESET_CONDITIONS = RetryPolicy.RESET | RetryPolicy.FIVE_XX | RetryPolicy.GATEWAY_ERROR;
  /**
   * Conditions under which an attempt's own time limit is retried (idempotent methods only; gRPC
   * also on {@code deadline-exceeded}).
   */
  static final int TIMEOUT_CONDITIONS = RetryPolicy.RESET | RetryPolicy.FIVE_XX | RetryPolicy.GATEWAY_ERROR;

  private RetryRules() {}

  /** How an attempt's end reads for the balancer, outlier detection, breaker and meters. */
  public static Outcome outcome(Protocol protocol, AttemptEnd end, int code) {
    switch (end) {
      case STATUS:
        return protocol == Protocol.GRPC ? grpcOutcome(code) : httpOutcome(code);
      case NOT_SENT:
      case RESET:
      case UNRESPONSIVE:
        return Outcome.FAILURE;
      case TIMEOUT:
        return Outcome.TIMEOUT;
      case LOCAL_ERROR:
        return Outcome.CLIENT_ERROR;
      default: // REFUSED (a server draining), CANCELLED
        return Outcome.CANCELLED;
    }
  }

  /** OK success; RESOURCE_EXHAUSTED overload; UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS failure; DEADLINE_EXCEEDED timeout. */
  static Outcome grpcOutcome(int code) {
    switch (code) {
      case OK:
        return Outcome.SUCCESS;
      case DEADLINE_EXCEEDED:
        return Outcome.TIMEOUT;
      case RESOURCE_EXHAUSTED:
        return Outcome.OVERLOAD;
      case UNAVAILABLE:
      case INTERNAL:
      case UNKNOWN:
      case DATA_LOSS:
        return Outcome.FAILURE;
      case CANCELLED:
        return Outcome.CANCELLED;
      default:
        return Outcome.CLIENT_ERROR;
    }
  }

  /** 1xx-3xx success; 4xx but 429 client error; 429 overload; 5xx failure. */
  static Outcome httpOutcome(int status) {
    if (status == 429) {
      return Outcome.OVERLOAD;
    }
    if (status >= 500) {
      return Outcome.FAILURE;
    }
    return status >= 400 ? Outcome.CLIENT_ERROR : Outcome.SUCCESS;
  }

  /** True for an end the engine replays at once, without a policy: the server cannot have processed it. */
  public static boolean replayable(AttemptEnd end) {
    return end == AttemptEnd.NOT_SENT || end == AttemptEnd.REFUSED;
  }

  /** True when a status is a final answer a caller wants as it is (no condition can retry it). */
  public static boolean success(Protocol protocol, int code) {
    return protocol == Protocol.GRPC ? code == OK : code < 500 && code != 429 && code != 409;
  }

  /**
   * Whether the route's policy retries an attempt that ended so.
   *
   * @param idempotent the method is idempotent or safe (gRPC: marked so in its descriptor; HTTP: GET,
   *     HEAD, OPTIONS, PUT, DELETE, TRACE)
   */
  public static boolean retriable(Protocol protocol, AttemptEnd end, int code, RetryPolicy policy, boolean idempotent) {
    boolean grpc = protocol == Protocol.GRPC;
    switch (end) {
      case NOT_SENT:
        return policy.any(grpc ? NOT_SENT_CONDITIONS | RetryPolicy.UNAVAILABLE : NOT_SENT_CONDITIONS);
      case REFUSED:
        return policy.any(REFUSED_CONDITIONS);
      case RESET:
      case UNRESPONSIVE:
        return idempotent && policy.any(grpc ? RESET_CONDITIONS | RetryPolicy.UNAVAILABLE : RESET_CONDITIONS);
      case TIMEOUT:
        return idempotent && policy.any(grpc ? TIMEOUT_CONDITIONS | RetryPolicy.DEADLINE_EXCEEDED : TIMEOUT_CONDITIONS);
      case STATUS:
        return idempotent && (grpc ? grpcRetriable(code, policy) : httpRetriable(code, policy));
      default:
        return false;
    }
  }

  private static boolean grpcRetriable(int code, RetryPolicy p) {
    switch (code) {
      case UNAVAILABLE:
        return p.any(RetryPolicy.UNAVAILABLE | RetryPolicy.FIVE_XX | RetryPolicy.GATEWAY_ERROR);
      case CANCELLED:
        return p.any(RetryPolicy.CANCELLED);
      case RESOURCE_EXHAUSTED:
        return p.any(RetryPolicy.RESOURCE_EXHAUSTED);
      case DEADLINE_EXCEEDED:
        return p.any(RetryPolicy.DEADLINE_EXCEEDED);
      case INTERNAL:
        return p.any(RetryPolicy.INTERNAL | RetryPolicy.FIVE_XX);
      case UNKNOWN:
      case DATA_LOSS:
        return p.any(RetryPolicy.FIVE_XX);
      default:
        return false;
    }
  }

  /**
   * 502, 503, 504 on {@code 5xx} or {@code gateway-error}; other 5xx on {@code 5xx}; 409 on
   * {@code retriable-4xx}; a status listed as a code in {@code retryOn} (Istio's form of
   * {@code retriable-status-codes}).
   */
  private static boolean httpRetriable(int status, RetryPolicy p) {
    if (p.listsStatus(status)) {
      return true;
    }
    if (status == 502 || status == 503 || status == 504) {
      return p.any(RetryPolicy.FIVE_XX | RetryPolicy.GATEWAY_ERROR);
    }
    if (status >= 500 && status <= 599) {
      return p.any(RetryPolicy.FIVE_XX);
    }
    return status == 409 && p.any(RetryPolicy.RETRIABLE_4XX);
  }
}
