package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The forward relay reads a side only while the other side can take what it reads. */
class RelayTest {

  /** A tunnel that ends with a failure says why in its "tunnel closed" line, as gRPC would see it. */
  @Test
  void theFirstFailureOfATunnelIsKeptAsWhyItEnded() {
    EmbeddedChannel local = new EmbeddedChannel();
    ForwardCommand.Relay fromTunnel = new ForwardCommand.Relay(local);
    EmbeddedChannel tunnel = new EmbeddedChannel(fromTunnel);
    assertEquals(null, fromTunnel.endReason(), "nothing failed yet");
    tunnel.pipeline().fireExceptionCaught(
        dev.wsgrpc.core.internal.TunnelStatus.closedByPeer("wss://edge/grpc", 1008, "token expired"));
    assertEquals(dev.wsgrpc.core.internal.TunnelStatus.closedByPeer("wss://edge/grpc", 1008, "token expired")
        .getStatus().getDescription(), fromTunnel.endReason());
    assertTrue(fromTunnel.endReason().contains("token expired"), fromTunnel.endReason());
    assertFalse(tunnel.isOpen(), "and the tunnel ended");
    tunnel.finishAndReleaseAll();
    local.finishAndReleaseAll();

    ForwardCommand.Relay reset = new ForwardCommand.Relay(new EmbeddedChannel());
    EmbeddedChannel other = new EmbeddedChannel(reset);
    other.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));
    assertEquals("Connection reset by peer", reset.endReason());
    other.finishAndReleaseAll();
  }

  @Test
  void aPeerThatCannotKeepUpStopsReadingUntilItDrains() {
    EmbeddedChannel peer = new EmbeddedChannel();
    peer.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));
    EmbeddedChannel source = new EmbeddedChannel(new ForwardCommand.Relay(peer));
    peer.pipeline().addLast(new ForwardCommand.Relay(source));
    source.config().setOption(ChannelOption.AUTO_READ, true);

    // EmbeddedChannel writes are buffered until flushed: 32 bytes exceed the 16-byte high mark.
    source.pipeline().fireChannelRead(Unpooled.wrappedBuffer(new byte[32]));
    assertFalse(peer.isWritable());
    assertFalse(source.config().isAutoRead(), "the source stops reading while the peer is full");

    // The relay flushes at the end of the read; the peer's buffer drains, and reading resumes.
    source.pipeline().fireChannelReadComplete();
    peer.runPendingTasks();
    assertTrue(peer.isWritable());
    assertTrue(source.config().isAutoRead(), "reading resumes once the peer drained");
    ByteBuf relayed = peer.readOutbound();
    assertEquals(32, relayed.readableBytes());
    relayed.release();
    source.finishAndReleaseAll();
    peer.finishAndReleaseAll();
  }

  /**
   * A tunnel whose relay stopped reading it before the local side's relay was installed (its first frames came with
   * its 101 and filled the local connection, which then drained with nobody to hear it) is read again once both
   * relays are there, if the local side can take more; else once it drains.
   */
  @Test
  void aTunnelStoppedBeforeTheLocalRelayWasInstalledIsReadAgain() {
    EmbeddedChannel tunnel = new EmbeddedChannel();
    tunnel.config().setAutoRead(false);
    io.netty.channel.ChannelHandler opener = new io.netty.channel.ChannelInboundHandlerAdapter();
    EmbeddedChannel local = new EmbeddedChannel(opener);
    local.config().setAutoRead(false);
    ForwardCommand.Relay.start(local, opener, tunnel);
    assertTrue(local.config().isAutoRead());
    assertTrue(tunnel.config().isAutoRead(), "the tunnel is read again");

    EmbeddedChannel stopped = new EmbeddedChannel();
    stopped.config().setAutoRead(false);
    io.netty.channel.ChannelHandler waiting = new io.netty.channel.ChannelInboundHandlerAdapter();
    EmbeddedChannel full = new EmbeddedChannel(waiting);
    full.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));
    full.write(Unpooled.wrappedBuffer(new byte[32])); // unflushed: the local side cannot take more yet
    ForwardCommand.Relay.start(full, waiting, stopped);
    assertFalse(stopped.config().isAutoRead(), "not while the local side is full");
    full.flush();
    full.runPendingTasks();
    assertTrue(stopped.config().isAutoRead(), "once it drained");
    for (EmbeddedChannel ch : List.of(tunnel, local, stopped, full)) {
      ch.finishAndReleaseAll();
    }
  }

  @Test
  void closingOneSideClosesTheOtherAfterItsLastBytes() {
    EmbeddedChannel peer = new EmbeddedChannel();
    EmbeddedChannel source = new EmbeddedChannel(new ForwardCommand.Relay(peer));
    source.writeInbound(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
    source.close();
    assertFalse(peer.isOpen(), "the peer is closed");
    ByteBuf relayed = peer.readOutbound();
    assertEquals(3, relayed.readableBytes(), "after the bytes read before the close");
    relayed.release();
    ByteBuf empty = peer.readOutbound();
    if (empty != null) {
      empty.release();
    }
    assertFalse(peer.finish());
  }

  @Test
  void aPeerThatNeverTakesItsLastBytesIsClosedAnyway() {
    // A socket that has stopped reading: what is written to it is never done.
    List<ChannelPromise> neverDone = new ArrayList<>();
    EmbeddedChannel peer = new EmbeddedChannel(new ChannelOutboundHandlerAdapter() {
      @Override
      public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ReferenceCountUtil.release(msg);
        neverDone.add(promise);
      }
    });
    EmbeddedChannel source = new EmbeddedChannel(new ForwardCommand.Relay(peer));
    source.writeInbound(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
    source.close();
    assertTrue(peer.isOpen(), "the peer has not taken its last bytes yet");

    peer.advanceTimeBy(ForwardCommand.Relay.FLUSH_BEFORE_CLOSE_MILLIS, TimeUnit.MILLISECONDS);
    peer.runScheduledPendingTasks();

    assertFalse(peer.isOpen(), "the peer is closed although its last bytes never left");
    assertEquals(2, neverDone.size(), "the bytes read before the close, and the flush before closing");
    assertFalse(peer.finish());
  }
}
