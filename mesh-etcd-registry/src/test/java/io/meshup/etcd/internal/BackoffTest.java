package io.meshup.etcd.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Retry delays double from the initial one to the cap, each drawn from the upper half of its step. */
class BackoffTest {
  @Test
  void doublesUpToTheCapWithinTheUpperHalfOfEachStep() {
    Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), new SplittableRandom(42));
    long[] steps = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int round = 0; round < 200; round++) {
      b.reset();
      for (long step : steps) {
        long d = TimeUnit.NANOSECONDS.toMillis(b.nextDelayNanos());
        assertThat(d).isBetween(step / 2, step);
      }
      assertThat(b.failures()).isEqualTo(steps.length);
    }
  }

  @Test
  void theSameSeedGivesTheSameDelaysAndTwoClientsDoNotRetryTogether() {
    Backoff a = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), new SplittableRandom(7));
    Backoff same = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), new SplittableRandom(7));
    Backoff other = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), new SplittableRandom(8));
    int equal = 0;
    for (int i = 0; i < 50; i++) {
      long x = a.nextDelayNanos();
      assertThat(same.nextDelayNanos()).isEqualTo(x);
      if (other.nextDelayNanos() == x) {
        equal++;
      }
    }
    assertThat(equal).isLessThan(3);
  }

  @Test
  void aLongStreakNeitherOverflowsNorPassesTheCap() {
    Backoff b = new Backoff(Duration.ofMillis(10), Duration.ofMinutes(5), new SplittableRandom(1));
    for (int i = 0; i < 10_000; i++) {
      assertThat(b.nextDelayNanos()).isBetween(0L, Duration.ofMinutes(5).toNanos());
    }
  }
}
