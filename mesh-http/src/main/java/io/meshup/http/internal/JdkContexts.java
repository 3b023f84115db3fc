package io.meshup.http.internal;

import com.sun.net.httpserver.HttpContext;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The contexts of one JDK server built by {@code MeshHttpServers}, so that its filter can tell
 * which context a normalized path belongs to: the one with the longest path that the decoded path
 * starts with, the rule the JDK's own dispatcher applies. Thread-safe; contexts change rarely.
 */
final class JdkContexts {
  private final CopyOnWriteArrayList<HttpContext> contexts = new CopyOnWriteArrayList<>();

  void add(HttpContext c) {
    contexts.add(c);
  }

  void remove(String path) {
    contexts.removeIf(c -> c.getPath().equals(path));
  }

  void remove(HttpContext c) {
    contexts.remove(c);
  }

  /** The context a request whose decoded path is {@code path} is dispatched to, or null. */
  HttpContext find(String path) {
    HttpContext best = null;
    for (HttpContext c : contexts) {
      String p = c.getPath();
      if (path.startsWith(p) && (best == null || p.length() > best.getPath().length())) {
        best = c;
      }
    }
    return best;
  }
}
