package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class FramePipelineSettingsTest {

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void defaultsAreTheTunnelDefaults() {
    FramePipelineSettings s = new FramePipelineSettings();
    assertEquals(1024 * 1024, s.maxInboundFramePayload());
    assertEquals(64 * 1024, s.maxOutboundFramePayload());
    assertEquals(Duration.ofSeconds(30), s.pingInterval());
    assertEquals(Duration.ofSeconds(15), s.pingTimeout());
    assertEquals("maxInboundFramePayload=1048576, maxOutboundFramePayload=65536, pingInterval=PT30S, "
        + "pingTimeout=PT15S", s.toString());
  }

  @Test
  void aCopyDoesNotFollowLaterChanges() {
    FramePipelineSettings s = new FramePipelineSettings();
    s.maxInboundFramePayload(4096);
    s.pingInterval(Duration.ZERO);
    FramePipelineSettings copy = new FramePipelineSettings(s);
    s.maxInboundFramePayload(8192);
    s.pingInterval(Duration.ofMillis(100));
    assertEquals(4096, copy.maxInboundFramePayload());
    assertEquals(Duration.ZERO, copy.pingInterval());
  }

  @Test
  void invalidValuesAreRefusedWithTheValueAndWhatWasExpected() {
    FramePipelineSettings s = new FramePipelineSettings();
    assertEquals("maxInboundFramePayload: 0 (expected: > 0)", message(() -> s.maxInboundFramePayload(0)));
    assertEquals("maxOutboundFramePayload: -1 (expected: > 0)", message(() -> s.maxOutboundFramePayload(-1)));
    assertEquals("pingInterval: PT0.099S (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> s.pingInterval(Duration.ofMillis(99))));
    assertEquals("pingInterval: PT-0.1S (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> s.pingInterval(Duration.ofMillis(-100))));
    assertEquals("pingTimeout: PT0S (expected: > 0)", message(() -> s.pingTimeout(Duration.ZERO)));
    assertEquals("pingInterval", assertThrows(NullPointerException.class, () -> s.pingInterval(null)).getMessage());
    assertEquals("pingTimeout", assertThrows(NullPointerException.class, () -> s.pingTimeout(null)).getMessage());
    assertEquals(new FramePipelineSettings().toString(), s.toString(), "a refused value leaves the setting as it was");
  }
}
