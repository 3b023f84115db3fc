package io.meshup.core.testing;

import io.meshup.core.Mesh;
import io.meshup.core.call.AttemptEnd;
import io.meshup.core.call.CallFailure;
import io.meshup.core.call.EngineCall;
import io.meshup.core.call.Protocol;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A logical call on a fake transport: the test sees each attempt the engine starts and ends it as
 * a transport would report ({@link #end}). Runs the engine exactly as gRPC and HTTP do; nothing
 * goes on the wire.
 */
public final class TestCall extends EngineCall {
  /** One attempt as the engine started it. */
  public record Attempt(int number, String endpoint, String service, long timeoutNanos, boolean replay) {}

  private final String path;
  private final String method;
  private final Map<String, String> headers;
  private final boolean detectsUnresponsive;
  private final boolean enforcesDeadline;
  public final List<Attempt> attempts = new ArrayList<>();
  public final List<CallFailure> cancels = new ArrayList<>();
  public volatile CallFailure failure;
  public volatile int completedWith;
  public volatile boolean committedSeen;
  /**
   * When above 0, each attempt's response headers with this status arrive while the engine is still
   * starting the attempt (inside the call's serialized order, as a response racing the starting
   * thread would): the verdicts are recorded in {@link #verdicts}, the later ones in {@link #decided}.
   */
  public volatile int respondDuringStart;
  public final List<Verdict> verdicts = new ArrayList<>();
  public final List<Boolean> decided = new ArrayList<>();

  private TestCall(Mesh mesh, String service, Protocol protocol, String path, String method, Map<String, String> headers,
      boolean detectsUnresponsive, boolean enforcesDeadline) {
    super(mesh.callEngine(), mesh.router(service), protocol);
    this.path = path;
    this.method = method;
    this.headers = headers;
    this.detectsUnresponsive = detectsUnresponsive;
    this.enforcesDeadline = enforcesDeadline;
  }

  /** A call to {@code service} shaped as the transport of {@code protocol} makes it. */
  public static TestCall of(Mesh mesh, String service, Protocol protocol, String path, String method,
      Map<String, String> headers) {
    boolean grpc = protocol == Protocol.GRPC;
    return new TestCall(mesh, service, protocol, path, method, headers, grpc, grpc);
  }

  /** A gRPC unary call to {@code path}. */
  public static TestCall grpc(Mesh mesh, String service, String path) {
    return of(mesh, service, Protocol.GRPC, path, "POST", Map.of());
  }

  /** Starts it with a caller deadline {@code timeoutNanos} from now on the mesh's clock. */
  public TestCall startWithin(long timeoutNanos, boolean idempotent, boolean streaming) {
    start(engine().clock().nanoTime() + timeoutNanos, true, idempotent, streaming);
    return this;
  }

  /** Starts it without a caller deadline, non-idempotent, unary. */
  public TestCall start() {
    start(0, false, false, false);
    return this;
  }

  /** Ends the current attempt as the transport would report it. */
  public TestCall end(AttemptEnd end, int code) {
    attemptClosed(attempt(), end, code);
    return this;
  }

  /** The last attempt started. */
  public Attempt last() {
    return attempts.get(attempts.size() - 1);
  }

  /** True once the call ended (completed with an attempt or failed). */
  public boolean done() {
    return failure != null || completedWith > 0;
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public String method() {
    return method;
  }

  @Override
  public String header(String lowerCaseName) {
    return headers.get(lowerCaseName);
  }

  @Override
  protected void startAttempt() {
    attempts.add(new Attempt(attempt(), endpoint().endpoint().id(), endpoint().service(), attemptTimeoutNanos(), replay()));
    if (respondDuringStart > 0) {
      verdicts.add(attemptResponded(attempt(), respondDuringStart));
    }
  }

  /** The response headers of the current attempt arrive with {@code status}; returns the verdict. */
  public Verdict respond(int status) {
    Verdict v = attemptResponded(attempt(), status);
    verdicts.add(v);
    return v;
  }

  @Override
  protected void responseDecided(int n, boolean commit) {
    decided.add(commit);
  }

  @Override
  protected void cancelAttempt(CallFailure why) {
    cancels.add(why);
  }

  @Override
  protected void completeWithAttempt() {
    completedWith = attempt();
  }

  @Override
  protected void fail(CallFailure f) {
    failure = f;
  }

  @Override
  protected void committed() {
    committedSeen = true;
  }

  @Override
  protected boolean detectsUnresponsivePeers() {
    return detectsUnresponsive;
  }

  @Override
  protected boolean enforcesDeadlineThroughResponse() {
    return enforcesDeadline;
  }
}
