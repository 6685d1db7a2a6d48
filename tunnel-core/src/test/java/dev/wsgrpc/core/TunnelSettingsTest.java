package dev.wsgrpc.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.core.internal.InvalidValueException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TunnelSettingsTest {

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void defaultsAreTheTunnelDefaults() {
    TunnelSettings s = TunnelSettings.DEFAULT;
    assertEquals(1024 * 1024, s.maxInboundFramePayload());
    assertEquals(64 * 1024, s.maxOutboundFramePayload());
    assertEquals(Duration.ofSeconds(30), s.pingInterval());
    assertEquals(Duration.ofSeconds(15), s.pingTimeout());
    assertEquals(Duration.ofSeconds(10), s.handshakeTimeout());
    assertEquals("TunnelSettings{maxInboundFramePayload=1048576, maxOutboundFramePayload=65536, pingInterval=PT30S, "
        + "pingTimeout=PT15S, handshakeTimeout=PT10S}", s.toString());
  }

  @Test
  void toBuilderCopiesEverySettingAndLeavesTheOriginalAlone() {
    TunnelSettings s = TunnelSettings.newBuilder().maxInboundFramePayload(4096).pingInterval(Duration.ZERO)
        .handshakeTimeout(Duration.ofSeconds(3)).build();
    assertEquals(s, s.toBuilder().build());
    assertEquals(s.hashCode(), s.toBuilder().build().hashCode());
    TunnelSettings changed = s.toBuilder().maxInboundFramePayload(8192).build();
    assertEquals(8192, changed.maxInboundFramePayload());
    assertEquals(Duration.ZERO, changed.pingInterval());
    assertEquals(4096, s.maxInboundFramePayload());
    assertNotEquals(s, changed);
  }

  @Test
  void invalidValuesAreRefusedWithTheValueAndWhatWasExpected() {
    TunnelSettings.Builder s = TunnelSettings.newBuilder();
    assertEquals("maxInboundFramePayload: 0 (expected: > 0)", message(() -> s.maxInboundFramePayload(0)));
    assertEquals("maxOutboundFramePayload: -1 (expected: > 0)", message(() -> s.maxOutboundFramePayload(-1)));
    assertEquals("pingInterval: 99ms (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> s.pingInterval(Duration.ofMillis(99))));
    assertEquals("pingInterval: -100ms (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> s.pingInterval(Duration.ofMillis(-100))));
    assertEquals("pingTimeout: 0s (expected: > 0)", message(() -> s.pingTimeout(Duration.ZERO)));
    assertEquals("handshakeTimeout: -1ms (expected: > 0)",
        message(() -> s.handshakeTimeout(Duration.ofMillis(-1))));
    assertEquals("pingInterval", assertThrows(NullPointerException.class, () -> s.pingInterval(null)).getMessage());
    assertEquals("pingTimeout", assertThrows(NullPointerException.class, () -> s.pingTimeout(null)).getMessage());
    assertEquals(TunnelSettings.DEFAULT, s.build(), "a refused value leaves the setting as it was");
  }

  /**
   * Consumers hold these as ints of milliseconds (Netty's connect timeout, OkHttp's timeouts); Long.MAX_VALUE
   * seconds overflowed Duration.toMillis() and failed every RPC with "INTERNAL: Panic! This is a bug!".
   */
  @Test
  void durationsAreAtMostIntegerMaxValueMilliseconds() {
    Duration longest = Duration.ofMillis(Integer.MAX_VALUE);
    assertEquals(longest.toMillis(), TunnelSettings.MAX_DURATION_MILLIS);
    TunnelSettings s = TunnelSettings.newBuilder().handshakeTimeout(longest).pingInterval(longest)
        .pingTimeout(longest).build();
    assertEquals(longest, s.handshakeTimeout());
    assertEquals(longest, s.pingInterval());
    assertEquals(longest, s.pingTimeout());
    String atMost = " (expected: at most 2147483647 ms, about 24.8 days)";
    TunnelSettings.Builder b = TunnelSettings.newBuilder();
    assertEquals("handshakeTimeout: 9223372036854775807s" + atMost,
        message(() -> b.handshakeTimeout(Duration.ofSeconds(Long.MAX_VALUE))));
    assertEquals("handshakeTimeout: 2147483648ms" + atMost,
        message(() -> b.handshakeTimeout(longest.plusMillis(1))));
    assertEquals("pingInterval: 2147483648ms" + atMost, message(() -> b.pingInterval(longest.plusMillis(1))));
    assertEquals("pingTimeout: 2147483.647000001s" + atMost, message(() -> b.pingTimeout(longest.plusNanos(1))));
    assertEquals(TunnelSettings.DEFAULT, b.build(), "a refused value leaves the setting as it was");
  }

  /** Consumers round down to milliseconds, where 0 means "none" or is refused (the keepalive's ping timeout). */
  @Test
  void timeoutsAreAtLeastAMillisecond() {
    TunnelSettings.Builder b = TunnelSettings.newBuilder();
    assertEquals("handshakeTimeout: 0.000999999s (expected: at least 1 ms)",
        message(() -> b.handshakeTimeout(Duration.ofNanos(999_999))));
    assertEquals("pingTimeout: 0.0005s (expected: at least 1 ms)",
        message(() -> b.pingTimeout(Duration.ofNanos(500_000))));
    assertEquals(Duration.ofMillis(1), b.handshakeTimeout(Duration.ofMillis(1)).build().handshakeTimeout());
  }

  @Test
  void aRefusalKeepsTheNameTheValueAndTheExpectationApart() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> TunnelSettings.newBuilder().maxInboundFramePayload(0));
    assertEquals("maxInboundFramePayload", e.name());
    assertEquals("0", e.value());
    assertEquals("> 0", e.expected());
  }
}
