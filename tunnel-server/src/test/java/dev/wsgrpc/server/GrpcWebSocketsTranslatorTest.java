package dev.wsgrpc.server;

import static dev.wsgrpc.server.ScriptedHttp2Server.grpcMessage;
import static dev.wsgrpc.server.ScriptedHttp2Server.grpcMessageText;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http2.Http2Error;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link GrpcWebSocketsTranslator} in front of a real HTTP/2 server handler, on an {@link EmbeddedChannel}. */
class GrpcWebSocketsTranslatorTest {

  private static final String HEADERS = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"
      + "authorization: Bearer t0ken\r\nx-tenant: t1\r\n";

  private final ScriptedHttp2Server server = new ScriptedHttp2Server();
  private final List<HttpHeaders> admitted = new ArrayList<>();
  private final List<TunnelEstablishedEvent> established = new ArrayList<>();
  private AuthDecision decision;
  private EmbeddedChannel channel;

  @AfterEach
  void releaseEverything() {
    BrowserFrames.release(BrowserFrames.outbound(channel));
    channel.finishAndReleaseAll();
    server.release();
  }

  private void open(int maxHeaderBytes) {
    open(maxHeaderBytes, null);
  }

  /** With {@code alloc} (unless null) as the channel's allocator from before the translator is added. */
  private void open(int maxHeaderBytes, io.netty.buffer.ByteBufAllocator alloc) {
    GrpcWebSocketsTranslator translator = new GrpcWebSocketsTranslator("/pkg.Svc/Chat", "https", "example.test",
        new InetSocketAddress("127.0.0.1", 1234), maxHeaderBytes, 5_000, headers -> {
          admitted.add(headers);
          return decision;
        });
    channel = new EmbeddedChannel(new io.netty.channel.ChannelInitializer<io.netty.channel.Channel>() {
      @Override
      protected void initChannel(io.netty.channel.Channel ch) {
        if (alloc != null) {
          ch.config().setAllocator(alloc);
        }
        ch.pipeline().addLast(translator, new ChannelInboundHandlerAdapter() {
          @Override
          public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof TunnelEstablishedEvent) {
              established.add((TunnelEstablishedEvent) evt);
            }
            ctx.fireUserEventTriggered(evt);
          }
        }, server.handler);
      }
    });
  }

  private static BinaryWebSocketFrame frame(String text) {
    return new BinaryWebSocketFrame(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
  }

  private static BinaryWebSocketFrame message(String text) {
    ByteBuf framed = grpcMessage(text);
    return new BinaryWebSocketFrame(Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(new byte[] {0}), framed));
  }

  private static BinaryWebSocketFrame halfClose() {
    return new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {1}));
  }

  /** The trailers of an exchange that ended: header frame(s), trailers, Close 1000, channel closed. */
  private String trailersOfEnd() {
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      CloseWebSocketFrame close = (CloseWebSocketFrame) out.get(out.size() - 1);
      assertEquals(1000, close.statusCode());
      lingerEnds();
      assertFalse(channel.isOpen());
      return BrowserFrames.headerFrameText(((BinaryWebSocketFrame) out.get(out.size() - 2)).content());
    } finally {
      BrowserFrames.release(out);
    }
  }

  /** The connection closes {@link LingeringClose#LINGER_MILLIS} after the status. */
  private void lingerEnds() {
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
  }

  /** A '+' in a parameter of the page's content type is no codec: the call stays protobuf's. */
  @Test
  void theCodecComesFromTheMediaTypeNotItsParameters() {
    open(8192);
    channel.writeInbound(frame(HEADERS.replace("content-type: application/grpc-web+proto",
        "content-type: application/grpc-web; x=a+b")));
    channel.writeInbound(halfClose());
    channel.runPendingTasks();
    assertEquals("application/grpc+proto", server.only().headers.get("content-type").toString());
  }

  @Test
  void headersMessagesAndHalfCloseBecomeACallAndTheAnswerComesBackFramed() {
    open(8192);
    channel.writeInbound(frame(HEADERS));
    assertEquals("t0ken", admitted.get(0).get("authorization").substring(7), "the first message's headers");
    assertEquals("grpc-websockets", established.get(0).subprotocol());
    channel.writeInbound(message("one"), message("two"), halfClose());
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals("/pkg.Svc/Chat", stream.headers.path().toString());
    assertEquals("https", stream.headers.scheme().toString());
    assertEquals("example.test", stream.headers.authority().toString());
    assertEquals("application/grpc+proto", stream.headers.get("content-type").toString());
    assertEquals("t1", stream.headers.get("x-tenant").toString());
    assertFalse(stream.headers.contains("x-grpc-web"));
    assertTrue(stream.ended, "0x01 half-closes");
    ByteBuf first = stream.data.readRetainedSlice(8);
    assertEquals("one", grpcMessageText(first));
    first.release();
    assertEquals("two", grpcMessageText(stream.data));

    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, grpcMessage("answer"), false);
    server.trailers(channel, stream.id, 0, null);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(4, out.size(), out.toString());
      assertEquals("x-answer: yes\r\ncontent-type: application/grpc-web+proto\r\n",
          BrowserFrames.headerFrameText(((BinaryWebSocketFrame) out.get(0)).content()));
      assertEquals("answer", grpcMessageText(((BinaryWebSocketFrame) out.get(1)).content()));
      assertEquals("grpc-status: 0\r\n", BrowserFrames.headerFrameText(((BinaryWebSocketFrame) out.get(2)).content()));
      assertEquals(1000, ((CloseWebSocketFrame) out.get(3)).statusCode());
    } finally {
      BrowserFrames.release(out);
    }
    lingerEnds();
    assertFalse(channel.isOpen());
  }

  @Test
  void aMessageSplitIntoFragmentsArrivesWhole() {
    open(8192);
    channel.writeInbound(new BinaryWebSocketFrame(false, 0, Unpooled.copiedBuffer(HEADERS.substring(0, 10),
        StandardCharsets.US_ASCII)), new ContinuationWebSocketFrame(true, 0,
        Unpooled.copiedBuffer(HEADERS.substring(10), StandardCharsets.US_ASCII)));
    ByteBuf framed = grpcMessage("fragmented");
    channel.writeInbound(new BinaryWebSocketFrame(false, 0, Unpooled.wrappedBuffer(
        Unpooled.wrappedBuffer(new byte[] {0}), framed.readRetainedSlice(3))));
    channel.writeInbound(new ContinuationWebSocketFrame(false, 0, Unpooled.EMPTY_BUFFER));
    channel.writeInbound(new ContinuationWebSocketFrame(true, 0, framed));
    channel.runPendingTasks();
    assertEquals("fragmented", grpcMessageText(server.only().data));
    assertTrue(channel.isOpen());
  }

  /**
   * A message in 1,000 one-byte fragments that arrive in one read reaches gRPC as one DATA frame: gRPC holds each
   * frame of a message it assembles as a piece of its own (some 200 bytes of heap for one byte sent).
   */
  @Test
  void aMessageInOneByteFragmentsOfOneReadReachesGrpcAsOneDataFrame() {
    open(8192);
    channel.writeInbound(frame(HEADERS));
    channel.runPendingTasks();
    ByteBuf framed = grpcMessage("x".repeat(994)); // 5 + 994 bytes, and the 0x00 in front: 1,000
    List<Object> fragments = new ArrayList<>();
    fragments.add(new BinaryWebSocketFrame(false, 0, Unpooled.wrappedBuffer(new byte[] {0})));
    while (framed.isReadable()) {
      fragments.add(new ContinuationWebSocketFrame(framed.readableBytes() == 1, 0, framed.readRetainedSlice(1)));
    }
    framed.release();
    channel.writeInbound(fragments.toArray());
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals(1, stream.dataFrames);
    assertEquals("x".repeat(994), grpcMessageText(stream.data));
  }

  @Test
  void anUnknownMessageTypeCancelsTheCallAndSaysWhatWasExpected() {
    open(8192);
    channel.writeInbound(frame(HEADERS), new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {7, 0})));
    channel.runPendingTasks();
    assertEquals(Http2Error.CANCEL.code(), server.only().resetCode);
    assertEquals("grpc-status: 13\r\ngrpc-message: expected a message starting with 0x00 (data) or 0x01 "
        + "(half-close) but was 0x07\r\n", trailersOfEnd());
  }

  @Test
  void aMessageAfterTheHalfCloseIsAProtocolError() {
    open(8192);
    channel.writeInbound(frame(HEADERS), halfClose(), message("late"));
    assertEquals("grpc-status: 13\r\ngrpc-message: expected nothing after the half-close (0x01) but a message "
        + "arrived\r\n", trailersOfEnd());
  }

  @Test
  void anEmptyMessageIsAProtocolError() {
    open(8192);
    channel.writeInbound(frame(HEADERS), new BinaryWebSocketFrame(Unpooled.EMPTY_BUFFER));
    assertEquals("grpc-status: 13\r\ngrpc-message: expected a message of at least one byte but it was empty\r\n",
        trailersOfEnd());
  }

  @Test
  void aRefusedCallNeverReachesGrpcAndGetsTheRefusalAsItsStatus() {
    decision = AuthDecision.unauthorized("expected a bearer token");
    open(8192);
    channel.writeInbound(frame("content-type: application/grpc-web+proto\r\n"));
    assertTrue(server.streams.isEmpty());
    assertTrue(established.isEmpty(), "gRPC never saw the connection");
    assertEquals("grpc-status: 16\r\ngrpc-message: expected a bearer token\r\n", trailersOfEnd());
  }

  @Test
  void oversizedRequestHeadersAreRefused() {
    open(64);
    channel.writeInbound(frame("x-big: " + "b".repeat(100) + "\r\n"));
    assertTrue(admitted.isEmpty());
    assertEquals("grpc-status: 8\r\ngrpc-message: expected request headers of at most 64 bytes\r\n",
        trailersOfEnd());
  }

  /**
   * Request headers in many fragments, empty ones among them, are copied in as they come: a composite of the
   * fragments copied all it held every 16 of them, so a caller not yet admitted made the server allocate and copy all
   * it had sent for every 96 bytes of empty fragments (these 10,000 after 6 KB: some 4 MB).
   */
  @Test
  void headersInManyFragmentsAreAssembledWithoutBeingCopiedOverAndOver() {
    CountingAllocator counting = new CountingAllocator();
    open(16_384, counting);
    String headers = HEADERS + "x-pad: " + "p".repeat(6_000) + "\r\n";
    List<Object> fragments = new ArrayList<>();
    fragments.add(new BinaryWebSocketFrame(false, 0, Unpooled.copiedBuffer(headers, StandardCharsets.ISO_8859_1)));
    for (int i = 0; i < 10_000; i++) {
      fragments.add(new ContinuationWebSocketFrame(false, 0, Unpooled.EMPTY_BUFFER));
    }
    fragments.add(new ContinuationWebSocketFrame(true, 0, Unpooled.EMPTY_BUFFER));
    channel.writeInbound(fragments.toArray());
    assertEquals(1, admitted.size());
    assertEquals("p".repeat(6_000), admitted.get(0).get("x-pad"));
    assertTrue(counting.allocated < 256 * 1024, counting.allocated + " bytes allocated");
  }

  /** Request headers over the limit: what arrived of them is let go at once, not when the connection ends. */
  @Test
  void oversizedRequestHeadersInFragmentsAreReleasedAtTheRefusal() {
    open(64);
    CountingAllocator counting = new CountingAllocator(); // from here: the first buffer made collects the headers
    channel.config().setAllocator(counting);
    channel.writeInbound(new BinaryWebSocketFrame(false, 0, Unpooled.copiedBuffer("x-big: " + "b".repeat(40),
        StandardCharsets.ISO_8859_1)));
    ByteBuf collecting = counting.made.get(0); // the first buffer made: what collects the headers
    assertEquals(1, collecting.refCnt());
    channel.writeInbound(new ContinuationWebSocketFrame(false, 0, Unpooled.copiedBuffer("b".repeat(40),
        StandardCharsets.ISO_8859_1)));
    assertEquals(0, collecting.refCnt());
    assertTrue(channel.isActive(), "released before the connection ends");
    assertEquals("grpc-status: 8\r\ngrpc-message: expected request headers of at most 64 bytes\r\n",
        trailersOfEnd());
  }

  @Test
  void headerLinesThatAreNotHeadersAreRefused() {
    open(8192);
    channel.writeInbound(frame("no colon here\r\n"));
    assertEquals("grpc-status: 13\r\ngrpc-message: expected request headers as 'name: value' lines\r\n",
        trailersOfEnd());
  }

  @Test
  void noFirstMessageInTimeEndsWithDeadlineExceeded() {
    open(8192);
    channel.advanceTimeBy(5_001, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertEquals("grpc-status: 4\r\ngrpc-message: expected the request headers as the first message within "
        + "5000 ms\r\n", trailersOfEnd());
  }

  @Test
  void aResetByGrpcEndsTheCallWithItsStatus() {
    open(8192);
    channel.writeInbound(frame(HEADERS), message("x"));
    channel.runPendingTasks();
    server.reset(channel, server.only().id, Http2Error.CANCEL);
    String trailers = trailersOfEnd();
    assertTrue(trailers.startsWith("grpc-status: 1\r\n"), trailers);
  }

  @Test
  void aCancelOnceTheCallsGrpcTimeoutHasElapsedIsItsDeadline() {
    open(8192);
    channel.freezeTime();
    channel.writeInbound(frame(HEADERS + "grpc-timeout: 500m\r\n"), message("x"));
    channel.runPendingTasks();
    channel.advanceTimeBy(503, TimeUnit.MILLISECONDS);
    server.reset(channel, server.only().id, Http2Error.CANCEL);
    assertEquals("grpc-status: 4\r\ngrpc-message: deadline of 500 ms (grpc-timeout 500m) exceeded after 503 ms\r\n",
        trailersOfEnd());
  }

  @Test
  void ofSeveralGrpcTimeoutsTheLastIsTheDeadlineAsInGrpcJavasMetadata() {
    open(8192);
    channel.freezeTime();
    channel.writeInbound(frame(HEADERS + "grpc-timeout: 10S\r\ngrpc-timeout: 1m\r\n"), message("x"));
    channel.runPendingTasks();
    assertEquals(List.of("10S", "1m"), server.only().headers.getAll("grpc-timeout").stream()
        .map(CharSequence::toString).collect(Collectors.toList()), "both travel to gRPC, in order");
    channel.advanceTimeBy(2, TimeUnit.MILLISECONDS);
    server.reset(channel, server.only().id, Http2Error.CANCEL);
    assertEquals("grpc-status: 4\r\ngrpc-message: deadline of 1 ms (grpc-timeout 1m) exceeded after 2 ms\r\n",
        trailersOfEnd());
  }

  @Test
  void aCancelOfACallWithANegativeGrpcTimeoutIsItsDeadline() {
    open(8192);
    channel.freezeTime();
    channel.writeInbound(frame(HEADERS + "grpc-timeout: -1S\r\n"), message("x"));
    channel.runPendingTasks();
    server.reset(channel, server.only().id, Http2Error.CANCEL);
    assertEquals("grpc-status: 4\r\ngrpc-message: deadline of 0 ms (grpc-timeout -1S) exceeded after 0 ms\r\n",
        trailersOfEnd());
  }

  @Test
  void aCallGrpcResetsWhileReadingItsHeadersEndsWithTheResetsStatus() {
    // gRPC resets a stream whose headers it cannot accept before the bridge has handed the stream's id back.
    server.resetOnHeaders = Http2Error.PROTOCOL_ERROR;
    open(8192);
    channel.writeInbound(frame(HEADERS), message("x"));
    channel.runPendingTasks();
    String trailers = trailersOfEnd();
    assertTrue(trailers.startsWith("grpc-status: 13\r\ngrpc-message: the server reset the call: PROTOCOL_ERROR\r\n"),
        trailers);
  }

  @Test
  void closingTheSocketMidMessageReleasesEverything() {
    open(8192);
    channel.writeInbound(frame(HEADERS));
    ByteBuf framed = grpcMessage("never finished");
    channel.writeInbound(new BinaryWebSocketFrame(false, 0, Unpooled.wrappedBuffer(
        Unpooled.wrappedBuffer(new byte[] {0}), framed.readRetainedSlice(4))));
    framed.release();
    channel.runPendingTasks();
    // The peer goes away: the close starts at the socket's end, as a disconnect does.
    channel.pipeline().firstContext().close();
    assertFalse(channel.isOpen());
    assertNull(channel.readInbound());
  }

  @Test
  void closingTheSocketBeforeTheFirstMessageReleasesThePartialHeaders() {
    open(8192);
    channel.writeInbound(new BinaryWebSocketFrame(false, 0, Unpooled.copiedBuffer("x-a: b\r\n",
        StandardCharsets.US_ASCII)));
    // The peer goes away: the close starts at the socket's end, as a disconnect does.
    channel.pipeline().firstContext().close();
    assertTrue(admitted.isEmpty());
  }
}
