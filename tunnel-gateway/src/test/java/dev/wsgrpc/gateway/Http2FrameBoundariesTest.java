package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class Http2FrameBoundariesTest {

  private final List<String> frames = new ArrayList<>();

  private static ByteBuf frame(int length, int type, int flags, int stream) {
    ByteBuf b = Unpooled.buffer();
    b.writeMedium(length).writeByte(type).writeByte(flags).writeInt(stream);
    b.writeZero(length);
    return b;
  }

  @Test
  void stopsAfterEachFrameAndReportsItsHeader() {
    Http2FrameBoundaries f = new Http2FrameBoundaries(0, (t, fl, s) -> frames.add(t + "/" + fl + "/" + s));
    ByteBuf b = Unpooled.wrappedBuffer(frame(6, 4, 0, 0), frame(0, 4, 1, 0), frame(3, 1, 5, 7));
    int end = b.writerIndex();
    assertEquals(15, f.advance(b, 0, end));
    assertTrue(f.atBoundary());
    assertEquals(24, f.advance(b, 15, end));
    assertEquals(36, f.advance(b, 24, end));
    assertEquals(List.of("4/0/0", "4/1/0", "1/5/7"), frames);
    assertTrue(b.release());
  }

  @Test
  void followsFramesSplitAcrossBuffersAtEveryByte() {
    Http2FrameBoundaries f = new Http2FrameBoundaries(0, (t, fl, s) -> frames.add(t + "/" + s));
    ByteBuf all = Unpooled.wrappedBuffer(frame(5, 0, 1, 3), frame(2, 3, 0, 5));
    for (int i = 0; i < all.writerIndex(); i++) {
      ByteBuf one = all.slice(i, 1);
      f.advance(one, 0, 1);
      assertEquals(i == 13 || i == 24, f.atBoundary(), "boundary after byte " + i);
    }
    assertEquals(List.of("0/3", "3/5"), frames);
    assertTrue(all.release());
  }

  @Test
  void skipsTheClientPrefaceBeforeTheFirstFrame() {
    Http2FrameBoundaries f = new Http2FrameBoundaries(24, (t, fl, s) -> frames.add("type " + t));
    ByteBuf b = Unpooled.wrappedBuffer(Unpooled.copiedBuffer("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", StandardCharsets.US_ASCII),
        frame(0, 4, 0, 0));
    f.advanceAll(b);
    assertEquals(List.of("type 4"), frames);
    assertTrue(f.atBoundary());
    assertTrue(b.release());
  }

  @Test
  void notABoundaryInsideAHeaderBlock() {
    Http2FrameBoundaries f = new Http2FrameBoundaries(0, (t, fl, s) -> frames.add(t + "/" + fl));
    ByteBuf headers = frame(4, 1, 0, 1); // HEADERS without END_HEADERS: CONTINUATION must follow
    ByteBuf continuation = frame(4, 9, 0, 1);
    ByteBuf last = frame(3, 9, 4, 1); // CONTINUATION with END_HEADERS ends the block
    f.advanceAll(headers);
    assertFalse(f.atBoundary(), "after HEADERS without END_HEADERS");
    f.advanceAll(continuation);
    assertFalse(f.atBoundary(), "after a CONTINUATION without END_HEADERS");
    f.advanceAll(last);
    assertTrue(f.atBoundary(), "after END_HEADERS");
    assertEquals(List.of("1/0", "9/0", "9/4"), frames);
    assertTrue(headers.release());
    assertTrue(continuation.release());
    assertTrue(last.release());
  }

  @Test
  void aHeaderBlockInOneFrameIsFollowedByABoundary() {
    Http2FrameBoundaries f = new Http2FrameBoundaries(0, (t, fl, s) -> { });
    ByteBuf b = frame(4, 1, 4, 1);
    f.advanceAll(b);
    assertTrue(f.atBoundary());
    assertTrue(b.release());
  }

  @Test
  void notABoundaryBeforeTheFirstFrame() {
    assertFalse(new Http2FrameBoundaries(0, (t, fl, s) -> { }).atBoundary());
  }

  @Test
  void gracefulGoAwayIsSeventeenBytesOnStreamZero() {
    ByteBuf b = Unpooled.buffer();
    Http2FrameBoundaries.writeGracefulGoAway(b);
    assertEquals("000008070000000000" + "7fffffff" + "00000000", io.netty.buffer.ByteBufUtil.hexDump(b));
    assertTrue(b.release());
  }
}
