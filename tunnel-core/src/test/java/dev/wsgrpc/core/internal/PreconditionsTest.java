package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.core.TunnelSettings;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The one check of every duration the library and the gateway take: timers are set in whole milliseconds, where a
 * shorter value becomes 0 ("none", or refused later), or in nanoseconds of a long, which 999999999999 h overflows
 * when the timer is set (an ArithmeticException at SIGTERM, for the gateway's drain timeout).
 */
class PreconditionsTest {

  private static final String AT_MOST = " (expected: at most 2147483647 ms, about 24.8 days)";
  private static final Duration LONGEST = Duration.ofMillis(TunnelSettings.MAX_DURATION_MILLIS);

  private static String message(Runnable r) {
    return assertThrows(InvalidValueException.class, r::run).getMessage();
  }

  @Test
  void aDurationIsOneMillisecondToAbout25Days() {
    assertSame(LONGEST, Preconditions.checkDuration(LONGEST, "t"));
    Duration oneMilli = Duration.ofMillis(1);
    assertSame(oneMilli, Preconditions.checkDuration(oneMilli, "t"));
    assertEquals("t: 0s (expected: > 0)", message(() -> Preconditions.checkDuration(Duration.ZERO, "t")));
    assertEquals("t: -1s (expected: > 0)", message(() -> Preconditions.checkDuration(Duration.ofSeconds(-1), "t")));
    assertEquals("t: 0.000999999s (expected: at least 1 ms)",
        message(() -> Preconditions.checkDuration(Duration.ofNanos(999_999), "t")));
    assertEquals("t: 999999999999h" + AT_MOST,
        message(() -> Preconditions.checkDuration(Duration.ofHours(999_999_999_999L), "t")));
    assertEquals("t: 2147483.647000001s" + AT_MOST,
        message(() -> Preconditions.checkDuration(LONGEST.plusNanos(1), "t")));
    assertEquals("t: 9223372036854775807ms" + AT_MOST,
        message(() -> Preconditions.checkDuration(Duration.ofMillis(Long.MAX_VALUE), "t")));
    assertEquals("t: 9223372036854775807s" + AT_MOST,
        message(() -> Preconditions.checkDuration(Duration.ofSeconds(Long.MAX_VALUE), "t")));
    assertEquals("t", assertThrows(NullPointerException.class, () -> Preconditions.checkDuration(null, "t"))
        .getMessage());
  }

  @Test
  void zeroTurnsATimerOffAndAnythingBetweenZeroAndOneMillisecondIsRefused() {
    assertSame(Duration.ZERO, Preconditions.checkDurationOrZero(Duration.ZERO, "idle"));
    assertSame(LONGEST, Preconditions.checkDurationOrZero(LONGEST, "idle"));
    assertEquals("idle: -1ms (expected: >= 0)",
        message(() -> Preconditions.checkDurationOrZero(Duration.ofMillis(-1), "idle")));
    // Whole milliseconds would make it 0: the timer off, without a word.
    assertEquals("idle: 0.0005s (expected: 0, or at least 1 ms)",
        message(() -> Preconditions.checkDurationOrZero(Duration.ofNanos(500_000), "idle")));
    assertEquals("idle: 999999999999h" + AT_MOST,
        message(() -> Preconditions.checkDurationOrZero(Duration.ofHours(999_999_999_999L), "idle")));
    assertEquals("idle", assertThrows(NullPointerException.class,
        () -> Preconditions.checkDurationOrZero(null, "idle")).getMessage());
  }
}
