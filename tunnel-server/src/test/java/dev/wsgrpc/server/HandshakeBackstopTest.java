package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.InboundRecorder;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The handshake's last resort on an EmbeddedChannel with a frozen clock. */
class HandshakeBackstopTest {

  private final AtomicBoolean ready = new AtomicBoolean();
  private final InboundRecorder next = new InboundRecorder();
  /** Stands in for gRPC's handler, whose close is graceful: it only starts a GOAWAY and a PING, and waits. */
  private final AtomicBoolean grpcCloseCalled = new AtomicBoolean();
  private final ChannelOutboundHandlerAdapter grpc = new ChannelOutboundHandlerAdapter() {
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
      grpcCloseCalled.set(true);
    }
  };

  private EmbeddedChannel connect() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new HandshakeBackstop(next, Duration.ofMillis(2_000), grpc, ready::get));
    return ch;
  }

  @Test
  void marksTheStartAndGivesItsPlaceToTheNegotiation() {
    EmbeddedChannel ch = connect();
    assertEquals(ch.eventLoop().ticker().nanoTime(), ch.attr(HandshakeBackstop.START).get());
    assertNull(ch.pipeline().get(HandshakeBackstop.class));
    assertTrue(ch.pipeline().toMap().containsValue(next));
    assertFalse(ch.finish());
  }

  @Test
  void closesAConnectionStillNegotiatingOneSecondAfterTheHandshakeTimeout() {
    EmbeddedChannel ch = connect();
    ch.advanceTimeBy(2_999, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen(), "the upgrade step answers at 2000 ms; the backstop must not come before it");
    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertFalse(ch.isOpen());
  }

  @Test
  void closesPastGrpcsGracefulCloseWhichWouldWaitForAPingAnswer() {
    EmbeddedChannel ch = connect();
    // The upgrade went through: gRPC's handler is in place, but the client never sent the HTTP/2 preface.
    AtomicBoolean closeSeenBeforeGrpc = new AtomicBoolean();
    ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
      @Override
      public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        closeSeenBeforeGrpc.set(true); // the tunnel's Close 1001 is written here in a real pipeline
        ctx.close(promise);
      }
    });
    ch.pipeline().addLast(grpc);
    ch.advanceTimeBy(3_000, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertFalse(ch.isOpen(), "closed at once, not after gRPC's graceful close has waited for a PING answer");
    assertTrue(closeSeenBeforeGrpc.get(), "the handlers before gRPC's see the close");
    assertFalse(grpcCloseCalled.get(), "gRPC's graceful close is passed by");
  }

  @Test
  void leavesAConnectionWhoseClientSettingsGrpcHasRead() {
    EmbeddedChannel ch = connect();
    ready.set(true);
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen());
    assertFalse(ch.finish());
  }
}
