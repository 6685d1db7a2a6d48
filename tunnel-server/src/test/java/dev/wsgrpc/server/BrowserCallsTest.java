package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Status;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class BrowserCallsTest {

  /** A service's metadata with CR or LF would write lines of its own into a browser's trailers: left out. */
  @Test
  void aFieldWhoseValueHoldsAControlCharacterIsLeftOutOfAHeaderBlock() {
    Http2Headers trailers = new io.netty.handler.codec.http2.DefaultHttp2Headers(false)
        .add("grpc-status", "13")
        .add("x-echo", "a\r\ngrpc-status: 0")
        .add("x-nul", "a\u0000b")
        .add("x-tab", "b\tc");
    io.netty.buffer.ByteBuf block = BrowserCalls.headerBlock(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT,
        trailers);
    try {
      assertEquals("grpc-status: 13\r\nx-tab: b\tc\r\n",
          block.toString(java.nio.charset.StandardCharsets.ISO_8859_1));
    } finally {
      block.release();
    }
  }

  @Test
  void headersOfTheHttp11ExchangeAreNotMetadataAndTheOthersAre() {
    Http2Headers call = BrowserCalls.requestHeaders("/a.B/C", "http", "example.com:80", "application/grpc+proto",
        List.of(Map.entry("Expect", "100-continue"), Map.entry("Connection", "keep-alive"),
            Map.entry("Keep-Alive", "timeout=5"), Map.entry("Content-Length", "5"), Map.entry("X-Grpc-Web", "1"),
            Map.entry("X-User", "alice")));
    assertEquals(new TreeSet<>(List.of(":authority", ":method", ":path", ":scheme", "content-type", "te", "x-user")),
        call.names().stream().map(CharSequence::toString).collect(Collectors.toCollection(TreeSet::new)));
  }

  @Test
  void grpcTimeoutsInEveryUnitAreReadAsNanoseconds() {
    assertEquals(TimeUnit.HOURS.toNanos(2), BrowserCalls.timeoutNanos("2H"));
    assertEquals(TimeUnit.MINUTES.toNanos(3), BrowserCalls.timeoutNanos("3M"));
    assertEquals(TimeUnit.SECONDS.toNanos(99999999), BrowserCalls.timeoutNanos("99999999S"));
    assertEquals(500_000_000L, BrowserCalls.timeoutNanos("500m"));
    assertEquals(250_000L, BrowserCalls.timeoutNanos("250u"));
    assertEquals(7L, BrowserCalls.timeoutNanos("7n"));
  }

  @Test
  void malformedGrpcTimeoutsAreNone() {
    for (String value : new String[] {"", "m", "500", "500x", "5 m", "123456789m", "1.5S", "+m", "-S", "+-5S",
        "5-S", "--5S", "+12345678S", " 5S"}) {
      assertEquals(-1, BrowserCalls.timeoutNanos(value), value);
    }
    assertEquals(-1, BrowserCalls.timeoutNanos(null));
  }

  @Test
  void aSignIsAcceptedAsGrpcJavasLongParseLongDoesAndANegativeTimeoutIsZero() {
    assertEquals(TimeUnit.SECONDS.toNanos(5), BrowserCalls.timeoutNanos("+5S"));
    assertEquals(TimeUnit.SECONDS.toNanos(9999999), BrowserCalls.timeoutNanos("+9999999S"));
    assertEquals(0, BrowserCalls.timeoutNanos("-1S"));
    assertEquals(0, BrowserCalls.timeoutNanos("-5m"));
    assertEquals(0, BrowserCalls.timeoutNanos("-9999999H"));
    assertEquals(0, BrowserCalls.timeoutNanos("-0n"));
    assertEquals(0, BrowserCalls.timeoutNanos("0S"));
  }

  @Test
  void aCancelOfACallWithASignedGrpcTimeoutIsItsDeadline() {
    Status negative = BrowserCalls.statusForReset(Http2Error.CANCEL, "-1S", 0);
    assertEquals(Status.Code.DEADLINE_EXCEEDED, negative.getCode());
    assertEquals("deadline of 0 ms (grpc-timeout -1S) exceeded after 0 ms", negative.getDescription());
    Status positive = BrowserCalls.statusForReset(Http2Error.CANCEL, "+5S", TimeUnit.SECONDS.toNanos(5));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, positive.getCode());
    assertEquals("deadline of 5000 ms (grpc-timeout +5S) exceeded after 5000 ms", positive.getDescription());
    assertEquals(Status.Code.CANCELLED,
        BrowserCalls.statusForReset(Http2Error.CANCEL, "+5S", TimeUnit.MILLISECONDS.toNanos(4999)).getCode());
  }

  @Test
  void aCancelOnceTheGrpcTimeoutHasElapsedIsDeadlineExceededAndSaysBothTimes() {
    Status status = BrowserCalls.statusForReset(Http2Error.CANCEL, "500m", TimeUnit.MILLISECONDS.toNanos(503));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode());
    assertEquals("deadline of 500 ms (grpc-timeout 500m) exceeded after 503 ms", status.getDescription());
    assertEquals("deadline of 0.25 ms (grpc-timeout 250u) exceeded after 1 ms",
        BrowserCalls.statusForReset(Http2Error.CANCEL, "250u", 1_000_000).getDescription());
  }

  @Test
  void aCancelBeforeTheGrpcTimeoutOrWithoutOneIsCancelled() {
    assertEquals(Status.Code.CANCELLED,
        BrowserCalls.statusForReset(Http2Error.CANCEL, "500m", TimeUnit.MILLISECONDS.toNanos(499)).getCode());
    assertEquals(Status.Code.CANCELLED, BrowserCalls.statusForReset(Http2Error.CANCEL, null, Long.MAX_VALUE).getCode());
    assertEquals(Status.Code.CANCELLED,
        BrowserCalls.statusForReset(Http2Error.CANCEL, "soon", Long.MAX_VALUE).getCode());
  }

  @Test
  void anyOtherResetBrokeTheCall() {
    Status status = BrowserCalls.statusForReset(Http2Error.INTERNAL_ERROR, "500m", Long.MAX_VALUE);
    assertEquals(Status.Code.INTERNAL, status.getCode());
    assertEquals("the server reset the call: INTERNAL_ERROR", status.getDescription());
  }
}
