package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import java.nio.charset.StandardCharsets;
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
  void smallWritesAreCopiedIntoOneBufferAndLargeOnesComposedWithoutACopy() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(64 * 1024));
    ByteBuf header = bytes("123456789");
    ch.write(header);
    ch.writeAndFlush(bytes("small payload"));
    BinaryWebSocketFrame small = ch.readOutbound();
    assertFalse(small.content() instanceof CompositeByteBuf, "a unary call's few hundred bytes are copied");
    assertEquals(0, header.refCnt(), "the parts are released once copied");
    assertEquals("123456789small payload", small.content().toString(StandardCharsets.US_ASCII));
    assertTrue(small.release());

    ByteBuf big = Unpooled.wrappedBuffer(new byte[ByteStreamFrameCodec.COPY_BELOW]);
    ch.write(bytes("123456789"));
    ch.writeAndFlush(big);
    BinaryWebSocketFrame large = ch.readOutbound();
    CompositeByteBuf composite = (CompositeByteBuf) large.content();
    assertEquals(2, composite.numComponents());
    assertEquals(9 + ByteStreamFrameCodec.COPY_BELOW, composite.readableBytes());
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
  void pendingWritesFailAndAreReleasedWhenTheChannelCloses() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(16));
    ByteBuf buf = bytes("never sent");
    ChannelFuture f = ch.write(buf);
    ch.pipeline().remove(ByteStreamFrameCodec.class);
    assertFalse(f.isSuccess());
    assertEquals(0, buf.refCnt());
    assertFalse(ch.finish());
  }

  @Test
  void pendingBytesCountAgainstWritability() {
    EmbeddedChannel ch = new EmbeddedChannel(new ByteStreamFrameCodec(1024));
    ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(4, 8));
    ch.write(bytes("0123456789"));
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
