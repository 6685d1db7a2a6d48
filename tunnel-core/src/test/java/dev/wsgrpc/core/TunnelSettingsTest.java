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
    assertEquals("pingInterval: PT0.099S (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> s.pingInterval(Duration.ofMillis(99))));
    assertEquals("pingInterval: PT-0.1S (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> s.pingInterval(Duration.ofMillis(-100))));
    assertEquals("pingTimeout: PT0S (expected: > 0)", message(() -> s.pingTimeout(Duration.ZERO)));
    assertEquals("handshakeTimeout: PT-0.001S (expected: > 0)",
        message(() -> s.handshakeTimeout(Duration.ofMillis(-1))));
    assertEquals("pingInterval", assertThrows(NullPointerException.class, () -> s.pingInterval(null)).getMessage());
    assertEquals("pingTimeout", assertThrows(NullPointerException.class, () -> s.pingTimeout(null)).getMessage());
    assertEquals(TunnelSettings.DEFAULT, s.build(), "a refused value leaves the setting as it was");
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
