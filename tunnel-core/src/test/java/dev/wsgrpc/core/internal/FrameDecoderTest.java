package dev.wsgrpc.core.internal;

import static dev.wsgrpc.testing.WireFrames.RFC_KEY;
import static dev.wsgrpc.testing.WireFrames.frame;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.InboundRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link FrameDecoder} against the rules of RFC 6455 section 5, fed the bytes of the RFC's examples (section 5.7)
 * and frames built from the layout of section 5.2.
 */
class FrameDecoderTest {

  private static final int MAX = 1024 * 1024;
  /** The masking key of the RFC's examples. */

  /** Records frames, other messages and errors; the test releases the frames. */
  @ChannelHandler.Sharable
  static final class Recorder extends InboundRecorder {
    final List<WebSocketFrame> frames = new ArrayList<>();
    final List<Object> others = new ArrayList<>();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof WebSocketFrame) {
        frames.add((WebSocketFrame) msg);
      } else {
        others.add(msg);
      }
    }

    /** Every payload, concatenated; releases the frames. */
    byte[] takePayload() {
      ByteBuf all = Unpooled.buffer();
      for (WebSocketFrame f : frames) {
        all.writeBytes(f.content(), f.content().readerIndex(), f.content().readableBytes());
      }
      releaseAll();
      byte[] bytes = ByteBufUtil.getBytes(all);
      assertTrue(all.release());
      return bytes;
    }

    void releaseAll() {
      List<ByteBuf> payloads = new ArrayList<>();
      for (WebSocketFrame f : frames) {
        if (f.content().capacity() > 0) { // the shared empty buffer is never freed
          payloads.add(f.content());
        }
        f.release();
      }
      for (ByteBuf b : payloads) {
        assertEquals(0, b.refCnt(), "released");
      }
      frames.clear();
    }

    CorruptedWebSocketFrameException onlyError() {
      assertEquals(1, exceptions.size(), "exceptions: " + exceptions);
      return assertInstanceOf(CorruptedWebSocketFrameException.class, exceptions.get(0));
    }
  }

  private final Recorder recorder = new Recorder();
  private FrameDecoder decoder;

  /** A server-side decoder (expects masked frames). */
  private EmbeddedChannel server() {
    return channel(true, MAX);
  }

  /** A client-side decoder (expects unmasked frames). */
  private EmbeddedChannel client() {
    return channel(false, MAX);
  }

  private EmbeddedChannel channel(boolean expectMasked, int max) {
    decoder = new FrameDecoder(expectMasked, max);
    return new EmbeddedChannel(decoder, recorder);
  }

  static ByteBuf hex(int... bytes) {
    ByteBuf buf = Unpooled.buffer(bytes.length);
    for (int b : bytes) {
      buf.writeByte(b);
    }
    return buf;
  }

  static ByteBuf masked(int firstByte, String payload) {
    return frame(firstByte, payload.getBytes(StandardCharsets.UTF_8), RFC_KEY);
  }

  static ByteBuf unmasked(int firstByte, byte[] payload) {
    return frame(firstByte, payload, null);
  }

  static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  static String text(ByteBuf buf) {
    return buf.toString(StandardCharsets.UTF_8);
  }

  /** Feeds {@code frame}, expects one error with {@code code} and {@code message}, and nothing after it. */
  private void assertViolation(EmbeddedChannel ch, ByteBuf frame, int code, String message) {
    assertFalse(ch.writeInbound(frame));
    CorruptedWebSocketFrameException e = recorder.onlyError();
    assertEquals(code, e.closeStatus().code());
    assertEquals(message, e.getMessage());
    assertEquals(0, frame.refCnt(), "the input is released");
    assertEquals(FrameDecoder.State.CORRUPT, decoder.state());
    // Whatever follows a violation is skipped, even a valid frame.
    ByteBuf later = masked(0x82, "later");
    ch.writeInbound(later);
    assertEquals(0, later.refCnt());
    assertEquals(1, recorder.exceptions.size());
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  // ---- RFC 6455 section 5.7 examples --------------------------------------------------------------------------

  @Test
  void rfcSingleFrameUnmaskedTextMessage() {
    EmbeddedChannel ch = client();
    ch.writeInbound(hex(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
    TextWebSocketFrame f = assertInstanceOf(TextWebSocketFrame.class, recorder.frames.get(0));
    assertTrue(f.isFinalFragment());
    assertEquals("Hello", text(f.content()));
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  @Test
  void rfcSingleFrameMaskedTextMessage() {
    EmbeddedChannel ch = server();
    ch.writeInbound(hex(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
    assertEquals("Hello", text(recorder.frames.get(0).content()));
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  @Test
  void rfcFragmentedUnmaskedTextMessage() {
    EmbeddedChannel ch = client();
    ch.writeInbound(hex(0x01, 0x03, 0x48, 0x65, 0x6c));
    ch.writeInbound(hex(0x80, 0x02, 0x6c, 0x6f));
    assertEquals(2, recorder.frames.size());
    TextWebSocketFrame first = assertInstanceOf(TextWebSocketFrame.class, recorder.frames.get(0));
    assertFalse(first.isFinalFragment());
    ContinuationWebSocketFrame last = assertInstanceOf(ContinuationWebSocketFrame.class, recorder.frames.get(1));
    assertTrue(last.isFinalFragment());
    assertEquals("Hello", new String(recorder.takePayload(), StandardCharsets.US_ASCII));
    assertFalse(ch.finish());
  }

  @Test
  void rfcUnmaskedPingAndMaskedPong() {
    EmbeddedChannel ch = client();
    ch.writeInbound(hex(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
    PingWebSocketFrame ping = assertInstanceOf(PingWebSocketFrame.class, recorder.frames.get(0));
    assertEquals("Hello", text(ping.content()));
    recorder.releaseAll();
    assertFalse(ch.finish());

    EmbeddedChannel server = server();
    server.writeInbound(hex(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
    PongWebSocketFrame pong = assertInstanceOf(PongWebSocketFrame.class, recorder.frames.get(0));
    assertEquals("Hello", text(pong.content()));
    recorder.releaseAll();
    assertFalse(server.finish());
  }

  @Test
  void rfc256BytesBinaryMessageInASingleUnmaskedFrame() {
    EmbeddedChannel ch = client();
    byte[] data = random(256);
    ByteBuf in = hex(0x82, 0x7E, 0x01, 0x00).writeBytes(data);
    ch.writeInbound(in);
    BinaryWebSocketFrame f = assertInstanceOf(BinaryWebSocketFrame.class, recorder.frames.get(0));
    assertTrue(f.isFinalFragment());
    assertArrayEquals(data, recorder.takePayload());
    assertFalse(ch.finish());
  }

  @Test
  void rfc64KiBBinaryMessageInASingleUnmaskedFrame() {
    EmbeddedChannel ch = client();
    byte[] data = random(65536);
    ch.writeInbound(hex(0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00).writeBytes(data));
    assertEquals(1, recorder.frames.size());
    assertArrayEquals(data, recorder.takePayload());
    assertFalse(ch.finish());
  }

  // ---- no copies ----------------------------------------------------------------------------------------------

  @Test
  void maskedPayloadIsUnmaskedInPlaceAndPassedOnAsASliceOfTheReadBuffer() {
    EmbeddedChannel ch = server();
    byte[] data = random(3000);
    ByteBuf in = frame(0x82, data, RFC_KEY);
    byte[] memory = in.array();
    ch.writeInbound(in);
    ByteBuf payload = recorder.frames.get(0).content();
    assertSame(memory, payload.array(), "the payload lies where it was read");
    assertEquals(8, payload.arrayOffset() + payload.readerIndex(), "after the 8-byte header");
    assertArrayEquals(data, recorder.takePayload());
    assertFalse(ch.finish());
  }

  @Test
  void readOnlyInputIsCopiedRatherThanUnmaskedInPlace() {
    EmbeddedChannel ch = server();
    ByteBuf original = masked(0x82, "read-only bytes");
    byte[] before = ByteBufUtil.getBytes(original);
    ch.writeInbound(original.retain().asReadOnly());
    assertEquals("read-only bytes", text(recorder.frames.get(0).content()));
    assertArrayEquals(before, ByteBufUtil.getBytes(original), "the input is untouched");
    assertTrue(original.release());
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  // ---- frames cut anywhere ------------------------------------------------------------------------------------

  @Test
  void aFrameFedOneByteAtATimeArrivesWholeInPieces() {
    EmbeddedChannel ch = server();
    byte[] data = random(70_000); // 64-bit length: the longest header (14 bytes)
    ByteBuf in = frame(0x82, data, RFC_KEY);
    while (in.isReadable()) {
      ch.writeInbound(in.readRetainedSlice(Math.min(in.readableBytes(), 1 + in.readerIndex() % 13)));
    }
    in.release();
    List<WebSocketFrame> frames = recorder.frames;
    assertInstanceOf(BinaryWebSocketFrame.class, frames.get(0));
    assertFalse(frames.get(0).isFinalFragment());
    for (int i = 1; i < frames.size(); i++) {
      assertInstanceOf(ContinuationWebSocketFrame.class, frames.get(i));
      assertEquals(i == frames.size() - 1, frames.get(i).isFinalFragment(), "only the last piece is final");
    }
    assertArrayEquals(data, recorder.takePayload());
    assertEquals(0, in.refCnt(), "the pieces were slices of the reads");
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void everySplitOfTwoFramesDecodesTheSame() {
    byte[] one = random(130);
    byte[] two = random(5);
    ByteBuf both = Unpooled.wrappedBuffer(frame(0x02, one, RFC_KEY), frame(0x80, two, RFC_KEY));
    byte[] bytes = ByteBufUtil.getBytes(both);
    assertTrue(both.release());
    for (int cut = 0; cut <= bytes.length; cut++) {
      EmbeddedChannel ch = server();
      byte[] copy = bytes.clone(); // unmasked in place
      ch.writeInbound(Unpooled.wrappedBuffer(copy, 0, cut));
      ch.writeInbound(Unpooled.wrappedBuffer(copy, cut, copy.length - cut));
      WebSocketFrame last = recorder.frames.get(recorder.frames.size() - 1);
      assertTrue(last.isFinalFragment(), "cut at " + cut);
      byte[] payload = recorder.takePayload();
      assertArrayEquals(one, java.util.Arrays.copyOf(payload, 130), "cut at " + cut);
      assertArrayEquals(two, java.util.Arrays.copyOfRange(payload, 130, 135), "cut at " + cut);
      assertTrue(recorder.exceptions.isEmpty());
      assertFalse(ch.finish());
    }
  }

  @Test
  void aControlFrameSplitAcrossReadsArrivesWhole() {
    EmbeddedChannel ch = server();
    ByteBuf ping = masked(0x89, "are you there?");
    ch.writeInbound(ping.readRetainedSlice(9));
    assertTrue(recorder.frames.isEmpty());
    ch.writeInbound(ping);
    PingWebSocketFrame f = assertInstanceOf(PingWebSocketFrame.class, recorder.frames.get(0));
    assertEquals("are you there?", text(f.content()));
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  @Test
  void controlFramesMayBeInjectedInTheMiddleOfAFragmentedMessage() {
    EmbeddedChannel ch = server();
    ch.writeInbound(Unpooled.wrappedBuffer(masked(0x02, "ab"), masked(0x89, ""), masked(0x8A, "p"),
        masked(0x00, "cd"), masked(0x80, "ef")));
    List<WebSocketFrame> f = recorder.frames;
    assertInstanceOf(BinaryWebSocketFrame.class, f.get(0));
    assertInstanceOf(PingWebSocketFrame.class, f.get(1));
    assertFalse(f.get(1).content().isReadable());
    assertInstanceOf(PongWebSocketFrame.class, f.get(2));
    assertInstanceOf(ContinuationWebSocketFrame.class, f.get(3));
    assertTrue(f.get(4).isFinalFragment());
    recorder.releaseAll();
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void emptyDataFramesArePassedOnEmpty() {
    EmbeddedChannel ch = server();
    ch.writeInbound(masked(0x82, ""));
    assertFalse(recorder.frames.get(0).content().isReadable());
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  // ---- RFC 6455 section 5.2: base framing ---------------------------------------------------------------------

  @Test
  void reservedBitsMustBeZeroWhenNoExtensionIsNegotiated() {
    for (int rsv : new int[] {0x40, 0x20, 0x10}) {
      recorder.exceptions.clear();
      assertViolation(server(), masked(0x82 | rsv, "x"), 1002,
          "expected RSV bits 0 (no extension was negotiated) but was " + (rsv >> 4) + " in a binary frame");
    }
  }

  @Test
  void reservedOpcodesMustFailTheConnection() {
    for (int opcode : new int[] {0x3, 0x7, 0xB, 0xF}) {
      recorder.exceptions.clear();
      assertViolation(server(), masked(0x80 | opcode, "x"), 1002,
          "expected a defined opcode but was reserved opcode 0x" + Integer.toHexString(opcode));
    }
  }

  @Test
  void serversMustCloseOnUnmaskedFrames() {
    assertViolation(server(), unmasked(0x82, new byte[] {1}), 1002,
        "expected a masked frame (a client masks every frame) but it was not masked");
  }

  @Test
  void clientsMustCloseOnMaskedFrames() {
    assertViolation(client(), masked(0x82, "x"), 1002,
        "expected an unmasked frame (a server masks none) but it was masked");
  }

  @Test
  void lengthsMustUseTheMinimalNumberOfBytes() {
    assertViolation(client(), hex(0x82, 0x7E, 0x00, 0x7D), 1002,
        "expected the shortest length encoding but 125 was sent in 2 bytes");
    recorder.exceptions.clear();
    assertViolation(client(), hex(0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF), 1002,
        "expected the shortest length encoding but 65535 was sent in 8 bytes");
  }

  @Test
  void theMostSignificantBitOfA64BitLengthMustBeZero() {
    assertViolation(client(), hex(0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0), 1002,
        "expected a 64-bit length with the most significant bit 0 but was 0x8000000000000000");
  }

  @Test
  void framesOverTheLimitAreMessageTooBig() {
    assertViolation(channel(true, 1024), frame(0x82, random(1025), RFC_KEY), 1009,
        "Max frame length of 1024 has been exceeded.");
  }

  @Test
  void framesAtTheLimitAreAccepted() {
    EmbeddedChannel ch = channel(true, 1024);
    byte[] data = random(1024);
    ch.writeInbound(frame(0x82, data, RFC_KEY));
    assertArrayEquals(data, recorder.takePayload());
    assertFalse(ch.finish());
  }

  @Test
  void aHugeAnnouncedLengthFailsBeforeAnyPayloadArrives() {
    assertViolation(client(), hex(0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF), 1009,
        "Max frame length of 1048576 has been exceeded.");
  }

  // ---- RFC 6455 section 5.4 and 5.5: fragmentation and control frames ----------------------------------------

  @Test
  void controlFramesMustNotBeFragmented() {
    assertViolation(server(), masked(0x09, "ping"), 1002,
        "expected control frames to be final but a ping frame was fragmented");
  }

  @Test
  void controlFramesMustHaveAPayloadOfAtMost125Bytes() {
    assertViolation(server(), frame(0x89, random(126), RFC_KEY), 1002,
        "expected a control frame payload of at most 125 bytes but a ping frame announced a 16-bit length");
  }

  @Test
  void aContinuationFrameMustFollowAnUnfinishedMessage() {
    assertViolation(server(), masked(0x80, "orphan"), 1002,
        "expected a text or binary frame to start a message but was a continuation frame");
  }

  @Test
  void aNewDataMessageMustNotStartInsideAFragmentedOne() {
    EmbeddedChannel ch = server();
    ch.writeInbound(masked(0x02, "abc"));
    assertEquals("abc", new String(recorder.takePayload(), StandardCharsets.US_ASCII));
    assertViolation(ch, masked(0x81, "def"), 1002,
        "expected a continuation frame inside a fragmented message but was a text frame");
  }

  @Test
  void aFinishedFragmentedMessageAllowsANewOne() {
    EmbeddedChannel ch = server();
    ch.writeInbound(Unpooled.wrappedBuffer(masked(0x02, "a"), masked(0x80, "b"), masked(0x82, "c")));
    assertEquals("abc", new String(recorder.takePayload(), StandardCharsets.US_ASCII));
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  // ---- RFC 6455 section 5.5.1 and 7.4: close frames -----------------------------------------------------------

  @Test
  void closeFramesCarryTheirCodeAndReason() {
    EmbeddedChannel ch = client();
    ByteBuf payload = Unpooled.buffer().writeShort(1001);
    payload.writeCharSequence("bye ✓", StandardCharsets.UTF_8);
    ch.writeInbound(unmasked(0x88, ByteBufUtil.getBytes(payload)));
    assertTrue(payload.release());
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, recorder.frames.get(0));
    assertEquals(1001, close.statusCode());
    assertEquals("bye ✓", close.reasonText());
    assertEquals(FrameDecoder.State.CLOSED, decoder.state());
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  @Test
  void anEmptyCloseFrameIsAccepted() {
    EmbeddedChannel ch = client();
    ch.writeInbound(hex(0x88, 0x00));
    assertEquals(-1, assertInstanceOf(CloseWebSocketFrame.class, recorder.frames.get(0)).statusCode());
    recorder.releaseAll();
    assertFalse(ch.finish());
  }

  @Test
  void bytesAfterACloseFrameAreDiscarded() {
    EmbeddedChannel ch = client();
    ByteBuf late = unmasked(0x82, new byte[] {1, 2, 3});
    ch.writeInbound(Unpooled.wrappedBuffer(hex(0x88, 0x02, 0x03, 0xE8), late.retain()));
    assertEquals(1, recorder.frames.size());
    ch.writeInbound(late);
    assertEquals(1, recorder.frames.size(), "nothing follows a close");
    recorder.releaseAll();
    assertEquals(0, late.refCnt());
    assertFalse(ch.finish());
  }

  @Test
  void aClosePayloadOfOneByteIsAProtocolError() {
    assertViolation(server(), frame(0x88, new byte[] {0x03}, RFC_KEY), 1002,
        "expected a close payload of 0 or at least 2 bytes but was 1 byte");
  }

  @Test
  void closeCodesThatMustNotBeSentAreAProtocolError() {
    for (int code : new int[] {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
      recorder.exceptions.clear();
      assertViolation(server(), frame(0x88, new byte[] {(byte) (code >> 8), (byte) code}, RFC_KEY), 1002,
          "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was " + code);
    }
  }

  @Test
  void closeCodesThatMaybeSentAreAccepted() {
    for (int code : new int[] {1000, 1003, 1007, 1014, 3000, 4999}) {
      EmbeddedChannel ch = server();
      ch.writeInbound(frame(0x88, new byte[] {(byte) (code >> 8), (byte) code}, RFC_KEY));
      assertEquals(code, ((CloseWebSocketFrame) recorder.frames.get(0)).statusCode());
      assertTrue(recorder.exceptions.isEmpty());
      recorder.releaseAll();
      assertFalse(ch.finish());
    }
  }

  @Test
  void aCloseReasonThatIsNotUtf8IsInvalidPayloadData() {
    assertViolation(server(), frame(0x88, new byte[] {0x03, (byte) 0xE8, (byte) 0xC3, 0x28}, RFC_KEY), 1007,
        "expected a UTF-8 close reason but it was not");
  }

  @Test
  void violationInACloseFrameSplitAcrossReadsReleasesWhatWasGathered() {
    EmbeddedChannel ch = server();
    ByteBuf close = frame(0x88, new byte[] {0x03, (byte) 0xED, 'x'}, RFC_KEY); // 1005 must not be sent
    ch.writeInbound(close.readRetainedSlice(7));
    assertViolation(ch, close, 1002, "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was 1005");
  }

  @Test
  void aControlFrameHalfReadWhenTheChannelClosesIsReleased() {
    EmbeddedChannel ch = server();
    ByteBuf ping = masked(0x89, "half");
    ch.writeInbound(ping.readRetainedSlice(8));
    assertTrue(ping.release());
    assertFalse(ch.finish());
    assertNotEquals(FrameDecoder.State.CORRUPT, decoder.state());
    assertTrue(recorder.frames.isEmpty());
  }

  @Test
  void otherMessagesPassThrough() {
    EmbeddedChannel ch = server();
    ch.writeInbound("not bytes");
    assertEquals(List.of("not bytes"), recorder.others);
    assertFalse(ch.finish());
    assertTrue(recorder.exceptions.isEmpty());
  }
}
