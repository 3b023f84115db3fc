package io.meshup.etcd.internal;

import io.grpc.Status;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** What an etcd call's failure means, from its gRPC status (etcd's own errors are statuses). Stateless. */
final class EtcdErrors {
  private EtcdErrors() {}

  /** The status of a failure, unwrapping futures' wrappers; UNKNOWN for a non-gRPC throwable. */
  static Status status(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    return Status.fromThrowable(c);
  }

  /** etcd's "mvcc: required revision has been compacted". */
  static boolean isCompacted(Throwable t) {
    Status s = status(t);
    return s.getCode() == Status.Code.OUT_OF_RANGE && String.valueOf(s.getDescription()).contains("compacted");
  }

  /**
   * A refusal that retrying cannot cure: wrong credentials, a missing permission, a request etcd
   * rejects as invalid.
   */
  static boolean isRefusal(Throwable t) {
    Status.Code c = status(t).getCode();
    return c == Status.Code.UNAUTHENTICATED || c == Status.Code.PERMISSION_DENIED || c == Status.Code.INVALID_ARGUMENT;
  }

  /** "UNAVAILABLE: etcdserver: no leader", for logs; etcd's messages carry no secrets. */
  static String describe(Throwable t) {
    Status s = status(t);
    if (s.getCode() == Status.Code.UNKNOWN && s.getDescription() == null && s.getCause() != null) {
      return s.getCause().toString();
    }
    String text = s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
    Throwable cause = s.getCause();
    while (cause != null && cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    // gRPC's "io exception" and "ssl exception" say little; the root cause says what failed
    return cause == null ? text : text + " (" + cause + ")";
  }
}
