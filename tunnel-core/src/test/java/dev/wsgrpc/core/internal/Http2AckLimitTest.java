package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelSettings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client's limit on acknowledgements of the server's HTTP/2 PING and SETTINGS frames that wait unsent, in the
 * client's frame pipeline, toward a socket that takes what it is given or holds it.
 */
class Http2AckLimitTest {

  /** The socket: what is written stays here, unsent, until {@link #leave()}. */
  private final List<Object> held = new ArrayList<>();
  private final List<ChannelPromise> promises = new ArrayList<>();
  private final List<Throwable> failures = new ArrayList<>();
  private final EmbeddedChannel ch = new EmbeddedChannel();
  /** Whether writes go on to the channel (the test is over) rather than wait here. */
  private boolean passWrites;

  Http2AckLimitTest() {
    ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
      @Override
      public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (passWrites) {
          ctx.write(msg, promise);
          return;
        }
        held.add(msg);
        promises.add(promise);
      }
    });
    ch.pipeline().addLast("tail", new ChannelInboundHandlerAdapter() {
      @Override
      public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failures.add(cause);
      }
    });
    FramePipeline.install(ch.pipeline(), "tail", FramePipeline.Role.CLIENT,
        TunnelSettings.newBuilder().pingInterval(java.time.Duration.ZERO).build(), "wss://server.test/grpc");
  }

  @AfterEach
  void release() {
    passWrites = true;
    leave();
    ch.finishAndReleaseAll();
  }

  /** What is held leaves: the socket took it. */
  private void leave() {
    held.forEach(ReferenceCountUtil::release);
    held.clear();
    List<ChannelPromise> done = new ArrayList<>(promises);
    promises.clear();
    done.forEach(ChannelPromise::trySuccess);
  }

  private static ByteBuf pingAck(long data) {
    return Unpooled.buffer(17).writeMedium(8).writeByte(0x6).writeByte(0x1).writeInt(0).writeLong(data);
  }

  private static ByteBuf settingsAck() {
    return Unpooled.buffer(9).writeMedium(0).writeByte(0x4).writeByte(0x1).writeInt(0);
  }

  /** gRPC writes and flushes an acknowledgement, as its HTTP/2 handler does for each PING and SETTINGS read. */
  private void grpcAcknowledges(ByteBuf ack) {
    ch.pipeline().context("tail").writeAndFlush(ack);
  }

  @Test
  void acknowledgementsThatLeaveAreNeverCountedUp() {
    for (int i = 0; i < 3 * Http2AckLimit.MAX_WAITING; i++) {
      grpcAcknowledges(i % 2 == 0 ? pingAck(i) : settingsAck());
      leave();
    }
    assertTrue(ch.isOpen());
    assertTrue(failures.isEmpty(), failures.toString());
  }

  @Test
  void aServerThatReadsNoneOfThemHasTheTunnelEndedSayingWhy() {
    for (int i = 0; i < Http2AckLimit.MAX_WAITING; i++) {
      grpcAcknowledges(i % 2 == 0 ? pingAck(i) : settingsAck());
    }
    assertTrue(failures.isEmpty(), "as many as the limit may wait");
    grpcAcknowledges(pingAck(-1));
    String why = "expected the server to read what this client sends, but 10000 acknowledgements of its HTTP/2 PING "
        + "and SETTINGS frames wait unsent";
    assertEquals(1, failures.size(), failures.toString());
    assertEquals("UNAVAILABLE: " + why + " (from wss://server.test/grpc; sent close 1001 (Going Away))",
        failures.get(0).getMessage());
    for (int i = 0; i < 100; i++) {
      grpcAcknowledges(pingAck(i)); // dropped and released
    }
  }

  @Test
  void onlyWholeAcknowledgementsAreCounted() {
    assertTrue(Http2AckLimit.isAck(pingAck(7)));
    assertTrue(Http2AckLimit.isAck(settingsAck()));
    ByteBuf ping = Unpooled.buffer(17).writeMedium(8).writeByte(0x6).writeByte(0x0).writeInt(0).writeLong(7);
    ByteBuf settings = Unpooled.buffer(15).writeMedium(6).writeByte(0x4).writeByte(0x0).writeInt(0)
        .writeShort(3).writeInt(100);
    ByteBuf data = Unpooled.buffer(17).writeMedium(8).writeByte(0x0).writeByte(0x1).writeInt(1).writeLong(7);
    for (ByteBuf notAnAck : List.of(ping, settings, data)) {
      assertFalse(Http2AckLimit.isAck(notAnAck));
      notAnAck.release();
    }
  }
}
