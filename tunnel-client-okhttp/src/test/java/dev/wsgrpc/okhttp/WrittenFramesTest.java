package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The Pongs and the Close among a client's written bytes, cut into writes at every point. */
class WrittenFramesTest {

  private static final byte[] REQUEST = ("GET /grpc HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")
      .getBytes(StandardCharsets.ISO_8859_1);

  @Test
  void pongsAmongMessagesAreCountedWhereverTheWritesCutThem() {
    byte[] bytes = concat(REQUEST, masked(0x82, 3), masked(0x8A, 0), masked(0x02, 300), masked(0x8A, 125),
        masked(0x80, 70_000), masked(0x89, 4), masked(0x8A, 4));
    for (int cut = 1; cut <= 64; cut++) {
      WrittenFrames frames = new WrittenFrames();
      int counted = 0;
      for (int off = 0; off < bytes.length; off += cut) {
        counted += frames.written(bytes, off, Math.min(cut, bytes.length - off));
      }
      assertEquals(3, counted, "writes of " + cut + " bytes");
    }
  }

  @Test
  void aPongIsCountedOnlyOnceItsLastByteIsWritten() {
    byte[] pong = masked(0x8A, 10);
    WrittenFrames frames = new WrittenFrames();
    assertEquals(0, frames.written(REQUEST, 0, REQUEST.length));
    assertEquals(0, frames.written(pong, 0, pong.length - 1));
    assertEquals(1, frames.written(pong, pong.length - 1, 1));
  }

  @Test
  void aCloseIsNotedOnlyOnceItsLastByteIsWrittenWhereverTheWritesCutIt() {
    byte[] bytes = concat(REQUEST, masked(0x82, 300), masked(0x88, 0x08 + 2), masked(0x82, 3));
    int closeEnds = REQUEST.length + 300 + 8 + 6 + 10;
    for (int cut = 1; cut <= 64; cut++) {
      WrittenFrames frames = new WrittenFrames();
      for (int off = 0; off < bytes.length; off += cut) {
        frames.written(bytes, off, Math.min(cut, bytes.length - off));
        assertEquals(off + cut >= closeEnds, frames.closeWritten(), "writes of " + cut + " bytes, at " + off);
      }
    }
  }

  @Test
  void closeBytesInMessagesAreNotACloseFrame() {
    byte[] message = masked(0x82, 200); // payload bytes 0x8A, and a 0x88 in none of the headers
    byte[] bytes = concat(REQUEST, message, new byte[] {(byte) 0x82, (byte) 0x82, 1, 2, 3, 4, (byte) 0x88, 0x00});
    WrittenFrames frames = new WrittenFrames();
    frames.written(bytes, 0, bytes.length);
    assertFalse(frames.closeWritten());
  }

  @Test
  void pongBytesInTheRequestHeadAreNotFrames() {
    byte[] head = "GET / HTTP/1.1\r\nX: \u008a\u0080\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    assertEquals(0, new WrittenFrames().written(head, 0, head.length));
  }

  /** A masked frame with {@code firstByte} (FIN and opcode) and {@code length} payload bytes, in the shortest form. */
  private static byte[] masked(int firstByte, int length) {
    byte[] header;
    if (length <= 125) {
      header = new byte[] {(byte) firstByte, (byte) (0x80 | length)};
    } else if (length <= 0xffff) {
      header = new byte[] {(byte) firstByte, (byte) (0x80 | 126), (byte) (length >> 8), (byte) length};
    } else {
      header = new byte[] {(byte) firstByte, (byte) (0x80 | 127), 0, 0, 0, 0, (byte) (length >> 24),
          (byte) (length >> 16), (byte) (length >> 8), (byte) length};
    }
    byte[] payload = new byte[length];
    java.util.Arrays.fill(payload, (byte) 0x8A); // masked payload bytes that look like Pong headers
    return concat(header, new byte[] {1, 2, 3, 4}, payload);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p, 0, p.length);
    }
    return out.toByteArray();
  }
}
