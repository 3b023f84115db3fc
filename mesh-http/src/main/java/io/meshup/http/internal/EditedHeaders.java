package io.meshup.http.internal;

import io.meshup.core.route.HeaderEdits;
import java.net.http.HttpHeaders;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A route's header changes applied to a copy of the JDK's headers (names compared in lower case).
 * Not thread-safe; used in one call's serialized order.
 */
final class EditedHeaders implements HeaderEdits {
  private final Map<String, List<String>> map = new LinkedHashMap<>();

  EditedHeaders(HttpHeaders from) {
    from.map().forEach((k, v) -> map.put(k.toLowerCase(Locale.ROOT), new ArrayList<>(v)));
  }

  @Override
  public void set(String name, String value) {
    List<String> l = new ArrayList<>(1);
    l.add(value);
    map.put(name, l);
  }

  @Override
  public void add(String name, String value) {
    map.computeIfAbsent(name, k -> new ArrayList<>(1)).add(value);
  }

  @Override
  public void remove(String name) {
    map.remove(name);
  }

  HttpHeaders headers() {
    return HttpHeaders.of(map, (n, v) -> true);
  }
}
