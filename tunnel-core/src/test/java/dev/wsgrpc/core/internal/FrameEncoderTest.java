package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link FrameEncoder}: the bytes of RFC 6455 section 5.7's examples, masking, lengths, copies and ownership. */
class FrameEncoderTest {

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  /** Everything written, concatenated; releases what was written. */
  private static byte[] written(EmbeddedChannel ch) {
    ByteBuf all = Unpooled.buffer();
    Object o;
    while ((o = ch.readOutbound()) != null) {
      ByteBuf b = assertInstanceOf(ByteBuf.class, o);
      all.writeBytes(b);
      assertTrue(b.release());
    }
    byte[] bytes = ByteBufUtil.getBytes(all);
    assertTrue(all.release());
    return bytes;
  }

  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  private static EmbeddedChannel server() {
    return new EmbeddedChannel(new FrameEncoder(false));
  }

  private static EmbeddedChannel client() {
    return new EmbeddedChannel(new FrameEncoder(true));
  }

  // ---- RFC 6455 section 5.7 examples (server side: unmasked) --------------------------------------------------

  @Test
  void rfcSingleFrameUnmaskedTextMessage() {
    EmbeddedChannel ch = server();
    ch.writeAndFlush(new TextWebSocketFrame(ascii("Hello")));
    assertArrayEquals(bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), written(ch));
    assertFalse(ch.finish());
  }

  @Test
  void rfcFragmentedUnmaskedTextMessage() {
    EmbeddedChannel ch = server();
    ch.write(new TextWebSocketFrame(false, 0, ascii("Hel")));
    ch.writeAndFlush(new ContinuationWebSocketFrame(true, 0, ascii("lo")));
    assertArrayEquals(bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f), written(ch));
    assertFalse(ch.finish());
  }

  @Test
  void rfcUnmaskedPing() {
    EmbeddedChannel ch = server();
    ch.writeAndFlush(new PingWebSocketFrame(ascii("Hello")));
    assertArrayEquals(bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), written(ch));
    assertFalse(ch.finish());
  }

  @Test
  void rfc256BytesBinaryMessageUsesA16BitLength() {
    EmbeddedChannel ch = server();
    byte[] data = random(256);
    ch.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(data)));
    byte[] out = written(ch);
    assertArrayEquals(bytes(0x82, 0x7E, 0x01, 0x00), java.util.Arrays.copyOf(out, 4));
    assertArrayEquals(data, java.util.Arrays.copyOfRange(out, 4, out.length));
    assertFalse(ch.finish());
  }

  @Test
  void rfc64KiBBinaryMessageUsesA64BitLength() {
    EmbeddedChannel ch = server();
    ch.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(random(65536))));
    byte[] out = written(ch);
    assertArrayEquals(bytes(0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0, 0), java.util.Arrays.copyOf(out, 10));
    assertEquals(10 + 65536, out.length);
    assertFalse(ch.finish());
  }

  @Test
  void lengthsUseTheShortestEncoding() {
    int[][] cases = {{0, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}};
    for (int[] c : cases) {
      EmbeddedChannel ch = server();
      ch.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[c[0]])));
      assertEquals(c[1] + c[0], written(ch).length, "header of a " + c[0] + "-byte payload");
      assertFalse(ch.finish());
    }
  }

  // ---- masking (client side) ----------------------------------------------------------------------------------

  @Test
  void clientFramesAreMaskedAndWrittenAsOneBuffer() {
    EmbeddedChannel ch = client();
    ByteBuf payload = Unpooled.wrappedBuffer(ascii("He"), ascii("llo")); // gRPC's writes arrive in pieces
    ch.writeAndFlush(new BinaryWebSocketFrame(payload));
    ByteBuf out = ch.readOutbound();
    assertNull(ch.readOutbound(), "header, key and payload in one buffer");
    assertEquals(0, payload.refCnt(), "the payload is released once copied");
    assertEquals(0x82, out.readUnsignedByte());
    assertEquals(0x85, out.readUnsignedByte(), "MASK bit and length 5");
    int key = out.readInt();
    FrameMask.apply(out, out.readerIndex(), 5, key, 0);
    assertEquals("Hello", out.toString(StandardCharsets.US_ASCII));
    assertTrue(out.release());
    assertFalse(ch.finish());
  }

  @Test
  void everyClientFrameHasAFreshMaskingKey() {
    EmbeddedChannel ch = client();
    ch.writeAndFlush(new BinaryWebSocketFrame(ascii("same")));
    ch.writeAndFlush(new BinaryWebSocketFrame(ascii("same")));
    byte[] out = written(ch);
    byte[] first = java.util.Arrays.copyOfRange(out, 2, 6);
    byte[] second = java.util.Arrays.copyOfRange(out, 10, 14);
    assertFalse(java.util.Arrays.equals(first, second), "two frames, two keys");
    assertFalse(ch.finish());
  }

  @Test
  void maskedLargeFrameRoundTripsThroughTheDecoder() {
    EmbeddedChannel client = client();
    byte[] data = random(65536 + 3);
    client.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(data)));
    FrameDecoderTest.Recorder recorder = new FrameDecoderTest.Recorder();
    EmbeddedChannel server = new EmbeddedChannel(new FrameDecoder(true, 1 << 20), recorder);
    server.writeInbound(Unpooled.wrappedBuffer(written(client)));
    assertArrayEquals(data, recorder.takePayload());
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(client.finish());
    assertFalse(server.finish());
  }

  @Test
  void maskingLeavesTheWrittenBuffersUnchangedEvenWhenTheyShareBytes() {
    // Netty's HTTP/2 writer sends one frame header buffer, as a slice, in front of every full-size DATA frame of a
    // write: masking in place would mask those shared bytes once per frame.
    EmbeddedChannel client = new EmbeddedChannel(new FrameEncoder(true), new ByteStreamFrameCodec(64 * 1024));
    byte[] headerBytes = random(9);
    byte[] first = random(16 * 1024);
    byte[] second = random(16 * 1024 + 1);
    ByteBuf header = Unpooled.directBuffer(9).writeBytes(headerBytes);
    ByteBuf data = Unpooled.directBuffer(first.length + second.length).writeBytes(first).writeBytes(second);
    client.write(header.retainedSlice());
    client.write(data.readRetainedSlice(first.length));
    client.write(header.retainedSlice());
    client.write(data.readRetainedSlice(second.length));
    client.flush();
    FrameDecoderTest.Recorder recorder = new FrameDecoderTest.Recorder();
    EmbeddedChannel server = new EmbeddedChannel(new FrameDecoder(true, 1 << 20), recorder);
    server.writeInbound(Unpooled.wrappedBuffer(written(client)));
    ByteBuf expected = Unpooled.buffer().writeBytes(headerBytes).writeBytes(first).writeBytes(headerBytes)
        .writeBytes(second);
    assertArrayEquals(ByteBufUtil.getBytes(expected), recorder.takePayload());
    assertTrue(expected.release());
    assertArrayEquals(headerBytes, ByteBufUtil.getBytes(header), "the shared header bytes are as written");
    assertArrayEquals(first, ByteBufUtil.getBytes(data, 0, first.length), "the writer's bytes are as written");
    assertTrue(header.release());
    assertTrue(data.release());
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(client.finish());
    assertFalse(server.finish());
  }

  // ---- no copies (server side) --------------------------------------------------------------------------------

  @Test
  void largeUnmaskedPayloadIsWrittenAsItIsBehindASeparateHeader() {
    EmbeddedChannel ch = server();
    ByteBuf payload = Unpooled.wrappedBuffer(random(FrameEncoder.COPY_THRESHOLD + 1));
    ChannelFuture f = ch.writeAndFlush(new BinaryWebSocketFrame(payload));
    assertTrue(f.isSuccess());
    ByteBuf header = ch.readOutbound();
    assertArrayEquals(bytes(0x82, 0x7E, 0x04, 0x01), ByteBufUtil.getBytes(header));
    assertTrue(header.release());
    ByteBuf body = ch.readOutbound();
    assertSame(payload, body, "the payload itself, not a copy");
    assertTrue(body.release());
    assertFalse(ch.finish());
  }

  @Test
  void smallUnmaskedPayloadIsCopiedBehindItsHeader() {
    EmbeddedChannel ch = server();
    ByteBuf payload = ascii("small");
    ch.writeAndFlush(new BinaryWebSocketFrame(payload));
    assertEquals(0, payload.refCnt());
    ByteBuf out = ch.readOutbound();
    assertNull(ch.readOutbound());
    assertArrayEquals(bytes(0x82, 0x05, 's', 'm', 'a', 'l', 'l'), ByteBufUtil.getBytes(out));
    assertTrue(out.release());
    assertFalse(ch.finish());
  }

  /** A payload as {@link ByteStreamFrameCodec} gathers it: {@link HeadroomFrame#HEADROOM} free bytes in front. */
  private static ByteBuf withHeadroom(byte[] data) {
    ByteBuf buf = Unpooled.buffer(HeadroomFrame.HEADROOM + data.length);
    buf.writerIndex(HeadroomFrame.HEADROOM).readerIndex(HeadroomFrame.HEADROOM);
    return buf.writeBytes(data);
  }

  @Test
  void headroomFrameGetsItsHeaderInPlaceAndLeavesAsTheSameBuffer() {
    for (int length : new int[] {5, 126, 1024}) { // 7-bit and 16-bit lengths
      byte[] data = random(length);
      EmbeddedChannel plain = server();
      plain.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(data)));
      byte[] expected = written(plain);

      EmbeddedChannel ch = server();
      ByteBuf payload = withHeadroom(data);
      ChannelFuture f = ch.writeAndFlush(new HeadroomFrame(payload));
      assertTrue(f.isSuccess());
      ByteBuf out = ch.readOutbound();
      assertNull(ch.readOutbound(), "one buffer");
      assertSame(payload, out, "the payload's own buffer, header written in front of it");
      assertArrayEquals(expected, ByteBufUtil.getBytes(out), "the same bytes as any binary frame");
      assertTrue(out.release());
      assertFalse(plain.finish());
      assertFalse(ch.finish());
    }
  }

  @Test
  void maskedHeadroomFrameIsMaskedInPlaceAndRoundTripsThroughTheDecoder() {
    for (int length : new int[] {1, 125, 126, 1024}) {
      byte[] data = random(length);
      EmbeddedChannel client = client();
      ByteBuf payload = withHeadroom(data);
      client.writeAndFlush(new HeadroomFrame(payload));
      ByteBuf out = client.readOutbound();
      assertSame(payload, out, "masked where it lies: no second buffer");
      assertEquals(0x82, out.getUnsignedByte(out.readerIndex()));
      assertEquals(0x80, out.getUnsignedByte(out.readerIndex() + 1) & 0x80, "MASK bit set");
      FrameDecoderTest.Recorder recorder = new FrameDecoderTest.Recorder();
      EmbeddedChannel server = new EmbeddedChannel(new FrameDecoder(true, 1 << 20), recorder);
      server.writeInbound(out);
      assertArrayEquals(data, recorder.takePayload());
      assertTrue(recorder.exceptions.isEmpty());
      assertFalse(client.finish());
      assertFalse(server.finish());
    }
  }

  @Test
  void headroomFrameNeedsItsHeadroom() {
    ByteBuf tight = Unpooled.buffer(8).writeZero(8);
    assertTrue(assertThrowsIllegalArgument(() -> new HeadroomFrame(tight)).getMessage()
        .contains("payload.readerIndex(): 0 (expected: >= 14)"));
    assertTrue(tight.release());
  }

  private static IllegalArgumentException assertThrowsIllegalArgument(Runnable r) {
    return org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, r::run);
  }

  // ---- control frames and other messages ----------------------------------------------------------------------

  @Test
  void closeAndPongFramesKeepTheirPayload() {
    EmbeddedChannel ch = server();
    ch.write(new PongWebSocketFrame(ascii("p")));
    ch.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE, "ok"));
    assertArrayEquals(bytes(0x8A, 0x01, 'p', 0x88, 0x04, 0x03, 0xE8, 'o', 'k'), written(ch));
    assertFalse(ch.finish());
  }

  @Test
  void controlFramesOver125BytesAreRefused() {
    EmbeddedChannel ch = server();
    PingWebSocketFrame big = new PingWebSocketFrame(Unpooled.wrappedBuffer(new byte[126]));
    ChannelFuture f = ch.writeAndFlush(big);
    assertFalse(f.isSuccess());
    assertInstanceOf(IllegalArgumentException.class, f.cause());
    assertEquals(0, big.refCnt());
    assertNull(ch.readOutbound());
    assertFalse(ch.finish());
  }

  @Test
  void fragmentedControlFramesAreRefused() {
    EmbeddedChannel ch = client();
    WebSocketFrame ping = new PingWebSocketFrame(false, 0, ascii("x"));
    assertFalse(ch.writeAndFlush(ping).isSuccess());
    assertEquals(0, ping.refCnt());
    assertFalse(ch.finish());
  }

  @Test
  void otherMessagesPassThroughUnchanged() {
    EmbeddedChannel ch = server();
    ByteBuf raw = ascii("raw");
    ch.writeAndFlush(raw);
    assertSame(raw, ch.readOutbound());
    assertTrue(raw.release());
    assertFalse(ch.finish());
  }
}
