package io.meshup.core.testing;

import java.nio.charset.StandardCharsets;

/**
 * Policy documents an attacker who can write a policy source would send: each one is refused by
 * a bounded reader, and the tests and the measurement harness share them. Stateless.
 */
public final class HostileDocuments {
  private HostileDocuments() {}

  /** A valid VirtualService for {@code payments} named {@code name}: what must keep serving. */
  public static String goodVirtualService(String name) {
    return """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: %s }
        spec:
          hosts: [payments]
          http:
          - name: %s-route
            route: [{ destination: { host: payments } }]
        """.formatted(name, name);
  }

  /**
   * "Billion laughs" by doubling: each anchor is a list of two aliases of the one before, so
   * {@code levels} levels expand to 2^levels scalars from a text of a few hundred bytes (the
   * issue's 545-byte document doubles 20 times to over a gigabyte).
   */
  public static String aliasDoubling(int levels) {
    StringBuilder sb = new StringBuilder("a0: &a0 [lol, lol]\n");
    for (int i = 1; i <= levels; i++) {
      sb.append('a').append(i).append(": &a").append(i).append(" [*a").append(i - 1).append(", *a").append(i - 1).append("]\n");
    }
    return sb.toString();
  }

  /** Flow sequences nested {@code depth} deep: {@code [[[...]]]}. */
  public static String deepSequences(int depth) {
    return "kind: VirtualService\nspec: " + "[".repeat(depth) + "]".repeat(depth) + "\n";
  }

  /** Block mappings nested {@code depth} deep, the form a 4 KB KV value can hold 2,000 levels of. */
  public static String deepMappings(int depth) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      sb.append("{a: ");
    }
    sb.append("x");
    for (int i = 0; i < depth; i++) {
      sb.append('}');
    }
    return sb.append('\n').toString();
  }

  /**
   * A text of {@code bytes} bytes (rounded down to whole lines), built in one allocation so that
   * even the 50 MB one fits a small heap: lines of a mapping.
   */
  public static String large(int bytes) {
    String line = "key: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    return line.repeat(bytes / line.length());
  }

  /** UTF-8 bytes with an invalid sequence ({@code 0xC3 0x28}) in a value. */
  public static byte[] invalidUtf8() {
    byte[] head = goodVirtualService("utf8").replace("utf8-route", "utf8-XX").getBytes(StandardCharsets.UTF_8);
    String s = new String(head, StandardCharsets.ISO_8859_1);
    int at = s.indexOf("XX");
    head[at] = (byte) 0xC3;
    head[at + 1] = (byte) 0x28;
    return head;
  }

  /**
   * A scalar holding {@code ${BIG}} anchored once and aliased {@code aliases} times: with a large
   * variable, each alias would be a copy of it were substitution run per alias.
   */
  public static String scalarAliasBomb(int aliases) {
    StringBuilder sb = new StringBuilder("v: &v \"${BIG}${BIG}${BIG}${BIG}\"\nlist: [");
    for (int i = 0; i < aliases; i++) {
      sb.append(i == 0 ? "*v" : ",*v");
    }
    return sb.append("]\n").toString();
  }

  /** Many scalars each substituting {@code ${BIG}}: the substitution output outgrows its budget. */
  public static String substitutionFlood(int scalars) {
    StringBuilder sb = new StringBuilder("list: [");
    for (int i = 0; i < scalars; i++) {
      sb.append(i == 0 ? "" : ",").append("\"${BIG}\"");
    }
    return sb.append("]\n").toString();
  }

  /** A value for {@code BIG}: 100,000 characters. */
  public static String bigVariable() {
    return "x".repeat(100_000);
  }

  /** A VirtualService whose route timeout sums past Long.MAX_VALUE nanoseconds (it wrapped to 2 ms). */
  public static String overflowingDuration() {
    return goodVirtualService("overflow").replace("route: [{ destination: { host: payments } }]",
        "timeout: 9223372036854775807ns9223372036854775807ns2000000ns\n    route: [{ destination: { host: payments } }]");
  }

  /** A document whose kind is {@code bytes} characters long (it made a 2 MB error message). */
  public static String hugeKind(int bytes) {
    return "apiVersion: networking.istio.io/v1\nkind: " + "K".repeat(bytes) + "\nmetadata: { name: k }\nspec: {}\n";
  }
}
