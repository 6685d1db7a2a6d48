package dev.wsgrpc.okhttp;

import static dev.wsgrpc.testing.WireFrames.firstByte;
import static dev.wsgrpc.testing.WireFrames.frameBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.WireFrames;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A server that breaks RFC 6455 while a call is on its tunnel: the call fails INTERNAL saying what was expected and
 * what arrived, in the Netty client's words for the same frame (grpc-okhttp's call got OkHttp's own text, such as
 * "Unknown opcode: 3"), and the server reads Close 1002 with that text: OkHttp's reader, which refuses these frames
 * itself, dropped the connection without a Close (the server read EOF before a Close); the client now refuses them
 * first, at the frame header (a Close's code once the Close is whole), and hands OkHttp a Close; over wss as over ws
 * (over wss OkHttp's reader saw these frames first until the plaintext inside TLS was followed). A Close whose reason
 * is not UTF-8 is answered with Close 1007 (it was echoed and its reason passed on as text), a text frame with Close
 * 1003.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ServerFrameViolationsTest {

  private static final byte[] NONE = {};
  private static final byte[] ONE = {0};
  /** The server reads Close 1002 with the problem as its reason. */
  private static final String REFUSED_1002 = "1002";

  static Stream<Arguments> violations() {
    return Stream.of(
        Arguments.of("server frames must not be masked",
            frameBytes(firstByte(true, 0, 0x2), ONE, WireFrames.RFC_KEY),
            "expected an unmasked frame (a server masks none) but it was masked", REFUSED_1002),
        Arguments.of("rsv1 must be 0 without an extension",
            frameBytes(firstByte(true, 4, 0x2), ONE, null),
            "expected RSV bits 0 (no extension was negotiated) but RSV1 was set", REFUSED_1002),
        Arguments.of("rsv3 must be 0 without an extension",
            frameBytes(firstByte(true, 1, 0x9), NONE, null),
            "expected RSV bits 0 (no extension was negotiated) but RSV3 was set", REFUSED_1002),
        Arguments.of("reserved data opcodes are refused",
            frameBytes(firstByte(true, 0, 0x3), ONE, null),
            "expected a defined opcode but was reserved opcode 0x3", REFUSED_1002),
        Arguments.of("reserved control opcodes are refused",
            frameBytes(firstByte(true, 0, 0xB), NONE, null),
            "expected a defined opcode but was reserved opcode 0xb", REFUSED_1002),
        Arguments.of("control frames must be final",
            frameBytes(firstByte(false, 0, 0x9), NONE, null),
            "expected control frames to be final but a control frame was fragmented", REFUSED_1002),
        Arguments.of("control frames carry at most 125 bytes",
            frameBytes(firstByte(true, 0, 0x9), new byte[126], null),
            "expected a control frame payload of at most 125 bytes but a control frame announced more", REFUSED_1002),
        Arguments.of("a continuation frame cannot start a message",
            frameBytes(firstByte(true, 0, 0x0), ONE, null),
            "expected a text or binary frame to start a message but was a continuation frame", REFUSED_1002),
        Arguments.of("a fragmented message goes on with continuation frames",
            Http2Wire.concat(frameBytes(firstByte(false, 0, 0x2), ONE, null),
                frameBytes(firstByte(true, 0, 0x2), ONE, null)),
            "expected a continuation frame inside a fragmented message but was a binary frame", REFUSED_1002),
        Arguments.of("a 64-bit length has its most significant bit 0",
            new byte[] {(byte) 0x82, 127, (byte) 0x80, 0, 0, 0, 0, 0, 0, 0},
            "expected a 64-bit length with the most significant bit 0 but was 0x8000000000000000", REFUSED_1002),
        Arguments.of("a close payload is not 1 byte",
            frameBytes(firstByte(true, 0, 0x8), new byte[] {0x03}, null),
            "expected a close payload of 0 or at least 2 bytes but was 1 byte", REFUSED_1002),
        Arguments.of("close code 1005 may not be sent",
            frameBytes(firstByte(true, 0, 0x8), new byte[] {0x03, (byte) 0xED}, null),
            "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 1005", REFUSED_1002),
        Arguments.of("close codes are below 5000",
            frameBytes(firstByte(true, 0, 0x8), new byte[] {0x13, (byte) 0x88}, null),
            "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 5000", REFUSED_1002),
        Arguments.of("close codes are unsigned",
            frameBytes(firstByte(true, 0, 0x8), new byte[] {(byte) 0x80, 0x00}, null),
            "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 32768", REFUSED_1002),
        Arguments.of("a close reason is UTF-8",
            frameBytes(firstByte(true, 0, 0x8), new byte[] {0x03, (byte) 0xE8, (byte) 0xC3, 0x28}, null),
            "expected a UTF-8 close reason but it was not", "1007 expected a UTF-8 close reason but it was not"),
        Arguments.of("text frames are refused",
            frameBytes(firstByte(true, 0, 0x1), new byte[] {'h', 'i'}, null),
            "expected binary frames but was a text frame", "1003 expected binary frames but was a text frame"));
  }

  /** Each violation over ws and over wss, whose plaintext is followed inside TLS. */
  static Stream<Arguments> violationsOverWsAndWss() {
    return violations().flatMap(a -> Stream.of(false, true).map(tls -> {
      Object[] rule = a.get();
      return Arguments.of(tls ? "wss" : "ws", rule[0], rule[1], rule[2], rule[3]);
    }));
  }

  @ParameterizedTest(name = "{1} ({0})")
  @MethodSource("violationsOverWsAndWss")
  void theCallFailsSayingWhatWasExpectedAndWhatArrived(String scheme, String rule, byte[] frames, String problem,
      String closeSent) throws Exception {
    String serverRead = closeSent.equals(REFUSED_1002) ? "1002 " + problem : closeSent;
    CompletableFuture<String> close = new CompletableFuture<>();
    try (ScriptedHttpServer server = ScriptedHttpServer.afterTheCallStarts(TestTls.server(scheme.equals("wss")), "",
        frames, frames.length, close)) {
      String url = server.url();
      ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(TestTls.options(url).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
        String sent = "; sent close " + TunnelFailure.describe(Integer.parseInt(serverRead.substring(0, 4)));
        assertEquals(Status.Code.INTERNAL + ": " + problem + " (from " + url + sent + ") / the server read: "
            + serverRead, e.getStatus().getCode() + ": " + e.getStatus().getDescription() + " / the server read: "
            + close.get(10, TimeUnit.SECONDS));
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }
}
