package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The frame limit under OkHttp's reader, fed one byte per read so that every header is split at every point. */
class InboundFrameLimitTest {

  private static final byte[] HEAD_101 = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
      .getBytes(StandardCharsets.ISO_8859_1);

  private final AtomicInteger refusals = new AtomicInteger();
  private final AtomicReference<String> refused = new AtomicReference<>();

  @Test
  void framesWithinTheLimitPassUnchanged() throws IOException {
    byte[] in = concat(HEAD_101, frame(0x82, 1000), frame(0x02, 600), frame(0x89, 4), frame(0x80, 400));
    assertArrayEquals(in, readAll(in, 1000));
    assertEquals(0, refusals.get());
  }

  @Test
  void aContinuationTakingItsMessageOverTheLimitIsRefusedAtItsHeader() throws IOException {
    byte[] before = concat(HEAD_101, frame(0x82, 3), frame(0x02, 600));
    byte[] out = readAll(concat(before, frame(0x80, 401)), 1000);
    assertArrayEquals(concat(before, new byte[] {(byte) 0x80, 0x00}, new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xF1}),
        out, "the open message ended by an empty last frame, then Close 1009");
    assertEquals(1, refusals.get());
  }

  @Test
  void aSixtyFourBitLengthIsRefusedWithoutItsPayload() throws IOException {
    byte[] header = {(byte) 0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0};
    byte[] out = readAll(concat(HEAD_101, header, new byte[50]), 1000);
    assertArrayEquals(concat(HEAD_101, new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xF1}), out);
    assertEquals(1, refusals.get());
  }

  @Test
  void aReservedOpcodeIsRefusedWithClose1002InTheNettyClientsWords() throws IOException {
    byte[] before = concat(HEAD_101, frame(0x82, 3));
    byte[] out = readAll(concat(before, frame(0x83, 1)), 1000);
    assertArrayEquals(concat(before, new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xEA}), out);
    assertEquals("1002 expected a defined opcode but was reserved opcode 0x3", refused.get());
  }

  @Test
  void aCloseWithACodeThatMayNotBeSentIsRefusedOnceWhole() throws IOException {
    byte[] out = readAll(concat(HEAD_101, new byte[] {(byte) 0x88, 0x04, 0x03, (byte) 0xED, 'h', 'i'}), 1000);
    assertArrayEquals(concat(HEAD_101, new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xEA}), out);
    assertEquals("1002 expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 1005", refused.get());
  }

  @Test
  void aRefusalWhoseCloseWasNotWrittenEndsTheStreamInsteadOfHandingOverAClose() throws IOException {
    byte[] before = concat(HEAD_101, frame(0x82, 3));
    InboundFrameLimit in = new InboundFrameLimit(oneByteAtATime(concat(before, frame(0x82, 1001))), 1000,
        (code, problem) -> false);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] b = new byte[8192];
    for (int n; (n = in.read(b, 0, b.length)) != -1; ) {
      out.write(b, 0, n);
    }
    assertArrayEquals(before, out.toByteArray());
  }

  @Test
  void anAllowedCloseAndTheControlFramesInsideAMessagePassUnchanged() throws IOException {
    byte[] in = concat(HEAD_101, frame(0x02, 3), frame(0x89, 0), frame(0x8A, 2), frame(0x80, 1),
        new byte[] {(byte) 0x88, 0x04, 0x03, (byte) 0xE8, 'o', 'k'});
    assertArrayEquals(in, readAll(in, 1000));
    assertEquals(0, refusals.get());
  }

  @Test
  void framesAfterInterimAnswersAndThe101AreFollowed() throws IOException {
    byte[] interim = ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    byte[] before = concat(interim, HEAD_101, frame(0x82, 3));
    byte[] out = readAll(concat(before, frame(0x82, 1001)), 1000);
    assertArrayEquals(concat(before, new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xF1}), out);
    assertEquals("1009 Max frame length of 1000 has been exceeded.", refused.get());
  }

  /** OkHttp reads lines to LF less one CR: a line of a lone CR is a header line to it, and so here. */
  @Test
  void aHeaderLineOfALoneCrDoesNotEndTheHead() throws IOException {
    byte[] interim = "HTTP/1.1 103 Early Hints\r\n\r\r\nX: HTTP/1.1 101\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    byte[] before = concat(interim, HEAD_101, frame(0x82, 3));
    byte[] out = readAll(concat(before, frame(0x82, 1001)), 1000);
    assertArrayEquals(concat(before, new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xF1}), out);
  }

  /** OkHttp reads any Unicode digits as a status code (a fullwidth 103 is a 103 to it): refused here. */
  @Test
  void aStatusCodeInOtherThanAsciiDigitsIsRefused() {
    byte[] in = concat("HTTP/1.1 \uFF11\uFF10\uFF13 Early Hints\r\n\r\n".getBytes(StandardCharsets.UTF_8), HEAD_101,
        frame(0x82, 1001));
    ProtocolException e = assertThrows(ProtocolException.class, () -> readAll(in, 1000));
    assertTrue(e.getMessage().startsWith("expected an HTTP status line with a three-digit code but was 'HTTP/1.1 "),
        e.getMessage());
  }

  @Test
  void aSecondRequestAfterAFinalAnswerOtherThan101IsRefused() throws IOException {
    InboundFrameLimit in = new InboundFrameLimit(oneByteAtATime(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1)), 1000, (code, problem) -> true);
    in.checkNoSecondRequest(); // the first request, before the answer
    while (in.read(new byte[100], 0, 100) != -1) {
      // the whole answer
    }
    ProtocolException e = assertThrows(ProtocolException.class, in::checkNoSecondRequest);
    assertTrue(e.getMessage().startsWith("expected HTTP 101 but was 'HTTP/1.1 503 Service Unavailable', after which "),
        e.getMessage());
    ProtocolException read = assertThrows(ProtocolException.class, () -> in.read(new byte[1], 0, 1));
    assertEquals(e.getMessage(), read.getMessage(), "OkHttp, its request refused, reads for no answer");
  }

  @Test
  void anAnswerOtherThan101PassesUntouched() throws IOException {
    byte[] in = concat("HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1),
        new byte[] {(byte) 0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0});
    assertArrayEquals(in, readAll(in, 1000));
    assertEquals(0, refusals.get());
  }

  @Test
  void aPingWaitsWhilePongsAreOwedWithEverythingBeforeItHandedOut() throws IOException {
    byte[] before = concat(HEAD_101, frame(0x89, 4), frame(0x82, 300));
    byte[] held = concat(frame(0x89, 125), frame(0x82, 2));
    AtomicInteger passes = new AtomicInteger();
    AtomicInteger waits = new AtomicInteger();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    InboundFrameLimit.Pings owedOnce = new InboundFrameLimit.Pings() {
      @Override
      public boolean tryPass() {
        // The first Ping passes; the second is owed a Pong until the reader has waited once.
        return passes.incrementAndGet() == 1 || waits.get() > 0;
      }

      @Override
      public void awaitPongsWritten() {
        assertArrayEquals(before, out.toByteArray(), "handed out before the wait");
        waits.incrementAndGet();
      }
    };
    InboundFrameLimit in = new InboundFrameLimit(oneByteAtATime(concat(before, held)), 1000, owedOnce,
        (code, problem) -> refusals.incrementAndGet() > 0);
    byte[] b = new byte[8192];
    for (int n; (n = in.read(b, 0, b.length)) != -1; ) {
      out.write(b, 0, n);
    }
    assertArrayEquals(concat(before, held), out.toByteArray());
    assertEquals(1, waits.get());
  }

  private static InputStream oneByteAtATime(byte[] input) {
    return new ByteArrayInputStream(input) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, 1));
      }
    };
  }

  private byte[] readAll(byte[] input, int limit) throws IOException {
    InboundFrameLimit in = new InboundFrameLimit(oneByteAtATime(input), limit, (code, problem) -> {
      refusals.incrementAndGet();
      refused.set(code + " " + problem);
      return true;
    });
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] b = new byte[8192];
    for (int n; (n = in.read(b, 0, b.length)) != -1; ) {
      out.write(b, 0, n);
    }
    return out.toByteArray();
  }

  /** An unmasked frame with {@code firstByte} (FIN and opcode) and {@code length} payload bytes. */
  private static byte[] frame(int firstByte, int length) {
    byte[] header = length <= 125 ? new byte[] {(byte) firstByte, (byte) length}
        : new byte[] {(byte) firstByte, 126, (byte) (length >> 8), (byte) length};
    return concat(header, new byte[length]);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p, 0, p.length);
    }
    return out.toByteArray();
  }
}
