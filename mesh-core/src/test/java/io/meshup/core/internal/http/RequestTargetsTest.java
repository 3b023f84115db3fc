package io.meshup.core.internal.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshup.core.PathNormalization;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The normalization itself, per mode. Vectors from Istio's "Authorization Policy Normalization"
 * reference (for example {@code /some%2fdata/%61%62%63} to {@code /some/data/abc},
 * {@code /some\data} to {@code /some/data}, {@code /some//data///abc} to {@code /some/data/abc},
 * {@code /public/./data/abc/../xyz} to {@code /public/data/xyz}) and Red Hat's summary of the
 * options ({@code /a/../b} to {@code /b}, {@code \da} to {@code /da}, {@code /a//b} to
 * {@code /a/b}, {@code /a%2fb} to {@code /a/b}).
 */
class RequestTargetsTest {
  static String normalize(PathNormalization mode, String target) throws RequestTargets.Refused {
    return new RequestTargets(mode, new SimpleMeterRegistry()).path(target);
  }

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @CsvSource(delimiter = '|', value = {
      "DECODE_AND_MERGE_SLASHES | /some%2fdata/%61%62%63   | /some/data/abc",
      "BASE                     | /some\\data                | /some/data",
      "MERGE_SLASHES            | /some//data///abc        | /some/data/abc",
      "BASE                     | /public/./data/abc/../xyz | /public/data/xyz",
      "BASE                     | /a/../b                  | /b",
      "BASE                     | \\da                      | refused: invalid_target",
      "MERGE_SLASHES            | /a//b                    | /a/b",
      "DECODE_AND_MERGE_SLASHES | /a%2fb                   | /a/b",
      "BASE                     | /a%2fb                   | refused: encoded_slash",
      "BASE                     | /a//b                    | /a//b",
      "NONE                     | /a/../b                  | /a/../b",
      "NONE                     | /a%00                    | refused: invalid_encoding",
      "BASE                     | /%2e%2e/b                | refused: outside_root",
      "BASE                     | /a/%2E%2e/b              | /b",
      "BASE                     | /%7e%2D%5f%2E            | /~-_.",
      "BASE                     | /%252e                   | /%252e",
      "BASE                     | /a%3bb%3Bc               | /a%3Bb%3Bc",
      "BASE                     | /x?q=/../y               | /x",
      "BASE                     | http://h/a/./b?q         | /a/b",
      "BASE                     | http://h                 | /",
      "BASE                     | /a#b                     | refused: invalid_target",
      "BASE                     | /a%g0                    | refused: invalid_encoding",
      "BASE                     | /a/.                     | /a/",
      "BASE                     | /a/..                    | /",
      "MERGE_SLASHES            | /a/..//b                 | /b",
  })
  void normalizesAsIstioDoes(PathNormalization mode, String target, String expected) throws Exception {
    if (expected.startsWith("refused: ")) {
      assertThatThrownBy(() -> normalize(mode, target)).isInstanceOfSatisfying(RequestTargets.Refused.class,
          r -> assertThat(r.reason().tag()).isEqualTo(expected.substring(9)));
    } else {
      assertThat(normalize(mode, target)).isEqualTo(expected);
    }
  }

  @Test
  void methodsMustBeUpperCase() throws Exception {
    RequestTargets t = new RequestTargets(PathNormalization.BASE, new SimpleMeterRegistry());
    t.checkMethod("GET");
    t.checkMethod("M-SEARCH");
    assertThatThrownBy(() -> t.checkMethod("delete")).isInstanceOf(RequestTargets.Refused.class);
    assertThatThrownBy(() -> t.checkMethod("Get")).isInstanceOf(RequestTargets.Refused.class);
  }

  @Test
  void countsEachRefusalByReason() {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    RequestTargets t = new RequestTargets(PathNormalization.BASE, meters);
    assertThatThrownBy(() -> t.path("/a%2fb")).isInstanceOf(RequestTargets.Refused.class);
    assertThat(meters.counter(RequestTargets.REJECTED, "reason", "encoded_slash").count()).isEqualTo(1.0);
  }

  @Test
  void anAlreadyNormalPathAllocatesNothing() throws Exception {
    RequestTargets t = new RequestTargets(PathNormalization.MERGE_SLASHES, new SimpleMeterRegistry());
    String target = "/payments.Payments/Charge/42";
    for (int i = 0; i < 100_000; i++) {
      t.path(target);
      t.checkMethod("POST");
    }
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    String last = null;
    for (int i = 0; i < 100_000; i++) {
      last = t.path(target);
      t.checkMethod("POST");
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertThat(last).isSameAs(target);
    assertThat(allocated).as("bytes allocated by 100,000 checks").isLessThan(10_000);
  }
}
