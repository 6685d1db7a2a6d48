package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Relay mode's timers are set in nanoseconds of a long when a tunnel opens: a duration of a few hundred years
 * overflowed there (ArithmeticException in handlerAdded) instead of being refused with the settings.
 */
class RelaySettingsTest {

  private static final String AT_MOST = " (expected: at most 2147483647 ms, about 24.8 days)";
  private static final Duration LONGEST = Duration.ofMillis(Integer.MAX_VALUE);
  private static final Duration HUGE = Duration.ofHours(999_999_999_999L);

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void idleTimeoutIsZeroOrOneMillisecondToAbout25Days() {
    RelaySettings.Builder b = RelaySettings.newBuilder();
    assertEquals("idleTimeout: 999999999999h" + AT_MOST, message(() -> b.idleTimeout(HUGE)));
    assertEquals("idleTimeout: 9223372036854775807ms" + AT_MOST,
        message(() -> b.idleTimeout(Duration.ofMillis(Long.MAX_VALUE))));
    assertEquals("idleTimeout: 0.0005s (expected: 0, or at least 1 ms)",
        message(() -> b.idleTimeout(Duration.ofNanos(500_000))));
    assertEquals("idleTimeout: -1s (expected: >= 0)", message(() -> b.idleTimeout(Duration.ofSeconds(-1))));
    assertEquals(Duration.ofMinutes(30), b.build().idleTimeout, "a refused value leaves the default");
    assertEquals(Duration.ZERO, b.idleTimeout(Duration.ZERO).build().idleTimeout);
    assertEquals(LONGEST, b.idleTimeout(LONGEST).build().idleTimeout);
  }

  @Test
  void upstreamKeepaliveIsZeroOrOneMillisecondToAbout25DaysAndItsTimeoutOneMillisecondToAsMuch() {
    RelaySettings.Builder b = RelaySettings.newBuilder();
    Duration second = Duration.ofSeconds(1);
    assertEquals("upstreamKeepAlive: 999999999999h" + AT_MOST, message(() -> b.upstreamKeepAlive(HUGE, second)));
    assertEquals("upstreamKeepAliveTimeout: 999999999999h" + AT_MOST,
        message(() -> b.upstreamKeepAlive(second, HUGE)));
    assertEquals("upstreamKeepAlive: 0.0005s (expected: 0, or at least 1 ms)",
        message(() -> b.upstreamKeepAlive(Duration.ofNanos(500_000), second)));
    assertEquals("upstreamKeepAliveTimeout: 0.0005s (expected: at least 1 ms)",
        message(() -> b.upstreamKeepAlive(second, Duration.ofNanos(500_000))));
    assertEquals("upstreamKeepAlive: -1s (expected: >= 0)",
        message(() -> b.upstreamKeepAlive(Duration.ofSeconds(-1), second)));
    assertEquals("upstreamKeepAliveTimeout: 0s (expected: > 0)",
        message(() -> b.upstreamKeepAlive(second, Duration.ZERO)));
    RelaySettings unchanged = b.build();
    assertEquals(Duration.ofMinutes(5), unchanged.upstreamKeepAliveTime);
    assertEquals(Duration.ofSeconds(20), unchanged.upstreamKeepAliveTimeout);
    RelaySettings longest = b.upstreamKeepAlive(LONGEST, LONGEST).build();
    assertEquals(LONGEST, longest.upstreamKeepAliveTime);
    assertEquals(LONGEST, longest.upstreamKeepAliveTimeout);
    assertEquals(Duration.ZERO, b.upstreamKeepAlive(Duration.ZERO, second).build().upstreamKeepAliveTime);
  }
}
