package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ByteStreamFrameCodecTest {

  private static ByteBuf bytes(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  @Test
  void binaryAndContinuationPayloadsPassOnAsBytes() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ch.writeInbound(new BinaryWebSocketFrame(false, 0, bytes("ab")));
    ch.writeInbound(new ContinuationWebSocketFrame(true, 0, bytes("c")));
    ByteBuf first = ch.readInbound();
    ByteBuf second = ch.readInbound();
    assertEquals("ab", first.toString(StandardCharsets.US_ASCII));
    assertEquals("c", second.toString(StandardCharsets.US_ASCII));
    assertTrue(first.release());
    assertTrue(second.release());
    assertFalse(ch.finish());
  }

  @Test
  void emptyFramesProduceNothing() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ch.writeInbound(new BinaryWebSocketFrame(Unpooled.buffer(0)));
    assertNull(ch.readInbound());
    assertFalse(ch.finish());
  }

  @Test
  void otherMessagesPassThroughUntouched() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    PingWebSocketFrame ping = new PingWebSocketFrame(bytes("p"));
    ch.writeInbound(ping);
    PingWebSocketFrame read = ch.readInbound();
    assertTrue(read == ping);
    assertTrue(read.release());
    assertFalse(ch.finish());
  }

  @Test
  void smallWritesAreCopiedAtOnceIntoOneBufferWithRoomForTheHeader() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(64 * 1024));
    ByteBuf header = bytes("123456789");
    ch.write(header);
    assertEquals(0, header.refCnt(), "a small write is copied and released as it arrives");
    ch.writeAndFlush(bytes("small payload"));
    Object frame = ch.readOutbound();
    HeadroomFrame small = assertInstanceOf(HeadroomFrame.class, frame, "gathered, with room for the header");
    assertNull(ch.readOutbound(), "one frame");
    assertTrue(small.content().readerIndex() >= HeadroomFrame.HEADROOM);
    assertEquals("123456789small payload", small.content().toString(StandardCharsets.US_ASCII));
    assertTrue(small.release());
    assertFalse(ch.finish());
  }

  @Test
  void manySmallWritesOfOneFlushTravelInFramesOfAtMostGatherMaxBytes() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(64 * 1024));
    byte[] data = new byte[40 * 1000];
    new java.util.Random(7).nextBytes(data);
    List<ChannelFuture> writes = new ArrayList<>();
    for (int i = 0; i < 40; i++) { // e.g. 40 unary calls that gRPC flushes together
      writes.add(ch.write(Unpooled.copiedBuffer(data, i * 1000, 1000)));
    }
    ch.flush();
    ByteBuf all = Unpooled.buffer();
    List<Integer> sizes = new ArrayList<>();
    Object frame;
    while ((frame = ch.readOutbound()) != null) {
      HeadroomFrame f = assertInstanceOf(HeadroomFrame.class, frame, "small writes are gathered, not composed");
      sizes.add(f.content().readableBytes());
      all.writeBytes(f.content());
      assertTrue(f.release());
    }
    assertEquals(List.of(16_000, 16_000, 8_000), sizes, "full frames of at most GATHER_MAX bytes, then the rest");
    assertArrayEquals(data, ByteBufUtil.getBytes(all), "in order");
    assertTrue(all.release());
    assertTrue(writes.stream().allMatch(ChannelFuture::isSuccess));
    assertFalse(ch.finish());
  }

  @Test
  void promisesOfGatheredWritesCompleteWhenTheFrameIsWritten() {
    EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder(false), new ByteStreamFrameCodec(64 * 1024));
    ChannelFuture a = ch.write(bytes("123456789"));
    ChannelFuture b = ch.write(Unpooled.EMPTY_BUFFER);
    ChannelFuture c = ch.writeAndFlush(bytes("x"));
    assertTrue(a.isSuccess());
    assertTrue(b.isSuccess());
    assertTrue(c.isSuccess());
    ByteBuf out = ch.readOutbound();
    assertEquals(0x82, out.readUnsignedByte(), "FIN, binary");
    assertEquals(10, out.readUnsignedByte(), "unmasked, 10 bytes");
    assertEquals("123456789x", out.toString(StandardCharsets.US_ASCII));
    assertTrue(out.release());
    assertNull(ch.readOutbound());
    assertFalse(ch.finish());
  }

  @Test
  void anEmptyWriteWithNothingBeforeItCompletesAtOnce() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ChannelFuture f = ch.write(Unpooled.buffer(0));
    assertTrue(f.isSuccess());
    ch.flush();
    assertNull(ch.readOutbound(), "no empty frame");
    assertFalse(ch.finish());
  }

  @Test
  void largeWritesAreComposedWithoutACopyBehindTheSmallOnesBeforeThem() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(64 * 1024));
    ByteBuf big = Unpooled.wrappedBuffer(new byte[ByteStreamFrameCodec.COPY_BELOW + 1]);
    ChannelFuture a = ch.write(bytes("12345"));
    ChannelFuture b = ch.write(bytes("6789"));
    ChannelFuture c = ch.writeAndFlush(big);
    BinaryWebSocketFrame large = ch.readOutbound();
    assertNull(ch.readOutbound(), "one frame");
    CompositeByteBuf composite = assertInstanceOf(CompositeByteBuf.class, large.content());
    assertEquals(2, composite.numComponents(), "the gathered small writes, then the large one as it is");
    assertEquals(9 + ByteStreamFrameCodec.COPY_BELOW + 1, composite.readableBytes());
    assertEquals("123456789", composite.toString(0, 9, StandardCharsets.US_ASCII));
    assertTrue(a.isSuccess());
    assertTrue(b.isSuccess());
    assertTrue(c.isSuccess());
    assertTrue(large.release());
    assertEquals(0, big.refCnt());
    assertFalse(ch.finish());
  }

  @Test
  void writesBetweenFlushesAreCoalescedIntoOneFrame() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ChannelFuture a = ch.write(bytes("header---"));
    ChannelFuture b = ch.write(bytes("payload"));
    assertNull(ch.readOutbound(), "nothing leaves before the flush");
    assertFalse(a.isDone());
    ch.flush();
    BinaryWebSocketFrame frame = ch.readOutbound();
    assertEquals("header---payload", frame.content().toString(StandardCharsets.US_ASCII));
    assertTrue(frame.release());
    assertTrue(a.isSuccess());
    assertTrue(b.isSuccess());
    assertNull(ch.readOutbound());
    assertFalse(ch.finish());
  }

  @Test
  void largeWritesAreSplitAtTheFrameLimit() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(4));
    ByteBuf big = bytes("abcdefghij");
    ChannelFuture a = ch.write(big);
    ChannelFuture b = ch.write(bytes("kl"));
    ch.flush();
    StringBuilder all = new StringBuilder();
    int frames = 0;
    BinaryWebSocketFrame frame;
    while ((frame = ch.readOutbound()) != null) {
      assertTrue(frame.content().readableBytes() <= 4);
      all.append(frame.content().toString(StandardCharsets.US_ASCII));
      frame.release();
      frames++;
    }
    assertEquals(0, big.refCnt(), "every slice of a split write is released once sent");
    assertEquals("abcdefghijkl", all.toString());
    assertEquals(3, frames);
    assertTrue(a.isSuccess());
    assertTrue(b.isSuccess());
    assertFalse(ch.finish());
  }

  @Test
  void copyingEveryWriteGathersLargeWritesIntoFullFramesAndReleasesThemAtOnce() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(4096, true));
    byte[] data = new byte[9 + 5000 + 3];
    new java.util.Random(5).nextBytes(data);
    ByteBuf large = Unpooled.wrappedBuffer(data, 9, 5000);
    ChannelFuture a = ch.write(Unpooled.wrappedBuffer(data, 0, 9));
    ChannelFuture b = ch.write(large);
    assertEquals(0, large.refCnt(), "copied and released as it arrives, not held until the flush");
    ChannelFuture c = ch.write(Unpooled.wrappedBuffer(data, 5009, 3));
    assertNull(ch.readOutbound(), "nothing leaves before the flush");
    assertFalse(a.isDone());
    ch.flush();
    BinaryWebSocketFrame first = ch.readOutbound();
    BinaryWebSocketFrame second = ch.readOutbound();
    assertNull(ch.readOutbound());
    assertInstanceOf(HeadroomFrame.class, first, "room for the header in front: the encoder copies nothing");
    assertInstanceOf(HeadroomFrame.class, second);
    assertEquals(4096, first.content().readableBytes(), "a frame is filled before the next one begins");
    assertEquals(data.length - 4096, second.content().readableBytes());
    assertArrayEquals(data, ByteBufUtil.getBytes(Unpooled.wrappedBuffer(first.content(), second.content())));
    assertTrue(a.isSuccess());
    assertTrue(b.isSuccess());
    assertTrue(c.isSuccess());
    assertTrue(first.release());
    assertTrue(second.release());
    assertFalse(ch.finish());
  }

  @Test
  void copyingEveryWriteCompletesAWritesPromiseWithTheFrameHoldingItsLastByte() {
    List<ChannelFuture> frames = new ArrayList<>();
    EmbeddedChannel ch = new EmbeddedChannel(new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
        frames.add(p);
        ((BinaryWebSocketFrame) msg).release(); // written, but its promise completes only when the test says so
      }
    }, new ByteStreamFrameCodec(8, true));
    ChannelFuture a = ch.write(bytes("0123456789abc")); // fills frame 1, ends in frame 2
    ChannelFuture b = ch.write(bytes("def")); // ends frame 2 exactly
    ChannelFuture c = ch.writeAndFlush(bytes("g")); // frame 3
    assertEquals(3, frames.size());
    ((io.netty.channel.ChannelPromise) frames.get(0)).setSuccess();
    assertFalse(a.isDone(), "its last byte is in frame 2");
    ((io.netty.channel.ChannelPromise) frames.get(1)).setSuccess();
    assertTrue(a.isSuccess());
    assertTrue(b.isSuccess());
    assertFalse(c.isDone());
    ((io.netty.channel.ChannelPromise) frames.get(2)).setFailure(new java.io.IOException("reset"));
    assertEquals("reset", c.cause().getMessage(), "the frame's failure is the write's");
    assertFalse(ch.finish());
  }

  @Test
  void copyingEveryWriteFillsFramesUpToALimitAboveTheStartingRoom() {
    int limit = 4 * ByteStreamFrameCodec.FRAME_BUFFER_START;
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(limit, true));
    byte[] data = new byte[2 * limit + 100];
    new java.util.Random(9).nextBytes(data);
    for (int at = 0; at < data.length; at += 16 * 1024) {
      ch.write(Unpooled.wrappedBuffer(data, at, Math.min(16 * 1024, data.length - at)));
    }
    ch.flush();
    List<ByteBuf> payloads = new ArrayList<>();
    for (BinaryWebSocketFrame f; (f = ch.readOutbound()) != null; ) {
      payloads.add(f.content());
    }
    List<Integer> sizes = new ArrayList<>();
    payloads.forEach(p -> sizes.add(p.readableBytes()));
    assertEquals(List.of(limit, limit, 100), sizes, "frames as large as the limit allows, though buffers start smaller");
    ByteBuf all = Unpooled.wrappedBuffer(payloads.toArray(new ByteBuf[0]));
    assertArrayEquals(data, ByteBufUtil.getBytes(all));
    assertTrue(all.release());
    assertFalse(ch.finish());
  }

  @Test
  void copyingEveryWriteCountsFullFramesAgainstWritabilityAtOnce() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(2048, true));
    ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1024, 4000));
    ch.write(Unpooled.wrappedBuffer(new byte[5000]));
    assertFalse(ch.isWritable(), "two full frames are in the outbound buffer before the flush");
    ch.flush();
    for (BinaryWebSocketFrame f; (f = ch.readOutbound()) != null; ) {
      assertTrue(f.release());
    }
    assertTrue(ch.isWritable());
    assertFalse(ch.finish());
  }

  @Test
  void maskedFramesOfCopiedWritesDecodeToTheBytesWritten() {
    EmbeddedChannel client = new EmbeddedChannel(new FrameEncoder(true), new ByteStreamFrameCodec(64 * 1024, true));
    byte[] data = new byte[1 << 20];
    new java.util.Random(7).nextBytes(data);
    ByteBuf message = Unpooled.directBuffer(data.length).writeBytes(data);
    for (int i = 0; i < data.length; i += 16 * 1024) {
      client.write(Unpooled.wrappedBuffer(new byte[] {0, 0x40, 0, 0, 1, 0, 0, 0, 1}));
      client.write(message.retainedSlice(i, 16 * 1024));
    }
    client.flush();
    assertTrue(message.release());
    EmbeddedChannel server = new EmbeddedChannel(new FrameDecoder(true, 64 * 1024), new ByteStreamFrameCodec(64));
    for (ByteBuf wire; (wire = client.readOutbound()) != null; ) {
      server.writeInbound(wire);
    }
    ByteBuf received = Unpooled.buffer();
    for (ByteBuf piece; (piece = server.readInbound()) != null; ) {
      received.writeBytes(piece);
      piece.release();
    }
    assertEquals(64 * (9 + 16 * 1024), received.readableBytes());
    for (int i = 0; i < 64; i++) {
      received.skipBytes(9);
      assertArrayEquals(java.util.Arrays.copyOfRange(data, i * 16 * 1024, (i + 1) * 16 * 1024),
          ByteBufUtil.getBytes(received.readSlice(16 * 1024)), "slice " + i);
    }
    assertTrue(received.release());
    assertFalse(client.finish());
    assertFalse(server.finish());
  }

  @Test
  void pendingWritesFailAndAreReleasedWhenTheChannelCloses() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ByteBuf buf = bytes("never sent");
    ChannelFuture f = ch.write(buf);
    ChannelFuture g = ch.write(bytes("also never sent"));
    ByteBuf large = Unpooled.wrappedBuffer(new byte[ByteStreamFrameCodec.COPY_BELOW + 1]);
    ChannelFuture h = ch.write(large);
    ch.pipeline().remove(ByteStreamFrameCodec.class);
    assertFalse(f.isSuccess());
    assertFalse(g.isSuccess());
    assertFalse(h.isSuccess());
    assertEquals(0, buf.refCnt());
    assertEquals(0, large.refCnt());
    assertFalse(ch.finish());
  }

  @Test
  void pendingBytesCountAgainstWritability() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(64 * 1024));
    int large = ByteStreamFrameCodec.COPY_BELOW + 1;
    ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(large / 2, large - 1));
    ch.write(Unpooled.wrappedBuffer(new byte[large]));
    assertFalse(ch.isWritable(), "bytes held until the flush must make the channel unwritable");
    ch.flush();
    BinaryWebSocketFrame frame = ch.readOutbound();
    assertTrue(frame.release());
    assertFalse(ch.finish());
  }

  @Test
  void writesCutByTheTunnelsEndFailWithACauseSoGrpcReportsUnavailable() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ChannelFuture pending = ch.write(bytes("never sent"));
    ch.pipeline().remove(ByteStreamFrameCodec.class);
    assertTrue(pending.cause() instanceof java.nio.channels.ClosedChannelException);
    // grpc-java reports a ClosedChannelException with a cause as UNAVAILABLE, and a bare one as UNKNOWN.
    assertTrue(pending.cause().getCause() instanceof java.io.IOException, String.valueOf(pending.cause()));
    assertFalse(ch.finish());
  }

  @Test
  void aFrameFailingOnAClosedChannelFailsTheWritesWithACause() {
    EmbeddedChannel ch = new EmbeddedChannel(new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
        io.netty.util.ReferenceCountUtil.release(msg);
        p.setFailure(new java.nio.channels.ClosedChannelException()); // what Netty does after the close
      }
    }, new ByteStreamFrameCodec(16));
    ChannelFuture write = ch.writeAndFlush(bytes("too late"));
    assertTrue(write.cause() instanceof java.nio.channels.ClosedChannelException);
    assertTrue(write.cause().getCause() instanceof java.io.IOException, String.valueOf(write.cause()));
    assertFalse(ch.finish());
  }
}
