package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import dev.wsgrpc.testing.InboundRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ControlFrameHandlerTest {

  private static final String PEER = "ws://example.com/grpc";

  /** Sits next to the socket and keeps every write pending, as a slow socket would. */
  static final class HoldWrites extends ChannelOutboundHandlerAdapter {
    final List<Object> messages = new ArrayList<>();
    final List<ChannelPromise> promises = new ArrayList<>();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      messages.add(msg);
      promises.add(promise);
    }

    /** Completes the held writes and releases their messages. */
    void completeAll() {
      for (Object msg : messages) {
        ReferenceCountUtil.release(msg);
      }
      for (ChannelPromise p : promises) {
        p.setSuccess();
      }
      messages.clear();
      promises.clear();
    }
  }

  /**
   * Stands in for the frame decoder: throws the exceptions it reads, as WebSocket13FrameDecoder throws
   * CorruptedWebSocketFrameException from channelRead.
   */
  static final class ThrowingDecoder extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      if (msg instanceof Exception) {
        throw (Exception) msg;
      }
      ctx.fireChannelRead(msg);
    }
  }

  private static ByteBuf bytes(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
  }

  private static EmbeddedChannel channel(InboundRecorder recorder) {
    return new EmbeddedChannel(
        new ThrowingDecoder(), new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
  }

  /**
   * Lets the time a connection lingers after a protocol error pass (the peer did not hang up first), so that it
   * closes.
   */
  static void lingerOver(EmbeddedChannel ch) {
    ch.advanceTimeBy(ControlFrameHandler.ERROR_LINGER_MILLIS, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
  }

  /** Ends a test whose tunnel is still open: closing sends Close 1000, then nothing is left over. */
  private static void closeAndFinish(EmbeddedChannel ch) {
    assertTrue(ch.isOpen());
    ch.close();
    readClose(ch, 1000);
    assertFalse(ch.finish());
  }

  /** Reads the one outbound close frame, checks its code, releases it and returns its reason. */
  private static String readClose(EmbeddedChannel ch, int expectedCode) {
    Object out = ch.readOutbound();
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, out);
    assertEquals(expectedCode, close.statusCode());
    String reason = close.reasonText();
    assertTrue(close.release());
    assertNull(ch.readOutbound(), "one close frame only");
    return reason;
  }

  @Test
  void pingIsAnsweredWithPongCarryingTheSamePayload() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ByteBuf payload = bytes("are you there");
    ch.writeInbound(new PingWebSocketFrame(payload));

    PongWebSocketFrame pong = ch.readOutbound();
    assertEquals("are you there", pong.content().toString(StandardCharsets.UTF_8));
    assertSame(payload, pong.content(), "the ping's payload is reused, not copied");
    assertTrue(pong.release());
    assertEquals(0, payload.refCnt());
    assertTrue(recorder.reads.isEmpty(), "pings never reach gRPC");
    assertTrue(recorder.exceptions.isEmpty());
    closeAndFinish(ch);
  }

  @Test
  void pingsAreNotAnsweredWhileThePeerIsNotReading() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ch.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(1, 2));
    ch.write(bytes("unread bytes make the channel unwritable"));
    assertFalse(ch.isWritable());
    ByteBuf payload = bytes("flood");
    ch.writeInbound(new PingWebSocketFrame(payload));

    assertEquals(0, payload.refCnt(), "the ping is released, no pong is queued");
    ch.flush();
    ByteBuf unread = ch.readOutbound();
    assertTrue(unread.release());
    assertNull(ch.readOutbound(), "no pong");
    assertTrue(recorder.exceptions.isEmpty());
    closeAndFinish(ch);
  }

  /**
   * Of a read full of pings only the latest is answered (RFC 6455 5.5.3), with one write to the socket: one pong and
   * one flush (a system call) per ping made a flood of six-byte pings cost the server a write each.
   */
  @Test
  void ofTheManyPingsOfOneReadTheLatestIsAnsweredWithOneWrite() {
    InboundRecorder recorder = new InboundRecorder();
    int[] flushes = {0};
    EmbeddedChannel ch = new EmbeddedChannel(new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void flush(io.netty.channel.ChannelHandlerContext ctx) {
        flushes[0]++;
        ctx.flush();
      }
    }, new ThrowingDecoder(), new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
    Object[] pings = new Object[1000];
    for (int i = 0; i < pings.length; i++) {
      pings[i] = new PingWebSocketFrame(bytes("ping " + i));
    }
    ch.writeInbound(pings);
    PongWebSocketFrame pong = ch.readOutbound();
    assertEquals("ping 999", pong.content().toString(StandardCharsets.UTF_8));
    assertTrue(pong.release());
    assertNull(ch.readOutbound(), "one pong");
    assertEquals(1, flushes[0]);
    for (Object ping : pings) {
      assertEquals(0, ((PingWebSocketFrame) ping).refCnt());
    }
    closeAndFinish(ch);
  }

  @Test
  void emptyPingIsAnsweredWithEmptyPong() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ch.writeInbound(new PingWebSocketFrame());
    PongWebSocketFrame pong = ch.readOutbound();
    assertEquals(0, pong.content().readableBytes());
    pong.release();
    closeAndFinish(ch);
  }

  @Test
  void pongIsDroppedAndReleased() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    PongWebSocketFrame pong = new PongWebSocketFrame(bytes("late answer"));
    ch.writeInbound(pong);
    assertEquals(0, pong.refCnt());
    assertNull(ch.readOutbound(), "a pong is not answered");
    assertTrue(recorder.reads.isEmpty());
    assertTrue(recorder.exceptions.isEmpty());
    closeAndFinish(ch);
  }

  @Test
  void binaryAndContinuationFramesPassOnUntouched() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    BinaryWebSocketFrame binary = new BinaryWebSocketFrame(false, 0, bytes("ab"));
    ContinuationWebSocketFrame continuation = new ContinuationWebSocketFrame(true, 0, bytes("c"));
    ch.writeInbound(binary);
    ch.writeInbound(continuation);
    assertEquals(2, recorder.reads.size());
    assertSame(binary, recorder.reads.get(0));
    assertSame(continuation, recorder.reads.get(1));
    assertTrue(binary.release());
    assertTrue(continuation.release());
    assertNull(ch.readOutbound());
    closeAndFinish(ch);
  }

  @Test
  void textFrameClosesWith1003() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    TextWebSocketFrame text = new TextWebSocketFrame("{\"json\":true}");
    ch.writeInbound(text);

    assertEquals(0, text.refCnt());
    assertEquals("expected binary frames but was a text frame", readClose(ch, 1003));
    StatusRuntimeException e = recorder.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertEquals("expected binary frames but was a text frame (from ws://example.com/grpc; sent close "
        + "1003 (Unsupported Data))", e.getStatus().getDescription());
    assertTrue(recorder.reads.isEmpty(), "the text frame is not passed on");
    assertTrue(ch.isOpen(), "the connection lingers for the peer to read the close frame");
    lingerOver(ch);
    assertFalse(ch.isOpen(), "the connection is closed once the linger time is over");
    assertFalse(ch.finish());
  }

  @Test
  void textFrameClosesTheChannelOnlyAfterTheCloseFrameIsWritten() {
    HoldWrites socket = new HoldWrites();
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
    ch.writeInbound(new TextWebSocketFrame("x"));

    assertEquals(1, socket.messages.size());
    CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, socket.messages.get(0));
    assertEquals(1003, close.statusCode());
    assertTrue(ch.isOpen(), "closing before the close frame is written would lose it");
    assertEquals(Status.Code.INTERNAL, recorder.onlyException(StatusRuntimeException.class).getStatus().getCode());

    socket.completeAll();
    lingerOver(ch);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void receivedCloseIsEchoedWithItsCodeAndEndsTheTunnelUnavailable() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    CloseWebSocketFrame received = new CloseWebSocketFrame(1001, "bye");
    ch.writeInbound(received);

    assertEquals(0, received.refCnt());
    readClose(ch, 1001);
    StatusRuntimeException e = recorder.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("WebSocket closed by ws://example.com/grpc with 1001 (Going Away): bye",
        e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().contains("1001 (Going Away)"));
    assertTrue(e.getStatus().getDescription().contains("bye"));
    assertFalse(ch.isOpen());
    assertEquals(1, recorder.inactive);
    assertFalse(ch.finish());
  }

  @Test
  void receivedCloseIsEchoedOnceTheReadIsHandledAndNothingElseGoesOutAfterIt() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ch.pipeline().fireChannelRead(new CloseWebSocketFrame(1000, "done")); // inside the socket's read

    BinaryWebSocketFrame goAway = new BinaryWebSocketFrame(bytes("GOAWAY"));
    // Through the pipeline: EmbeddedChannel's own write would run the loop's tasks after it.
    assertFalse(ch.pipeline().write(goAway).isSuccess(), "what gRPC writes as it winds down is dropped");
    assertEquals(0, goAway.refCnt());
    assertTrue(ch.outboundMessages().isEmpty(), "the echo waits for the read to be handled");
    assertTrue(ch.isOpen());

    ch.runPendingTasks(); // the read is handled and the peer is still there
    readClose(ch, 1000);
    assertFalse(ch.isOpen(), "closed once the echo is written");
    assertEquals(Status.Code.UNAVAILABLE, recorder.onlyException(StatusRuntimeException.class).getStatus().getCode());
    assertFalse(ch.finish());
  }

  @Test
  void peerThatHungUpInTheReadOfItsCloseGetsNoEcho() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ch.pipeline().fireChannelRead(new CloseWebSocketFrame(1000, "done"));
    // The same read found the end of the stream: the transport closes the connection, as Netty does without
    // half-closure, before the event loop's tasks run.
    ch.unsafe().close(ch.voidPromise());

    ch.runPendingTasks();
    assertTrue(ch.outboundMessages().isEmpty(), "a Close to a peer that hung up would only draw a TCP reset");
    assertFalse(ch.isOpen());
    assertEquals(1, recorder.inactive);
    assertEquals(1000, ch.attr(ControlFrameHandler.CLOSE_RECEIVED).get());
    assertEquals(Status.Code.UNAVAILABLE, recorder.onlyException(StatusRuntimeException.class).getStatus().getCode());
    assertFalse(ch.finish());
  }

  @Test
  void receivedCloseWithoutCodeIsAnsweredWith1000() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ch.writeInbound(new CloseWebSocketFrame());

    readClose(ch, 1000);
    StatusRuntimeException e = recorder.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("WebSocket closed by ws://example.com/grpc without a close code", e.getStatus().getDescription());
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void receivedCloseCodeChoosesTheGrpcStatus() {
    int[] codes = {1000, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 4000};
    Status.Code[] expected = {Status.Code.UNAVAILABLE, Status.Code.INTERNAL, Status.Code.INTERNAL,
        Status.Code.INTERNAL, Status.Code.PERMISSION_DENIED, Status.Code.RESOURCE_EXHAUSTED,
        Status.Code.UNAVAILABLE, Status.Code.UNAVAILABLE, Status.Code.UNAVAILABLE};
    for (int i = 0; i < codes.length; i++) {
      InboundRecorder recorder = new InboundRecorder();
      EmbeddedChannel ch = channel(recorder);
      ch.writeInbound(new CloseWebSocketFrame(codes[i], "r"));
      readClose(ch, codes[i]);
      assertEquals(expected[i], recorder.onlyException(StatusRuntimeException.class).getStatus().getCode(), "close code " + codes[i]);
      assertFalse(ch.finish());
    }
  }

  @Test
  void messageTooBigClosesWith1009AndFailsResourceExhausted() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    CorruptedWebSocketFrameException tooBig = new CorruptedWebSocketFrameException(
        WebSocketCloseStatus.MESSAGE_TOO_BIG, "Max frame length of 65536 has been exceeded.");
    ch.writeInbound(tooBig);

    assertEquals("Max frame length of 65536 has been exceeded.", readClose(ch, 1009));
    StatusRuntimeException e = recorder.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals("Max frame length of 65536 has been exceeded. (from ws://example.com/grpc; sent close "
        + "1009 (Message Too Big))", e.getStatus().getDescription());
    assertSame(tooBig, e.getCause(), "the decoder's exception is kept as the cause");
    lingerOver(ch);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void corruptFrameWithoutCloseStatusClosesWith1002() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    ch.writeInbound(new CorruptedWebSocketFrameException(null, "bad frame"));

    assertEquals("bad frame", readClose(ch, 1002));
    StatusRuntimeException e = recorder.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("sent close 1002 (Protocol Error)"));
    assertFalse(ch.finish());
  }

  @Test
  void otherExceptionsPassThroughWithoutClosing() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    IOException reset = new IOException("Connection reset by peer");
    ch.writeInbound(reset);

    assertEquals(1, recorder.exceptions.size());
    assertSame(reset, recorder.exceptions.get(0));
    assertNull(ch.readOutbound(), "no close frame for an I/O error");
    closeAndFinish(ch);
  }

  @Test
  void closeReasonIsCutToFitAControlFrame() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = channel(recorder);
    StringBuilder problem = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      problem.append('\u00e9'); // two bytes in UTF-8
    }
    ch.writeInbound(
        new CorruptedWebSocketFrameException(WebSocketCloseStatus.PROTOCOL_ERROR, problem.toString()));

    CloseWebSocketFrame close = ch.readOutbound();
    assertEquals(1002, close.statusCode());
    assertTrue(close.content().readableBytes() <= 125, "a control frame payload is at most 125 bytes");
    String reason = close.reasonText();
    assertEquals(122, reason.getBytes(StandardCharsets.UTF_8).length, "cut on a character boundary");
    assertTrue(problem.toString().startsWith(reason));
    assertTrue(close.release());
    assertTrue(recorder.onlyException(StatusRuntimeException.class).getStatus().getDescription().startsWith(problem.toString()),
        "gRPC's description keeps the whole problem");
    assertFalse(ch.finish());
  }

  @Test
  void channelCloseSendsNormalClosureOnClients() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
    ChannelFuture closed = ch.close();

    readClose(ch, 1000);
    assertTrue(closed.isSuccess());
    assertFalse(ch.isOpen());
    assertTrue(recorder.exceptions.isEmpty(), "a close asked for by gRPC is not an error");
    assertFalse(ch.finish());
  }

  @Test
  void closeFrameWrittenByALaterHandlerIsTheOnlyCloseSent() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false), recorder);
    ch.writeAndFlush(new CloseWebSocketFrame(1013, "no upstream"));
    ChannelFuture closed = ch.close();

    assertEquals("no upstream", readClose(ch, 1013));
    assertTrue(closed.isSuccess());
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void closeFrameWrittenByALaterHandlerIsCutWhenNothingLeavesForFiveSeconds() {
    // A gateway ending a tunnel (a limit broken, a token revoked) writes its Close and closes once it has left. A
    // peer that stopped reading would hold both back for ever, and with them the connection and its tunnel slot.
    HoldWrites socket = new HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false),
        new InboundRecorder());
    ch.freezeTime();
    ChannelFuture written = ch.pipeline().writeAndFlush(new CloseWebSocketFrame(1008, "too_many_pings"));
    written.addListener(ChannelFutureListener.CLOSE);

    ch.advanceTimeBy(4_999, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen());

    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertFalse(ch.isOpen(), "cut after 5 s in which nothing left: its Close never did");
    assertEquals(1008, ((CloseWebSocketFrame) socket.messages.get(0)).statusCode());
    socket.completeAll();
    assertFalse(ch.finish());
  }

  @Test
  void closeFrameWrittenByALaterHandlerThatLeavesCancelsTheCut() {
    HoldWrites socket = new HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false),
        new InboundRecorder());
    ch.freezeTime();
    ch.pipeline().writeAndFlush(new CloseWebSocketFrame(1013, "no upstream"));
    socket.completeAll();

    ch.advanceTimeBy(10, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen(), "the writer closes once its Close has left; nothing else does");
    ChannelFuture closed = ch.close();
    assertTrue(closed.isSuccess());
    assertFalse(ch.finish());
  }

  @Test
  void channelCloseSendsGoingAwayOnServers() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, true), recorder);
    ChannelFuture closed = ch.close();

    readClose(ch, 1001);
    assertTrue(closed.isSuccess());
    assertFalse(ch.isOpen());
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  private static EmbeddedChannel server() {
    return new EmbeddedChannel(
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false),
        new InboundRecorder());
  }

  @Test
  void channelCloseAfterAnHttp2ConnectionErrorSends1002NamingItInsteadOfGoingAway() {
    EmbeddedChannel ch = server();
    ch.pipeline().get(ControlFrameHandler.class).http2Error(0x1, "Frame of type 0 must be associated with a stream.");
    // As gRPC closes it (EmbeddedChannel's own close() would cancel the linger timer).
    ChannelFuture closed = ch.pipeline().close();

    assertEquals("HTTP/2 PROTOCOL_ERROR: Frame of type 0 must be associated with a stream.", readClose(ch, 1002));
    assertFalse(closed.isDone(), "a protocol error's Close: the peer gets a moment to read it");
    lingerOver(ch);
    assertFalse(ch.isOpen(), "closed once the linger time is over");
    assertTrue(closed.isSuccess(), String.valueOf(closed.cause()));
    assertFalse(ch.finish());
  }

  @Test
  void http2ErrorCodesChooseTheCloseCode() {
    long[] errors = {0xb, 0x2, 0x6, 0x42};
    int[] codes = {1008, 1011, 1002, 1002};
    String[] reasons = {"HTTP/2 ENHANCE_YOUR_CALM: too_many_pings", "HTTP/2 INTERNAL_ERROR: oops",
        "HTTP/2 FRAME_SIZE_ERROR: Frame length 7 invalid.", "HTTP/2 error 0x42"};
    String[] debug = {"too_many_pings", "oops", "Frame length 7 invalid.", ""};
    for (int i = 0; i < errors.length; i++) {
      EmbeddedChannel ch = server();
      ch.pipeline().get(ControlFrameHandler.class).http2Error(errors[i], debug[i]);
      ch.pipeline().get(ControlFrameHandler.class).http2Error(0x1, "a second error changes nothing");
      ch.pipeline().close();
      assertEquals(reasons[i], readClose(ch, codes[i]));
      lingerOver(ch);
      assertFalse(ch.finish());
    }
  }

  @Test
  void aGracefulGoAwayLeavesTheNormalClose() {
    EmbeddedChannel ch = server();
    ch.pipeline().get(ControlFrameHandler.class).http2Error(0x0, "graceful shutdown");
    ChannelFuture closed = ch.close();

    readClose(ch, 1001);
    assertTrue(closed.isSuccess(), "closed at once, as a normal end");
    assertFalse(ch.finish());
  }

  @Test
  void anHttp2ErrorTextIsCutToFitACloseWithoutSplittingACharacter() {
    EmbeddedChannel ch = server();
    // "HTTP/2 PROTOCOL_ERROR: x" is 24 bytes, then four-byte characters (surrogate pairs in Java): 24 of them make
    // 120 bytes, and half of the 25th would have fitted as a '?'.
    ch.pipeline().get(ControlFrameHandler.class).http2Error(0x1, "x" + "\ud83d\ude00".repeat(40));
    ch.pipeline().close();

    String reason = readClose(ch, 1002);
    assertEquals("HTTP/2 PROTOCOL_ERROR: x" + "\ud83d\ude00".repeat(24), reason);
    lingerOver(ch);
    assertFalse(ch.finish());
  }

  @Test
  void channelCloseWaitsForTheCloseFrameToBeWritten() {
    HoldWrites socket = new HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), new InboundRecorder());
    ChannelFuture closed = ch.pipeline().close();

    assertEquals(1, socket.messages.size());
    assertEquals(1000, ((CloseWebSocketFrame) socket.messages.get(0)).statusCode());
    assertFalse(closed.isDone(), "cutting the connection now would lose the close frame");
    assertTrue(ch.isOpen());

    socket.completeAll();
    assertTrue(closed.isSuccess());
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void channelCloseIsForcedWhenNothingLeavesForFiveSecondsAfterTheCloseFrame() {
    HoldWrites socket = new HoldWrites();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), new InboundRecorder());
    ch.freezeTime();
    // Through the pipeline, as gRPC closes: EmbeddedChannel.close() would also cancel scheduled tasks.
    ChannelFuture closed = ch.pipeline().close();

    ch.advanceTimeBy(4_999, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen());
    assertFalse(closed.isDone());

    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertFalse(ch.isOpen());
    assertTrue(closed.isSuccess());
    socket.completeAll();
    assertFalse(ch.finish());
  }

  @Test
  void afterCloseWasSentOutboundWritesAreReleasedAndFail() {
    HoldWrites socket = new HoldWrites();
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
    ch.writeInbound(new TextWebSocketFrame("x")); // sends Close 1003, still being written
    assertTrue(ch.isOpen());

    ByteBuf late = bytes("GOAWAY");
    BinaryWebSocketFrame frame = new BinaryWebSocketFrame(late);
    ChannelFuture write = ch.writeAndFlush(frame);

    assertTrue(write.isDone());
    assertInstanceOf(ClosedChannelException.class, write.cause());
    assertEquals(0, late.refCnt());
    assertEquals(1, socket.messages.size(), "only the close frame reached the socket");
    socket.completeAll();
    assertFalse(ch.finish());
  }

  @Test
  void afterCloseWasSentInboundFramesAreReleasedAndNotPassedOn() {
    HoldWrites socket = new HoldWrites();
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(socket,
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
    ch.pipeline().close(); // sends Close 1000, still being written

    BinaryWebSocketFrame data = new BinaryWebSocketFrame(bytes("data"));
    PingWebSocketFrame ping = new PingWebSocketFrame(bytes("ping"));
    TextWebSocketFrame text = new TextWebSocketFrame("text");
    CloseWebSocketFrame peerClose = new CloseWebSocketFrame(1000, "echo");
    ch.writeInbound(data);
    ch.writeInbound(ping);
    ch.writeInbound(text);
    ch.writeInbound(peerClose);

    assertEquals(0, data.refCnt());
    assertEquals(0, ping.refCnt());
    assertEquals(0, text.refCnt());
    assertEquals(0, peerClose.refCnt());
    assertTrue(recorder.reads.isEmpty());
    assertTrue(recorder.exceptions.isEmpty());
    assertEquals(1, socket.messages.size(), "no pong and no second close");
    socket.completeAll();
    assertFalse(ch.finish());
  }

  @Test
  void secondProtocolErrorSendsNoSecondClose() {
    HoldWrites socket = new HoldWrites();
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(socket, new ThrowingDecoder(),
        new ControlFrameHandler(PEER, WebSocketCloseStatus.NORMAL_CLOSURE, true), recorder);
    ch.writeInbound(new TextWebSocketFrame("x"));
    ch.writeInbound(
        new CorruptedWebSocketFrameException(WebSocketCloseStatus.MESSAGE_TOO_BIG, "too big"));

    assertEquals(1, socket.messages.size());
    assertEquals(1003, ((CloseWebSocketFrame) socket.messages.get(0)).statusCode());
    assertEquals(Status.Code.INTERNAL, recorder.onlyException(StatusRuntimeException.class).getStatus().getCode());
    socket.completeAll();
    assertFalse(ch.finish());
  }

  @Test
  void writesBeforeCloseGoOut() {
    EmbeddedChannel ch = channel(new InboundRecorder());
    BinaryWebSocketFrame frame = new BinaryWebSocketFrame(bytes("data"));
    assertTrue(ch.writeAndFlush(frame).isSuccess());
    assertSame(frame, ch.readOutbound());
    assertTrue(frame.release());
    closeAndFinish(ch);
  }

  @Test
  void quietHandlerClosesWith1003WithoutReportingAStatus() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(new ThrowingDecoder(),
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false), recorder);
    TextWebSocketFrame text = new TextWebSocketFrame("x");
    ch.writeInbound(text);

    assertEquals(0, text.refCnt());
    assertEquals("expected binary frames but was a text frame", readClose(ch, 1003));
    assertTrue(recorder.exceptions.isEmpty(), "servers close quietly: gRPC cancels their calls");
    lingerOver(ch);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void quietHandlerEchoesCloseWithoutReportingAStatus() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(new ThrowingDecoder(),
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false), recorder);
    ch.writeInbound(new CloseWebSocketFrame(1000, "done"));

    readClose(ch, 1000);
    assertTrue(recorder.exceptions.isEmpty(), "a client closing is normal: nothing for gRPC to log");
    assertFalse(ch.isOpen());
    assertEquals(1, recorder.inactive, "gRPC learns of the end from channelInactive");
    assertFalse(ch.finish());
  }

  @Test
  void quietHandlerClosesWith1009WithoutReportingAStatus() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(new ThrowingDecoder(),
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false), recorder);
    ch.writeInbound(new CorruptedWebSocketFrameException(WebSocketCloseStatus.MESSAGE_TOO_BIG, "too big"));

    assertEquals("too big", readClose(ch, 1009));
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void quietHandlerStillPassesOtherExceptionsOn() {
    InboundRecorder recorder = new InboundRecorder();
    EmbeddedChannel ch = new EmbeddedChannel(new ThrowingDecoder(),
        new ControlFrameHandler("client 10.0.0.7:5512", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false), recorder);
    IOException reset = new IOException("Connection reset by peer");
    ch.writeInbound(reset);

    assertEquals(1, recorder.exceptions.size());
    assertSame(reset, recorder.exceptions.get(0));
    ch.close();
    readClose(ch, 1001);
    assertFalse(ch.finish());
  }

  @Test
  void constructorRejectsNulls() {
    assertEquals("peer", assertThrows(NullPointerException.class,
        () -> new ControlFrameHandler(null, WebSocketCloseStatus.NORMAL_CLOSURE, true)).getMessage());
    assertEquals("normalClose", assertThrows(NullPointerException.class,
        () -> new ControlFrameHandler(PEER, null, true)).getMessage());
  }
}
