package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TunnelStatusTest {

  @ParameterizedTest(name = "close {0} -> {1}")
  @CsvSource({
      "1000, UNAVAILABLE",
      "1001, UNAVAILABLE",
      "1002, INTERNAL",
      "1003, INTERNAL",
      "1006, UNAVAILABLE",
      "1007, INTERNAL",
      "1008, PERMISSION_DENIED",
      "1009, RESOURCE_EXHAUSTED",
      "1010, UNAVAILABLE",
      "1011, UNAVAILABLE",
      "1012, UNAVAILABLE",
      "1013, UNAVAILABLE",
      "1014, UNAVAILABLE",
      "3000, UNAVAILABLE",
      "4000, UNAVAILABLE",
      "-1, UNAVAILABLE",
  })
  void codeForMapsCloseCodesToGrpcStatus(int closeCode, Status.Code expected) {
    assertEquals(expected, TunnelStatus.codeFor(closeCode));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      "1000 | 1000 (Normal Closure)",
      "1001 | 1001 (Going Away)",
      "1002 | 1002 (Protocol Error)",
      "1003 | 1003 (Unsupported Data)",
      "1007 | 1007 (Invalid Payload Data)",
      "1008 | 1008 (Policy Violation)",
      "1009 | 1009 (Message Too Big)",
      "1010 | 1010 (Mandatory Extension)",
      "1011 | 1011 (Internal Error)",
      "1012 | 1012 (Service Restart)",
      "1013 | 1013 (Try Again Later)",
      "1014 | 1014 (Bad Gateway)",
      "3000 | 3000",
      "4999 | 4999",
  })
  void describeNamesKnownCodesAndGivesTheNumberForOthers(int closeCode, String expected) {
    assertEquals(expected, TunnelStatus.describe(closeCode));
  }

  @Test
  void closedByPeerNamesPeerCodeAndReason() {
    StatusRuntimeException e = TunnelStatus.closedByPeer("ws://h/grpc", 1001, "bye");
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("WebSocket closed by ws://h/grpc with 1001 (Going Away): bye", e.getStatus().getDescription());
  }

  /** A hostile peer's reason (valid UTF-8, 123 bytes at most) writes no escape sequence or line into the status. */
  @Test
  void closedByPeerShowsTheReasonInPrintableAscii() {
    assertEquals("WebSocket closed by ws://h/grpc with 1011 (Internal Error): ?[2J??2026-12-07 ERROR forged ??",
        TunnelStatus.closedByPeer("ws://h/grpc", 1011, "\u001b[2J\r\n2026-12-07 ERROR forged \u009b\u202e")
            .getStatus().getDescription());
  }

  @Test
  void closedByPeerWithoutReasonHasNoSuffix() {
    assertEquals("WebSocket closed by ws://h/grpc with 1000 (Normal Closure)",
        TunnelStatus.closedByPeer("ws://h/grpc", 1000, "").getStatus().getDescription());
    assertEquals("WebSocket closed by ws://h/grpc with 4001",
        TunnelStatus.closedByPeer("ws://h/grpc", 4001, null).getStatus().getDescription());
  }

  @Test
  void closedByPeerWithoutCodeIsUnavailable() {
    StatusRuntimeException e = TunnelStatus.closedByPeer("client 10.0.0.7:5512", -1, null);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("WebSocket closed by client 10.0.0.7:5512 without a close code", e.getStatus().getDescription());
  }

  @Test
  void closedByPeerWithPolicyViolationIsPermissionDenied() {
    assertEquals(Status.Code.PERMISSION_DENIED,
        TunnelStatus.closedByPeer("ws://h/grpc", 1008, "token expired").getStatus().getCode());
  }

  @Test
  void closedHereNamesProblemPeerAndSentCodeAndKeepsTheCause() {
    IOException cause = new IOException("boom");
    StatusRuntimeException e = TunnelStatus.closedHere("ws://h/grpc", WebSocketCloseStatus.MESSAGE_TOO_BIG,
        "Max frame length of 1024 has been exceeded.", cause);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals("Max frame length of 1024 has been exceeded. (from ws://h/grpc; sent close 1009 (Message Too Big))",
        e.getStatus().getDescription());
    assertSame(cause, e.getCause());
    assertSame(cause, e.getStatus().getCause());
  }

  @Test
  void closedHereWithProtocolErrorIsInternal() {
    StatusRuntimeException e = TunnelStatus.closedHere("p", WebSocketCloseStatus.PROTOCOL_ERROR, "bad", null);
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertEquals("bad (from p; sent close 1002 (Protocol Error))", e.getStatus().getDescription());
    assertNull(e.getCause());
  }

  @Test
  void handshakeFailedIsUnavailableWithTheTextAndCause() {
    IllegalStateException cause = new IllegalStateException("x");
    StatusRuntimeException e = TunnelStatus.handshakeFailed("expected HTTP 101 but was 403 Forbidden", cause);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("expected HTTP 101 but was 403 Forbidden", e.getStatus().getDescription());
    assertSame(cause, e.getStatus().getCause());
  }

  @Test
  void aWriteOvertakenByTheTunnelsEndFailsWithAClosedChannelExceptionThatSaysWhyWithoutAStackTrace() {
    java.nio.channels.ClosedChannelException e = TunnelStatus.closedBeforeWrite();

    assertEquals("the WebSocket tunnel closed before these bytes were written", e.getCause().getMessage());
    assertEquals(true, e.getCause() instanceof IOException);
    // Made at the end of every tunnel that still had writes queued: no stack to fill in, which is what cost.
    assertEquals(0, e.getStackTrace().length);
    assertEquals(0, e.getCause().getStackTrace().length);
    assertSame(e, TunnelStatus.writeFailure(e));
  }
}
