package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.InboundRecorder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class KeepaliveHandlerTest {

  private static final String PEER = "ws://example.com/grpc";
  private static final long INTERVAL = 1_000;
  private static final long TIMEOUT = 2_000;

  private final InboundRecorder tail = new InboundRecorder();

  /** keepalive, then the control handler as the frame pipeline places them, on a fake clock. */
  private EmbeddedChannel channel() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new KeepaliveHandler(INTERVAL, TIMEOUT),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), tail);
    return ch;
  }

  private static void advance(EmbeddedChannel ch, long millis) {
    ch.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
  }

  private static void assertPing(EmbeddedChannel ch) {
    PingWebSocketFrame ping = assertInstanceOf(PingWebSocketFrame.class, ch.readOutbound());
    assertEquals(0, ping.content().readableBytes());
    ping.release();
  }

  @Test
  void aPingGoesOutEveryInterval() {
    EmbeddedChannel ch = channel();
    advance(ch, INTERVAL - 1);
    assertNull(ch.readOutbound(), "nothing before the first interval has passed");
    advance(ch, 1);
    assertPing(ch);
    ch.writeInbound(new PongWebSocketFrame());
    advance(ch, INTERVAL);
    assertPing(ch);
    ch.writeInbound(new PongWebSocketFrame());
    assertNull(ch.readOutbound());
    ch.finishAndReleaseAll();
  }

  @Test
  void pingsContinueWhileDataFlows() {
    EmbeddedChannel ch = channel();
    for (int i = 0; i < 5; i++) {
      ch.writeInbound(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {1})));
      advance(ch, INTERVAL);
      assertPing(ch);
    }
    assertTrue(ch.isOpen());
    for (Object read : tail.reads) {
      assertTrue(((BinaryWebSocketFrame) read).release());
    }
    ch.finishAndReleaseAll();
  }

  @Test
  void anyFrameAfterThePingCountsAsAnAnswer() {
    EmbeddedChannel ch = channel();
    advance(ch, INTERVAL);
    assertPing(ch);
    ch.writeInbound(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {1, 2})));
    advance(ch, TIMEOUT);
    assertTrue(ch.isOpen(), "data arrived after the ping: the peer is alive");
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    assertTrue(((BinaryWebSocketFrame) tail.reads.get(0)).release());
    ch.finishAndReleaseAll();
  }

  @Test
  void silentPeerGetsClose1001AndRpcsFailUnavailable() {
    // The peer reads nothing and says nothing: writes stay pending, as on a socket whose peer has vanished.
    ControlFrameHandlerTest.HoldWrites socket = new ControlFrameHandlerTest.HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(socket, new KeepaliveHandler(INTERVAL, TIMEOUT),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), tail);
    advance(ch, INTERVAL);
    advance(ch, INTERVAL);
    assertEquals(2, socket.messages.size(), "a ping each interval: " + socket.messages);
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    advance(ch, TIMEOUT - INTERVAL - 1);
    assertTrue(tail.exceptions.isEmpty(), "the first ping's timeout has not passed yet");
    advance(ch, 1);

    assertEquals(3, socket.messages.size(), "ping, ping, close: " + socket.messages);
    assertInstanceOf(PingWebSocketFrame.class, socket.messages.get(0));
    assertInstanceOf(PingWebSocketFrame.class, socket.messages.get(1));
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, socket.messages.get(2));
    assertEquals(1001, close.statusCode());
    StatusRuntimeException e = tail.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("nothing arrived within 2000 ms of a WebSocket ping: the peer or a hop on the path has gone silent "
        + "(from ws://example.com/grpc; sent close 1001 (Going Away))", e.getStatus().getDescription());
    assertInstanceOf(KeepaliveHandler.PingTimeoutException.class, e.getCause());

    socket.completeAll();
    assertFalse(ch.isOpen(), "the connection is closed once the close frame is written");
    advance(ch, 10 * INTERVAL);
    assertTrue(socket.messages.isEmpty(), "no ping after the close: " + socket.messages);
    assertEquals(1, tail.exceptions.size());
    assertFalse(ch.finish());
  }

  /** A pipeline whose socket holds every write until the test completes them, with one ping per 10 s. */
  private EmbeddedChannel heldChannel(ControlFrameHandlerTest.HoldWrites socket) {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(socket, new KeepaliveHandler(10 * TIMEOUT, TIMEOUT),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), tail);
    return ch;
  }

  @Test
  void aPingQueuedBehindOurOwnBytesIsNotJudgedWhileThoseBytesKeepDraining() {
    // A slow but live reader: our data before the Ping leaves for the socket bit by bit (the channel keeps becoming
    // writable again), so the Ping reaches the peer late and its answer comes late.
    ControlFrameHandlerTest.HoldWrites socket = new ControlFrameHandlerTest.HoldWrites();
    EmbeddedChannel ch = heldChannel(socket);
    advance(ch, 10 * TIMEOUT);
    assertInstanceOf(PingWebSocketFrame.class, socket.messages.get(0), "the ping is queued");
    for (int i = 0; i < 8; i++) { // four timeouts
      advance(ch, TIMEOUT / 2);
      ch.pipeline().fireChannelWritabilityChanged(); // writable again: the peer took some of our bytes
    }
    assertTrue(tail.exceptions.isEmpty(), "not silent while our bytes drain: " + tail.exceptions);
    socket.completeAll(); // the Ping reaches the socket
    advance(ch, TIMEOUT - 1);
    ch.writeInbound(new PongWebSocketFrame()); // and its answer comes within a timeout of that
    advance(ch, 5 * TIMEOUT);
    assertTrue(ch.isOpen());
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    socket.completeAll();
    ch.finishAndReleaseAll();
    socket.completeAll(); // the Close that finishing wrote
  }

  @Test
  void aPingWrittenLateGetsAFullTimeoutFromItsWriteThenSilenceIsJudged() {
    ControlFrameHandlerTest.HoldWrites socket = new ControlFrameHandlerTest.HoldWrites();
    EmbeddedChannel ch = heldChannel(socket);
    advance(ch, 10 * TIMEOUT);
    advance(ch, TIMEOUT - 1);
    ch.pipeline().fireChannelWritabilityChanged();
    advance(ch, 1 + TIMEOUT / 2);
    assertTrue(tail.exceptions.isEmpty(), "our bytes drained within the timeout: " + tail.exceptions);
    socket.completeAll(); // the Ping is written one and a half timeouts after it was queued
    advance(ch, TIMEOUT - 1);
    assertTrue(tail.exceptions.isEmpty(), "the answer has a whole timeout from the write: " + tail.exceptions);
    advance(ch, 1);
    StatusRuntimeException e = tail.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertInstanceOf(KeepaliveHandler.PingTimeoutException.class, e.getCause());
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, socket.messages.get(0));
    assertEquals(1001, close.statusCode());
    socket.completeAll();
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void aPingQueuedBehindBytesThatStopDrainingIsJudgedSilentAfterOneQuietTimeout() {
    // A black hole under load: the socket takes nothing more, so nothing drains and nothing arrives.
    ControlFrameHandlerTest.HoldWrites socket = new ControlFrameHandlerTest.HoldWrites();
    EmbeddedChannel ch = heldChannel(socket);
    advance(ch, 10 * TIMEOUT);
    advance(ch, TIMEOUT / 2);
    ch.pipeline().fireChannelWritabilityChanged(); // the last bit that drained
    advance(ch, TIMEOUT / 2);
    assertTrue(tail.exceptions.isEmpty(), "drained within the first timeout: " + tail.exceptions);
    advance(ch, TIMEOUT - 1);
    assertTrue(tail.exceptions.isEmpty());
    advance(ch, 1);
    assertInstanceOf(KeepaliveHandler.PingTimeoutException.class,
        tail.onlyException(StatusRuntimeException.class).getCause());
    socket.completeAll();
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void aPeerIsNotJudgedSilentWhileThisSideHoldsItsBytesUnread() {
    EmbeddedChannel ch = channel();
    // A gateway stops reading its client while the upstream cannot take more: the Pong may be waiting unread.
    ch.config().setAutoRead(false);
    for (int i = 0; i < 5; i++) {
      advance(ch, INTERVAL);
      assertPing(ch);
    }
    advance(ch, TIMEOUT);
    assertTrue(ch.isOpen(), "not closed while reads are held");
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    ch.config().setAutoRead(true);
    ch.writeInbound(new PongWebSocketFrame());
    advance(ch, INTERVAL);
    assertPing(ch);
    assertTrue(ch.isOpen());
    ch.finishAndReleaseAll();
  }

  /** Default-like: Pings every 30 s, so any Ping within a test's few seconds comes from a write. */
  private EmbeddedChannel rarelyPingingChannel() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new KeepaliveHandler(30_000, TIMEOUT),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), tail);
    return ch;
  }

  private static void writeData(EmbeddedChannel ch) {
    ch.writeOutbound(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {7})));
  }

  private static void assertData(EmbeddedChannel ch) {
    BinaryWebSocketFrame data = assertInstanceOf(BinaryWebSocketFrame.class, ch.readOutbound());
    assertTrue(data.release());
  }

  private void receiveData(EmbeddedChannel ch) {
    ch.writeInbound(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {1})));
    assertTrue(((BinaryWebSocketFrame) tail.reads.remove(0)).release());
  }

  @Test
  void aWriteAfterTwoQuietSecondsPingsAtOnceAheadOfTheData() {
    EmbeddedChannel ch = rarelyPingingChannel();
    advance(ch, KeepaliveHandler.QUIET_BEFORE_WRITE_PING_MILLIS - 1);
    writeData(ch);
    assertData(ch);
    assertNull(ch.readOutbound(), "not quiet long enough: no ping");
    advance(ch, 1);
    writeData(ch);
    assertPing(ch);
    assertData(ch);
    assertNull(ch.readOutbound());
    ch.finishAndReleaseAll();
  }

  @Test
  void noSecondPingWhileOneIsUnansweredAndAnotherOnlyAfterTheNextQuietTime() {
    EmbeddedChannel ch = rarelyPingingChannel();
    advance(ch, KeepaliveHandler.QUIET_BEFORE_WRITE_PING_MILLIS);
    writeData(ch);
    assertPing(ch);
    assertData(ch);
    for (int i = 0; i < 3; i++) {
      advance(ch, TIMEOUT / 4);
      writeData(ch);
      assertData(ch);
      assertNull(ch.readOutbound(), "a ping is unanswered: no other");
    }
    ch.writeInbound(new PongWebSocketFrame());
    writeData(ch);
    assertData(ch);
    assertNull(ch.readOutbound(), "the pong just arrived: not quiet");
    advance(ch, KeepaliveHandler.QUIET_BEFORE_WRITE_PING_MILLIS);
    writeData(ch);
    assertPing(ch);
    assertData(ch);
    assertTrue(ch.isOpen());
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    ch.finishAndReleaseAll();
  }

  @Test
  void steadyTrafficBothWaysSendsNoWritePings() {
    EmbeddedChannel ch = rarelyPingingChannel();
    for (int i = 0; i < 20; i++) { // 20 s of a request each second, each answered
      advance(ch, 1_000);
      writeData(ch);
      assertData(ch);
      receiveData(ch);
    }
    assertNull(ch.readOutbound(), "no ping while data arrives");
    assertTrue(ch.isOpen());
    ch.finishAndReleaseAll();
  }

  @Test
  void noWritePingWhileThisSideHoldsThePeersBytesUnread() {
    EmbeddedChannel ch = rarelyPingingChannel();
    ch.config().setAutoRead(false);
    advance(ch, 10_000);
    writeData(ch);
    assertData(ch);
    assertNull(ch.readOutbound(), "the silence is our own");
    ch.finishAndReleaseAll();
  }

  @Test
  void aMissingPongAfterAWritePingClosesWithinTheTimeoutOfTheWrite() {
    // The path is a black hole: every write is taken and nothing ever comes back.
    ControlFrameHandlerTest.HoldWrites socket = new ControlFrameHandlerTest.HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(socket, new KeepaliveHandler(30_000, TIMEOUT),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), tail);
    receiveData(ch);
    advance(ch, 5_000);
    writeData(ch); // an RPC starts on a path that went silent 5 s ago
    assertInstanceOf(PingWebSocketFrame.class, socket.messages.get(0));
    assertInstanceOf(BinaryWebSocketFrame.class, socket.messages.get(1));
    socket.completeAll(); // both reach the socket
    advance(ch, TIMEOUT - 1);
    assertTrue(tail.exceptions.isEmpty(), "within the timeout: " + tail.exceptions);
    advance(ch, 1);
    StatusRuntimeException e = tail.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertInstanceOf(KeepaliveHandler.PingTimeoutException.class, e.getCause());
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, socket.messages.get(0),
        "closed 7 s into a 30 s ping interval");
    assertEquals(1001, close.statusCode());
    socket.completeAll();
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void aWritePingQueuedBehindOurBytesKeepsTheSlowReaderAllowance() {
    ControlFrameHandlerTest.HoldWrites socket = new ControlFrameHandlerTest.HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(socket, new KeepaliveHandler(30_000, TIMEOUT),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), tail);
    advance(ch, KeepaliveHandler.QUIET_BEFORE_WRITE_PING_MILLIS);
    writeData(ch);
    assertInstanceOf(PingWebSocketFrame.class, socket.messages.get(0), "the ping goes ahead of the data");
    for (int i = 0; i < 6; i++) { // three timeouts of a slow reader taking our bytes
      advance(ch, TIMEOUT / 2);
      ch.pipeline().fireChannelWritabilityChanged();
    }
    assertTrue(tail.exceptions.isEmpty(), "not silent while our bytes drain: " + tail.exceptions);
    socket.completeAll();
    ch.writeInbound(new PongWebSocketFrame());
    advance(ch, 2 * TIMEOUT);
    assertTrue(ch.isOpen());
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    ch.finishAndReleaseAll();
    socket.completeAll();
  }

  @Test
  void noPingFollowsACloseFromThisSide() {
    EmbeddedChannel ch = channel();
    ch.writeOutbound(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE));
    CloseWebSocketFrame close = ch.readOutbound();
    close.release();
    advance(ch, 10 * INTERVAL);
    assertNull(ch.readOutbound());
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    ch.finishAndReleaseAll();
  }

  @Test
  void closedChannelStopsPinging() {
    EmbeddedChannel ch = channel();
    ch.close();
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, ch.readOutbound(),
        "the control handler says goodbye");
    close.release();
    advance(ch, 10 * INTERVAL);
    assertNull(ch.readOutbound());
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    assertFalse(ch.finish());
  }

  @Test
  void timesMustBePositive() {
    assertEquals("intervalMillis: 0 (expected: > 0)",
        assertThrows(IllegalArgumentException.class, () -> new KeepaliveHandler(0, 1)).getMessage());
    assertEquals("timeoutMillis: -1 (expected: > 0)",
        assertThrows(IllegalArgumentException.class, () -> new KeepaliveHandler(1, -1)).getMessage());
  }

  @Test
  void installPutsKeepaliveBetweenTheEncoderAndTheControlHandler() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("tail", tail);
    FramePipeline.install(ch.pipeline(), "tail", FramePipeline.Role.CLIENT, dev.wsgrpc.core.TunnelSettings
        .newBuilder().pingInterval(java.time.Duration.ofMillis(INTERVAL)).pingTimeout(java.time.Duration.ofMillis(
            TIMEOUT)).build(), PEER);
    java.util.List<String> names = ch.pipeline().names();
    assertEquals(java.util.Arrays.asList(FramePipeline.DECODER, FramePipeline.ENCODER, FramePipeline.KEEPALIVE,
        FramePipeline.CONTROL, FramePipeline.BYTE_STREAM, FramePipeline.ACK_LIMIT, "tail"), names.subList(0, 7));
    EmbeddedChannel without = new EmbeddedChannel();
    without.pipeline().addLast("tail", new InboundRecorder());
    FramePipeline.install(without.pipeline(), "tail", FramePipeline.Role.CLIENT, dev.wsgrpc.core.TunnelSettings
        .newBuilder().pingInterval(java.time.Duration.ZERO).build(), PEER);
    assertNull(without.pipeline().get(FramePipeline.KEEPALIVE), "interval 0: no keepalive");
    ch.finishAndReleaseAll();
    without.finishAndReleaseAll();
  }
}
