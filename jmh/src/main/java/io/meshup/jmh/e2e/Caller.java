package io.meshup.jmh.e2e;

/** Sends one echo request asynchronously; the callback runs on the transport's thread. */
interface Caller extends AutoCloseable {
  /** Called once per request: whether a 1 KiB echo came back. */
  interface Done {
    void done(boolean ok);
  }

  void call(Done done);

  @Override
  void close();
}
