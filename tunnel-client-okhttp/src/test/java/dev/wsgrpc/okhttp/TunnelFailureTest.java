package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** OkHttp's reader texts told in the Netty client's words. */
class TunnelFailureTest {

  /**
   * OkHttp's reader reads a Close code as a signed short (over wss its text reaches the client), while {@link
   * InboundFrameLimit} reads it unsigned over ws: both say 32768 for 0x8000.
   */
  @Test
  void aCloseCodeWithItsHighBitSetIsToldUnsigned() {
    String expected = "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 32768";
    assertEquals(expected, TunnelFailure.expectedButWas("Code must be in range [1000,5000): -32768"));
    assertEquals(expected, TunnelFailure.expectedButWas("Code must be in range [1000,5000): 32768"));
    assertEquals("expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 65535",
        TunnelFailure.expectedButWas("Code must be in range [1000,5000): -1"));
  }

  /** A hostile server's Close reason writes no escape sequence or line into the status, as in the Netty client. */
  @Test
  void aCloseReasonIsShownInPrintableAscii() {
    assertEquals("WebSocket closed by ws://h/grpc with 1011 (Internal Error): ?[2J\\r\\n2026-12-07 ERROR forged ??",
        TunnelFailure.closedByPeer("ws://h/grpc", 1011, "\u001b[2J\r\n2026-12-07 ERROR forged \u009b\u202e")
            .status().getDescription());
  }
}
