package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes the relay's HTTP/2 frame tracker with byte streams that are mostly well-framed (so that it is followed far)
 * but may lie anywhere, delivered in buffers split at fuzzed points and walked with fuzzed index ranges.
 *
 * <p>The tracker must agree with a plain reading of the same bytes: the same frame headers in the same order, a stop
 * exactly where each frame ends, {@code atBoundary()} true exactly between two frames outside a header block, and never a step outside the
 * range it was given. Every build fuzzes briefly (its own surefire execution); docs/SECURITY.md shows a longer run.
 */
class Http2FrameBoundariesFuzzTest {

  @FuzzTest(maxDuration = "10s")
  void tracksTheSameFramesAsAPlainReading(FuzzedDataProvider data) {
    boolean clientSide = data.consumeBoolean();
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    if (clientSide) {
      stream.writeBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
    int frames = data.consumeInt(0, 40);
    for (int i = 0; i < frames; i++) {
      int length = data.consumeBoolean() ? data.consumeInt(0, 64) : data.consumeInt(0, 0xffffff);
      int actual = Math.min(length, data.consumeInt(0, 2048));
      stream.write(length >>> 16);
      stream.write(length >>> 8);
      stream.write(length);
      stream.write(data.consumeInt(0, 10) == 0 ? data.consumeInt(0, 255) : data.consumeInt(0, 9));
      stream.write(data.consumeInt(0, 255));
      stream.writeBytes(intBytes(data.consumeInt()));
      byte[] payload = new byte[actual];
      stream.writeBytes(payload);
    }
    stream.writeBytes(data.consumeBytes(64));
    byte[] bytes = stream.toByteArray();
    int skip = clientSide ? 24 : 0;

    // The plain reading: every complete frame header, the offset just after each frame, and the offsets after
    // which a header block is still open (a HEADERS, PUSH_PROMISE or CONTINUATION without END_HEADERS: no frame of
    // our own may go there).
    List<String> expectedHeaders = new ArrayList<>();
    List<Long> ends = new ArrayList<>();
    List<Long> insideHeaderBlock = new ArrayList<>();
    boolean inHeaderBlock = false;
    long at = skip;
    while (at + 9 <= bytes.length) {
      int p = (int) at;
      int length = ((bytes[p] & 0xff) << 16) | ((bytes[p + 1] & 0xff) << 8) | (bytes[p + 2] & 0xff);
      int stream0 = (int) (((bytes[p + 5] & 0xffL) << 24 | (bytes[p + 6] & 0xffL) << 16 | (bytes[p + 7] & 0xffL) << 8
          | (bytes[p + 8] & 0xffL)) & Integer.MAX_VALUE);
      int frameType = bytes[p + 3] & 0xff;
      int frameFlags = bytes[p + 4] & 0xff;
      expectedHeaders.add(frameType + "/" + frameFlags + "/" + stream0);
      if (frameType == 0x1 || frameType == 0x5 || frameType == 0x9) {
        inHeaderBlock = (frameFlags & 0x4) == 0;
      }
      at += 9L + length;
      ends.add(at);
      if (inHeaderBlock) {
        insideHeaderBlock.add(at);
      }
    }

    List<String> seen = new ArrayList<>();
    Http2FrameBoundaries tracker = new Http2FrameBoundaries(skip,
        (type, flags, streamId) -> seen.add(type + "/" + flags + "/" + streamId));
    long offset = 0;
    int remaining = bytes.length;
    int from = 0;
    while (remaining > 0) {
      int size = 1 + data.consumeInt(0, remaining - 1);
      // Each read arrives in its own buffer, with bytes before and after it that are not the tracker's.
      int before = data.consumeInt(0, 3);
      ByteBuf buf = Unpooled.buffer(before + size + 3);
      buf.writeZero(before);
      buf.writeBytes(bytes, from, size);
      buf.writeZero(3);
      try {
        int index = before;
        int end = before + size;
        while (index < end) {
          int next = tracker.advance(buf, index, end);
          assertTrue(next > index && next <= end, "advance moves forward within its range: " + index + " -> " + next
              + " of " + end);
          long position = offset + (next - before);
          boolean stoppedAtEnd = ends.contains(position);
          assertTrue(next == end || stoppedAtEnd, "it stops early only where a frame ends: " + position);
          assertEquals(stoppedAtEnd && !insideHeaderBlock.contains(position), tracker.atBoundary(),
              "atBoundary at " + position);
          index = next;
        }
      } finally {
        buf.release();
      }
      offset += size;
      from += size;
      remaining -= size;
    }
    assertEquals(expectedHeaders, seen, "the frame headers seen");
  }

  private static byte[] intBytes(int v) {
    return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
  }
}
