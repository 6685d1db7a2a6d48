package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The slot of a native connection whose calls are authenticated one by one: taken at its first accepted call. */
class NativeConnectionSlotTest {

  private static final SocketAddress CLIENT = new InetSocketAddress("192.0.2.1", 40000);

  private final List<String> refusals = new ArrayList<>();
  private final List<String> closes = new ArrayList<>();
  private final TunnelListener listener = new TunnelListener() {
    @Override
    public void upgradeRejected(SocketAddress client, int status, RejectReason reason) {
      refusals.add(status + " " + reason.label());
    }
  };
  private final TunnelCounter counter = new TunnelCounter(AccessPolicy.newBuilder().maxTunnelsPerClient(1).build());

  /**
   * Stands for gRPC's HTTP/2 handler, whose close is graceful: it records the close and keeps the channel open, as a
   * close waiting for an open stream does.
   */
  private io.netty.channel.ChannelHandler gracefulClose() {
    return new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void close(io.netty.channel.ChannelHandlerContext ctx, io.netty.channel.ChannelPromise promise) {
        closes.add("graceful");
      }
    };
  }

  private NativeConnectionSlot started(EmbeddedChannel ch) {
    ch.freezeTime();
    NativeConnectionSlot slot = new NativeConnectionSlot(ch, counter, CLIENT, CLIENT, listener, 2000);
    slot.startDeadline();
    return slot;
  }

  @Test
  void aConnectionWithoutAnAcceptedCallHoldsNoSlotAndIsClosedAtTheDeadline() {
    EmbeddedChannel ch = new EmbeddedChannel();
    NativeConnectionSlot slot = started(ch);
    assertEquals(0, counter.clients(), "no slot before an accepted call");
    ch.advanceTimeBy(1999, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen());
    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertFalse(ch.isOpen(), "closed at the deadline");
    assertEquals(List.of("408 timeout"), refusals);
    assertEquals(0, counter.clients());
  }

  @Test
  void aConnectionGoneBeforeTheDeadlineIsNotReportedAsTimedOut() {
    EmbeddedChannel ch = new EmbeddedChannel();
    started(ch);
    ch.close();
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertTrue(refusals.isEmpty(), refusals.toString());
  }

  /** A call its client sent before it learnt of the close is still served, if a slot is free. */
  @Test
  void aCallAcceptedAfterTheDeadlineTakesASlotAndIsServed() {
    EmbeddedChannel ch = new EmbeddedChannel(gracefulClose());
    NativeConnectionSlot slot = started(ch);
    ch.advanceTimeBy(2000, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertEquals(List.of("graceful"), closes);
    assertNull(slot.admitAcceptedCall());
    assertEquals(1, counter.clients());
    ch.advanceTimeBy(NativeConnectionSlot.GRACE_MILLIS, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen(), "not closed under the call being served");
    ch.finishAndReleaseAll();
  }

  /** An expired connection, reported as such, is not reported again when a late call then finds the limit. */
  @Test
  void aLateCallThatFindsTheLimitIsRefusedWithoutASecondReport() {
    EmbeddedChannel holder = new EmbeddedChannel();
    assertNull(started(holder).admitAcceptedCall());
    EmbeddedChannel ch = new EmbeddedChannel(gracefulClose());
    NativeConnectionSlot slot = started(ch);
    ch.advanceTimeBy(2000, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    Status refused = slot.admitAcceptedCall();
    assertEquals("too many tunnels open from your address; retry later", refused.getDescription());
    ch.runPendingTasks();
    assertEquals(List.of("408 timeout"), refusals, "one report for one connection");
    assertEquals(List.of("graceful"), closes, "closing already: not again");
    holder.close();
  }

  /** gRPC's graceful close waits for every stream, and a refused call's may stay open: closed regardless after it. */
  @Test
  void aConnectionThatGrpcsGracefulCloseWouldKeepIsClosedAfterTheGrace() {
    EmbeddedChannel ch = new EmbeddedChannel(gracefulClose());
    started(ch);
    ch.advanceTimeBy(2000, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen());
    ch.advanceTimeBy(NativeConnectionSlot.GRACE_MILLIS, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertEquals(List.of("graceful", "graceful"), closes, "no gRPC handler here: the channel's close again");
  }

  @Test
  void theFirstAcceptedCallTakesTheSlotUntilTheConnectionCloses() {
    EmbeddedChannel ch = new EmbeddedChannel();
    NativeConnectionSlot slot = started(ch);
    assertNull(slot.admitAcceptedCall());
    assertNull(slot.admitAcceptedCall(), "later calls too");
    assertEquals(1, counter.clients());
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen(), "no deadline once admitted");
    assertTrue(refusals.isEmpty());
    ch.close();
    assertEquals(0, counter.clients(), "given back at the close");
  }

  @Test
  void aFirstAcceptedCallThatFindsTheLimitIsRefusedAndItsConnectionClosed() {
    EmbeddedChannel holder = new EmbeddedChannel();
    assertNull(started(holder).admitAcceptedCall());
    EmbeddedChannel ch = new EmbeddedChannel();
    NativeConnectionSlot slot = started(ch);
    Status refused = slot.admitAcceptedCall();
    assertEquals(Status.Code.UNAVAILABLE, refused.getCode());
    assertEquals("too many tunnels open from your address; retry later", refused.getDescription());
    assertEquals(refused, slot.admitAcceptedCall(), "every later call too");
    ch.runPendingTasks(); // closed on the event loop
    assertFalse(ch.isOpen());
    assertEquals(List.of("503 too_many_tunnels_per_client"), refusals);
    assertEquals(1, counter.clients(), "the holder's slot only");
    holder.close();
  }
}
