package dev.wsgrpc.server;

import static dev.wsgrpc.server.ScriptedHttp2Server.grpcMessage;
import static dev.wsgrpc.server.ScriptedHttp2Server.grpcMessageText;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Settings;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link GrpcWebTranslator} in front of a real HTTP/2 server handler, on an {@link EmbeddedChannel}. */
class GrpcWebTranslatorTest {

  private static final java.time.Duration REQUEST_TIMEOUT = java.time.Duration.ofSeconds(1);
  private static final java.time.Duration BODY_TIMEOUT = java.time.Duration.ofSeconds(2);
  private static final java.time.Duration KEEP_ALIVE_TIMEOUT = java.time.Duration.ofSeconds(5);
  private static final BrowserOptions BROWSER = BrowserOptions.forOrigins("*").toBuilder()
      .requestBodyTimeout(BODY_TIMEOUT).keepAliveTimeout(KEEP_ALIVE_TIMEOUT).build();

  private ScriptedHttp2Server server = new ScriptedHttp2Server();
  private Status refusal;
  private GrpcWebTranslator translator = new GrpcWebTranslator("http", request -> refusal,
      WebSocketServerOptions.DEFAULT, REQUEST_TIMEOUT, BROWSER);
  private EmbeddedChannel channel;

  @AfterEach
  void releaseEverything() {
    if (channel != null) {
      BrowserFrames.release(BrowserFrames.outbound(channel));
      channel.finishAndReleaseAll();
    }
    server.release();
  }

  private void open() {
    channel = new EmbeddedChannel(translator, server.handler);
  }

  private static HttpRequest request(String path, String contentType) {
    HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path);
    request.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType).set(HttpHeaderNames.HOST, "example.test")
        .set("x-grpc-web", "1").set("x-tenant", "t1");
    return request;
  }

  /** Starts a call with a whole body (one message) and returns gRPC's stream. */
  private ScriptedHttp2Server.Stream unaryCall(String text) {
    translator.start(request("/pkg.Svc/Echo?ignored=1", "application/grpc-web+proto"));
    channel.writeInbound(new DefaultLastHttpContent(grpcMessage(text)));
    channel.runPendingTasks();
    return server.streams.get(server.streams.size() - 1);
  }

  private void answer(ScriptedHttp2Server.Stream stream, String text) {
    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, grpcMessage(text), false);
    server.trailers(channel, stream.id, 0, null);
  }

  /**
   * A service's response metadata with CR or LF in a value (grpc-java does not check ASCII values) is left out of
   * the HTTP/1.1 answer, which Netty would otherwise refuse whole, and out of the trailers in the body, where it
   * would write lines of its own.
   */
  @Test
  void metadataValuesWithLineBreaksAreLeftOutOfTheAnswerAndTheTrailers() {
    open();
    ScriptedHttp2Server.Stream stream = unaryCall("hello");
    server.headers(channel, stream.id, new io.netty.handler.codec.http2.DefaultHttp2Headers(false).status("200")
        .set("content-type", "application/grpc").set("x-echo", "a\r\nSet-Cookie: s=1").set("x-answer", "yes"),
        false);
    server.data(channel, stream.id, grpcMessage("world"), false);
    server.headers(channel, stream.id, new io.netty.handler.codec.http2.DefaultHttp2Headers(false)
        .set("grpc-status", "13").set("x-detail", "a\ngrpc-status: 0"), true);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      HttpResponse response = (HttpResponse) out.get(0);
      assertEquals(200, response.status().code());
      assertEquals("yes", response.headers().get("x-answer"));
      assertFalse(response.headers().contains("x-echo"));
      assertFalse(response.headers().contains("Set-Cookie"));
      assertEquals("grpc-status: 13\r\n", BrowserFrames.headerFrameText(((HttpContent) out.get(2)).content()));
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void requestBecomesAStreamWithMetadataAndResponseComesBackChunkedWithTrailersInTheBody() {
    open();
    ScriptedHttp2Server.Stream stream = unaryCall("hello");
    assertEquals("/pkg.Svc/Echo", stream.headers.path().toString());
    assertEquals("POST", stream.headers.method().toString());
    assertEquals("example.test", stream.headers.authority().toString());
    assertEquals("application/grpc+proto", stream.headers.get("content-type").toString());
    assertEquals("trailers", stream.headers.get("te").toString());
    assertEquals("t1", stream.headers.get("x-tenant").toString());
    assertFalse(stream.headers.contains("x-grpc-web"), "gRPC-Web's own headers are not metadata");
    assertFalse(stream.headers.contains("host"));
    assertTrue(stream.ended);
    assertEquals("hello", grpcMessageText(stream.data));

    answer(stream, "world");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(4, out.size(), out.toString());
      HttpResponse response = (HttpResponse) out.get(0);
      assertEquals(200, response.status().code());
      assertEquals("application/grpc-web+proto", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("yes", response.headers().get("x-answer"));
      assertTrue(HttpUtil.isTransferEncodingChunked(response));
      assertEquals("world", grpcMessageText(((HttpContent) out.get(1)).content()));
      assertEquals("grpc-status: 0\r\n", BrowserFrames.headerFrameText(((HttpContent) out.get(2)).content()));
      assertInstanceOf(LastHttpContent.class, out.get(3));
    } finally {
      BrowserFrames.release(out);
    }
    assertTrue(channel.isOpen(), "a kept-alive connection stays open for the next call");
  }

  /**
   * A revoked token's connection closes at once though what was written to it has not left (its client reads
   * nothing): the close waited behind those bytes, for ever, and with it the call.
   */
  @Test
  void aRevocationClosesTheConnectionAtOnceThoughWhatWasWrittenHasNotLeft() {
    HeldWrites held = new HeldWrites();
    channel = new EmbeddedChannel(held, translator, server.handler);
    ScriptedHttp2Server.Stream stream = unaryCall("hello");
    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, grpcMessage("world"), false);
    assertFalse(held.writes.isEmpty(), "the answer waits unsent");
    translator.closeRevoked();
    channel.runPendingTasks();
    assertFalse(channel.isOpen(), "closed at once");
  }

  /** Holds every write, as a socket whose peer reads nothing does; lets them go when the channel closes. */
  private static final class HeldWrites extends io.netty.channel.ChannelOutboundHandlerAdapter {
    final List<Object> writes = new ArrayList<>();
    final List<io.netty.channel.ChannelPromise> promises = new ArrayList<>();

    @Override
    public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
      writes.add(msg);
      promises.add(promise);
    }

    @Override
    public void close(io.netty.channel.ChannelHandlerContext ctx, io.netty.channel.ChannelPromise promise) {
      writes.forEach(io.netty.util.ReferenceCountUtil::release);
      writes.clear();
      promises.forEach(p -> p.tryFailure(new java.nio.channels.ClosedChannelException()));
      promises.clear();
      ctx.close(promise);
    }
  }

  /**
   * A body in 1,000 one-byte chunks that arrive in one read reaches gRPC as one DATA frame: gRPC holds each frame of
   * a message it assembles as a piece of its own (some 200 bytes of heap for a one-byte chunk, six bytes on the wire).
   */
  @Test
  void aBodyInOneByteChunksOfOneReadReachesGrpcAsOneDataFrame() {
    open();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web+proto"));
    ByteBuf framed = grpcMessage("x".repeat(995)); // 5 + 995 bytes
    List<Object> chunks = new ArrayList<>();
    while (framed.readableBytes() > 1) {
      chunks.add(new DefaultHttpContent(framed.readRetainedSlice(1)));
    }
    chunks.add(new DefaultLastHttpContent(framed));
    channel.writeInbound(chunks.toArray());
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals(1, stream.dataFrames);
    assertTrue(stream.ended);
    assertEquals("x".repeat(995), grpcMessageText(stream.data));
  }

  @Test
  void callsFollowEachOtherOnAKeptAliveConnection() {
    open();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    channel.writeInbound(request("/pkg.Svc/Echo", "application/grpc-web"));
    channel.writeInbound(new DefaultLastHttpContent(grpcMessage("two")));
    channel.runPendingTasks();
    assertEquals(2, server.streams.size());
    ScriptedHttp2Server.Stream second = server.streams.get(1);
    assertTrue(second.id > server.streams.get(0).id);
    assertEquals("two", grpcMessageText(second.data));
    answer(second, "2");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals("application/grpc-web+proto",
          ((HttpResponse) out.get(0)).headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("2", grpcMessageText(((HttpContent) out.get(1)).content()));
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void anHttp10RequestGetsItsResponseUnchunkedAndDelimitedByTheConnectionsEnd() {
    open();
    HttpRequest request = request("/pkg.Svc/Echo", "application/grpc-web+proto");
    request.setProtocolVersion(HttpVersion.HTTP_1_0);
    request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE); // HTTP/1.0's own keep-alive
    translator.start(request);
    channel.writeInbound(new DefaultLastHttpContent(grpcMessage("hello")));
    channel.runPendingTasks();
    answer(server.streams.get(0), "world");
    channel.runPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      HttpResponse response = (HttpResponse) out.get(0);
      assertFalse(response.headers().contains(HttpHeaderNames.TRANSFER_ENCODING), response.headers().toString());
      assertFalse(response.headers().contains(HttpHeaderNames.CONTENT_LENGTH), response.headers().toString());
      assertFalse(response.headers().contains(GrpcWebTranslator.KEEP_ALIVE), response.headers().toString());
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
      assertEquals("world", grpcMessageText(((HttpContent) out.get(1)).content()));
      assertEquals("grpc-status: 0\r\n", BrowserFrames.headerFrameText(((HttpContent) out.get(2)).content()));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen(), "the connection's end delimits the body");
  }

  @Test
  void aCallEndedWithoutMessagesCarriesItsStatusInTheResponseHeaders() {
    open();
    ScriptedHttp2Server.Stream stream = unaryCall("x");
    server.headers(channel, stream.id, new DefaultHttp2Headers().status("200").set("content-type", "application/grpc")
        .set("grpc-status", "12").set("grpc-message", "Method not found: pkg.Svc/Echo"), true);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("12", response.headers().get("grpc-status"));
      assertEquals("Method not found: pkg.Svc/Echo", response.headers().get("grpc-message"));
      assertEquals(0, HttpUtil.getContentLength(response));
    } finally {
      BrowserFrames.release(out);
    }
    assertTrue(channel.isOpen());
  }

  @Test
  void aCallAnsweredBeforeItsBodyEndedDrainsTheRestBeforeClosing() {
    open();
    channel.freezeTime();
    translator.start(request("/pkg.Svc/Upload", "application/grpc-web"));
    channel.writeInbound(new DefaultHttpContent(grpcMessage("the first part of a message too large")));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    server.headers(channel, stream.id, new DefaultHttp2Headers().status("200").set("content-type", "application/grpc")
        .set("grpc-status", "8").set("grpc-message", "message too large"), true);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("8", response.headers().get("grpc-status"));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
    assertTrue(channel.isOpen(), "a client still uploading is not reset under its answer");
    assertInstanceOf(LingeringClose.class, channel.pipeline().first());
    int received = stream.data.readableBytes();
    ByteBuf rest = Unpooled.wrappedBuffer(new byte[4096]);
    channel.writeInbound(rest);
    assertEquals(0, rest.refCnt(), "the rest of the body is dropped");
    assertEquals(received, stream.data.readableBytes(), "and never reaches gRPC");
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertFalse(channel.isOpen());
  }

  @Test
  void aTextBodyThatIsNotBase64CancelsTheCallAndSaysWhy() {
    open();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web-text"));
    channel.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer("AAA!", StandardCharsets.US_ASCII)));
    channel.runPendingTasks();
    assertEquals(Http2Error.CANCEL.code(), server.only().resetCode);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("application/grpc-web-text+proto", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("13", response.headers().get("grpc-status"));
      assertEquals("expected base64 but found '!'", response.headers().get("grpc-message"));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen());
  }

  @Test
  void aMessageFromTheClientFlaggedAsTrailersCancelsTheCallBeforeGrpcReadsItAndSaysWhy() {
    open();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web-text"));
    ByteBuf body = Unpooled.wrappedBuffer(retainedRelease(grpcMessage("ok")), new byte[] {(byte) 0x80, 0, 0, 0, 0});
    channel.writeInbound(new DefaultHttpContent(Unpooled.copiedBuffer(Base64.getEncoder().encode(body.nioBuffer()))));
    body.release();
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals(Http2Error.CANCEL.code(), stream.resetCode);
    assertEquals(0, stream.data.readableBytes(), "gRPC got none of the piece that held the trailers frame");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("13", response.headers().get("grpc-status"));
      assertEquals("expected a message (flags 0x00) but was a trailers frame (flags 0x80), which only a server sends",
          response.headers().get("grpc-message"));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void textCallsAreDecodedAndAnsweredInBase64() {
    open();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web-text"));
    ByteBuf message = grpcMessage("hi");
    byte[] bytes = new byte[message.readableBytes()];
    message.readBytes(bytes).release();
    channel.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer(Base64.getEncoder().encodeToString(bytes),
        StandardCharsets.US_ASCII)));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals("hi", grpcMessageText(stream.data));
    answer(stream, "ho");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals("application/grpc-web-text+proto",
          ((HttpResponse) out.get(0)).headers().get(HttpHeaderNames.CONTENT_TYPE));
      // Each piece is whole base64 of its own (padded where it ends).
      ByteArrayOutputStream decoded = new ByteArrayOutputStream();
      for (Object piece : out.subList(1, out.size())) {
        decoded.writeBytes(Base64.getDecoder().decode(
            ((HttpContent) piece).content().toString(StandardCharsets.US_ASCII)));
      }
      byte[] body = decoded.toByteArray();
      ByteBuf expected = grpcMessage("ho");
      byte[] answer = new byte[expected.readableBytes()];
      expected.readBytes(answer).release();
      assertEquals(new String(answer, StandardCharsets.ISO_8859_1) + "\u0080\0\0\0\u0010grpc-status: 0\r\n",
          new String(body, StandardCharsets.ISO_8859_1));
    } finally {
      BrowserFrames.release(out);
    }
  }

  /**
   * A server stream in text mode: what has been sent of a message decodes to the whole message at once, before the
   * next message or the trailers (the last bytes of a message whose length is not a multiple of three were held
   * back until then, and a page that gets a message a minute saw each one a minute late).
   */
  @Test
  void aTextStreamsMessageDecodesWholeBeforeTheNextOneComes() {
    open();
    translator.start(request("/pkg.Svc/Watch", "application/grpc-web-text"));
    channel.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer("AAAAAAA=", StandardCharsets.US_ASCII)));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, grpcMessage("ticks"), false); // 10 bytes framed: not a multiple of 3
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      ByteArrayOutputStream decoded = new ByteArrayOutputStream();
      for (Object piece : out.subList(1, out.size())) {
        decoded.writeBytes(Base64.getDecoder().decode(
            ((HttpContent) piece).content().toString(StandardCharsets.US_ASCII)));
      }
      ByteBuf expected = grpcMessage("ticks");
      byte[] frame = new byte[expected.readableBytes()];
      expected.readBytes(frame).release();
      assertEquals(new String(frame, StandardCharsets.ISO_8859_1),
          new String(decoded.toByteArray(), StandardCharsets.ISO_8859_1));
    } finally {
      BrowserFrames.release(out);
    }
    server.trailers(channel, stream.id, 0, null);
    BrowserFrames.release(BrowserFrames.outbound(channel));
  }

  @Test
  void aResetAfterTheHeadersEndsTheResponseWithACancelledStatusInTheTrailers() {
    open();
    ScriptedHttp2Server.Stream stream = unaryCall("x");
    server.responseHeaders(channel, stream.id);
    server.reset(channel, stream.id, Http2Error.CANCEL);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(3, out.size(), out.toString());
      String trailers = BrowserFrames.headerFrameText(((HttpContent) out.get(1)).content());
      assertTrue(trailers.startsWith("grpc-status: 1\r\n"), trailers);
      assertInstanceOf(LastHttpContent.class, out.get(2));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen(), "after a reset the connection is not reused");
  }

  /** A call with {@code grpc-timeout: 500m} that gRPC resets with CANCEL {@code afterMillis} after it started. */
  private FullHttpResponse cancelledAfter(long afterMillis) {
    open();
    channel.freezeTime();
    HttpRequest request = request("/pkg.Svc/Echo", "application/grpc-web-text");
    request.headers().set("grpc-timeout", "500m");
    translator.start(request);
    channel.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer(
        Base64.getEncoder().encode(retainedRelease(grpcMessage("x"))))));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals("500m", stream.headers.get("grpc-timeout").toString(), "the deadline travels to gRPC");
    channel.advanceTimeBy(afterMillis, TimeUnit.MILLISECONDS);
    server.reset(channel, stream.id, Http2Error.CANCEL);
    List<Object> out = BrowserFrames.outbound(channel);
    assertEquals(1, out.size(), out.toString());
    return (FullHttpResponse) out.get(0);
  }

  private static byte[] retainedRelease(ByteBuf buf) {
    byte[] bytes = io.netty.buffer.ByteBufUtil.getBytes(buf);
    buf.release();
    return bytes;
  }

  @Test
  void aCancelOnceTheCallsGrpcTimeoutHasElapsedIsItsDeadline() {
    FullHttpResponse response = cancelledAfter(503);
    try {
      assertEquals("application/grpc-web-text+proto", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("4", response.headers().get("grpc-status"));
      assertEquals("deadline of 500 ms (grpc-timeout 500m) exceeded after 503 ms",
          response.headers().get("grpc-message"));
    } finally {
      response.release();
    }
  }

  @Test
  void aCancelBeforeTheCallsGrpcTimeoutHasElapsedIsACancelledCall() {
    FullHttpResponse response = cancelledAfter(499);
    try {
      assertEquals("1", response.headers().get("grpc-status"));
      assertEquals("the call was cancelled by the server", response.headers().get("grpc-message"));
    } finally {
      response.release();
    }
  }

  @Test
  void aCallGrpcResetsWhileReadingItsHeadersIsAnsweredWithTheResetsStatus() {
    // gRPC resets a stream whose headers it cannot accept before the bridge has handed the stream's id back.
    server.resetOnHeaders = Http2Error.PROTOCOL_ERROR;
    open();
    unaryCall("x");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("13", response.headers().get("grpc-status"));
      assertEquals("the server reset the call: PROTOCOL_ERROR", response.headers().get("grpc-message"));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen(), "after a reset the connection is not reused");
  }

  @Test
  void metadataOverGrpcsHeaderListLimitIsAnsweredResourceExhaustedAndNeverReachesGrpc() {
    server.release();
    server = new ScriptedHttp2Server(Http2Settings.defaultSettings().maxHeaderListSize(8192));
    open();
    channel.freezeTime();
    channel.runPendingTasks();
    HttpRequest request = request("/pkg.Svc/Echo", "application/grpc-web+proto");
    request.headers().set("x-big", "a".repeat(9000));
    translator.start(request);
    channel.runPendingTasks();
    assertEquals(0, server.streams.size(), "gRPC never sees the call");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(200, response.status().code());
      assertEquals("8", response.headers().get("grpc-status"));
      assertTrue(response.headers().get("grpc-message").matches(
          "expected metadata of at most 8192 bytes but it had 9\\d{3}"), response.headers().get("grpc-message"));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
    // The body the client may still send is dropped while the connection lingers, then it closes.
    channel.writeInbound(new DefaultLastHttpContent(grpcMessage("x")));
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertEquals(0, server.streams.size());
    assertFalse(channel.isOpen());
  }

  @Test
  void aCallGrpcRefusesWithAnHttpStatusIsAnsweredWithAResponseHeadCarryingTheStatus() {
    // gRPC's handler refuses e.g. an absolute-form :path with HTTP 400 before any service sees the call.
    open();
    ScriptedHttp2Server.Stream stream = unaryCall("x");
    server.headers(channel, stream.id, new DefaultHttp2Headers().status("400").set("content-type", "text/plain"),
        true);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(200, response.status().code());
      assertEquals("application/grpc-web+proto", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("13", response.headers().get("grpc-status"));
      assertEquals("the server answered HTTP 400", response.headers().get("grpc-message"));
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void aResponseWriteThatFailsClosesTheConnectionRatherThanHang() {
    io.netty.channel.ChannelOutboundHandlerAdapter refusing = new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
        io.netty.util.ReferenceCountUtil.release(msg);
        p.setFailure(new IllegalStateException("refused"));
      }
    };
    channel = new EmbeddedChannel(refusing, translator, server.handler);
    server.responseHeaders(channel, unaryCall("x").id);
    channel.runPendingTasks();
    assertFalse(channel.isOpen());
  }

  @Test
  void aBodyWithABrokenChunkSizeCancelsTheCallAndGets400() {
    open();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web+proto"));
    channel.writeInbound(new DefaultHttpContent(grpcMessage("a part")));
    channel.runPendingTasks();
    // What Netty's HTTP/1.1 decoder hands on after a chunk-size line such as "zz".
    LastHttpContent broken = new DefaultLastHttpContent();
    broken.setDecoderResult(io.netty.handler.codec.DecoderResult.failure(new NumberFormatException("zz")));
    channel.writeInbound(broken);
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertFalse(stream.ended, "the body's failure is no end of the request");
    assertEquals(Http2Error.CANCEL.code(), stream.resetCode);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(400, response.status().code());
      assertEquals("text/plain; charset=utf-8", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("expected a body in chunked encoding (a hexadecimal chunk size, then CRLF) but it was malformed\n",
          response.content().toString(StandardCharsets.UTF_8));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen());
  }

  @Test
  void aFollowingRequestThatTheGateRefusesIsAnsweredWithItsStatusAndTheConnectionCloses() {
    open();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    refusal = Status.UNAUTHENTICATED.withDescription("expected the same principal");
    HttpRequest second = request("/pkg.Svc/Echo", "application/grpc-web");
    channel.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, second.uri(),
        grpcMessage("two"), second.headers(), EmptyHttpHeaders.INSTANCE));
    assertEquals(1, server.streams.size(), "the refused call never reaches gRPC");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("16", response.headers().get("grpc-status"));
      assertEquals("expected the same principal", response.headers().get("grpc-message"));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen());
  }

  @Test
  void aFollowingRequestThatIsNotGrpcWebGets415() {
    open();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    channel.writeInbound(request("/index.html", "text/html"));
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(415, response.status().code());
      assertTrue(response.content().toString(StandardCharsets.UTF_8).startsWith("expected a gRPC-Web request"));
    } finally {
      BrowserFrames.release(out);
    }
    assertFalse(channel.isOpen());
  }

  /** The text of the 415 the translator answered with; the connection closed and nothing reached gRPC. */
  private String refusedAs415(int callsBefore) {
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(415, response.status().code());
      assertEquals("text/plain; charset=utf-8", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals(callsBefore, server.streams.size(), "the refused call never reaches gRPC");
      return response.content().toString(StandardCharsets.UTF_8);
    } finally {
      BrowserFrames.release(out);
      channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, TimeUnit.MILLISECONDS);
      channel.runScheduledPendingTasks();
      assertFalse(channel.isOpen());
    }
  }

  @Test
  void aFirstRequestInAnotherGrpcWebFormatThanProtobufGets415AndWhatWasExpected() {
    open();
    HttpRequest request = request("/pkg.Svc/Echo", "application/grpc-web+json");
    HttpUtil.setContentLength(request, 2);
    translator.start(request);
    channel.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer("{}", StandardCharsets.UTF_8)));
    channel.runPendingTasks();
    assertEquals("expected application/grpc-web[+proto] or application/grpc-web-text[+proto] but was "
        + "application/grpc-web+json\n", refusedAs415(0));
  }

  @Test
  void aFollowingRequestTrickledInGets408OnceItsFirstBytesAreOlderThanTheTimeout() {
    open();
    channel.freezeTime(); // only advanceTimeBy moves the clock: a busy machine must not bring the 408 early
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    // Idle between requests: a pooled connection may wait, within the keep-alive timeout.
    channel.advanceTimeBy(KEEP_ALIVE_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    channel.writeInbound(Unpooled.copiedBuffer("POST /pkg.Svc/Echo HTTP/1.1\r\n", StandardCharsets.US_ASCII));
    channel.advanceTimeBy(REQUEST_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(BrowserFrames.outbound(channel).isEmpty());
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(408, response.status().code());
      assertEquals("expected a complete request within 1000 ms\n", response.content().toString(StandardCharsets.UTF_8));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
    channel.runPendingTasks();
    assertFalse(channel.isOpen());
  }

  @Test
  void aFollowingRequestThatArrivesInTimeStopsTheClock() {
    open();
    channel.freezeTime();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    channel.writeInbound(Unpooled.copiedBuffer("POST /pkg.Svc/Echo HTTP/1.1\r\n", StandardCharsets.US_ASCII));
    channel.advanceTimeBy(REQUEST_TIMEOUT.toMillis() / 2, TimeUnit.MILLISECONDS);
    channel.writeInbound(request("/pkg.Svc/Echo", "application/grpc-web+proto"));
    channel.writeInbound(LastHttpContent.EMPTY_LAST_CONTENT);
    channel.advanceTimeBy(1, TimeUnit.HOURS); // the call itself is not timed here, once its request is whole
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    assertEquals(2, server.streams.size());
  }

  @Test
  void aConnectionThatCarriesNoRequestForTheKeepAliveTimeoutIsClosedAndEveryAnswerSaysSo() {
    open();
    channel.freezeTime();
    answer(unaryCall("one"), "1");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals("timeout=5", ((HttpResponse) out.get(0)).headers().get(GrpcWebTranslator.KEEP_ALIVE));
    } finally {
      BrowserFrames.release(out);
    }
    channel.advanceTimeBy(KEEP_ALIVE_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    channel.runPendingTasks();
    assertTrue(BrowserFrames.outbound(channel).isEmpty(), "closed without an answer: no request is waiting for one");
    assertFalse(channel.isOpen());
  }

  @Test
  void aCallInFlightAndAResponseStillStreamingAreNeverCutByTheKeepAliveTimeout() {
    open();
    channel.freezeTime();
    ScriptedHttp2Server.Stream stream = unaryCall("slow");
    channel.advanceTimeBy(1, TimeUnit.HOURS); // the service takes its time
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, grpcMessage("first"), false);
    channel.advanceTimeBy(1, TimeUnit.HOURS); // and streams its answer slowly
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    server.trailers(channel, stream.id, 0, null);
    BrowserFrames.release(BrowserFrames.outbound(channel));
    channel.advanceTimeBy(KEEP_ALIVE_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen(), "the clock starts when the answer ended");
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    channel.runPendingTasks();
    assertFalse(channel.isOpen());
  }

  @Test
  void aFollowingRequestInAnotherGrpcWebFormatThanProtobufGets415AndWhatWasExpected() {
    open();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    HttpRequest request = request("/pkg.Svc/Echo", "application/grpc-web-text+thrift; charset=utf-8");
    HttpUtil.setContentLength(request, 4);
    channel.writeInbound(request);
    channel.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer("AAAA", StandardCharsets.UTF_8)));
    assertEquals("expected application/grpc-web[+proto] or application/grpc-web-text[+proto] but was "
        + "application/grpc-web-text+thrift; charset=utf-8\n", refusedAs415(1));
  }

  /**
   * What the server's HTTP/1.1 codec, with the server's default limits, makes of {@code bytes} that follow an
   * answered call: one request whose decoding failed, as the translator gets it.
   */
  private static HttpRequest undecodable(String bytes) {
    WebSocketServerOptions limits = WebSocketServerOptions.DEFAULT;
    EmbeddedChannel codec = new EmbeddedChannel(
        new HttpServerCodec(limits.maxRequestLineBytes(), limits.maxRequestHeaderBytes(), 8192));
    try {
      codec.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.ISO_8859_1));
      HttpRequest request = codec.readInbound();
      assertTrue(request.decoderResult().isFailure(), request.toString());
      assertNull(codec.readInbound(), "the codec discards what follows a request it failed on");
      return request;
    } finally {
      codec.finishAndReleaseAll();
    }
  }

  /**
   * Sends {@code bytes} as the request that follows an answered call and returns the answer's status and body;
   * asserts it is plain text that closes the connection, that the connection closed and nothing reached gRPC.
   */
  private String refusedUndecodable(String bytes) {
    open();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    channel.writeInbound(undecodable(bytes));
    channel.runPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("text/plain; charset=utf-8", response.headers().get(HttpHeaderNames.CONTENT_TYPE));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
      assertEquals(String.valueOf(response.content().readableBytes()),
          response.headers().get(HttpHeaderNames.CONTENT_LENGTH));
      assertEquals(1, server.streams.size(), "the refused request never reaches gRPC");
      return response.status().code() + " " + response.content().toString(StandardCharsets.UTF_8);
    } finally {
      BrowserFrames.release(out);
      assertFalse(channel.isOpen(), "the connection closes after the answer, as after the first request's");
    }
  }

  // The answers the first request of a connection gets (ServerUpgradeHandlerTest), word for word.

  @Test
  void aFollowingRequestWithHeadersOverTheLimitGets431() {
    StringBuilder pad = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      pad.append("X-Pad-").append(i).append(": aaaaaaaaaa\r\n");
    }
    assertEquals("431 expected request headers of at most 16384 bytes\n", refusedUndecodable(
        "POST /pkg.Svc/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\n" + pad
        + "Content-Length: 5\r\n\r\n"));
  }

  @Test
  void aFollowingRequestWithATransferEncodingOtherThanChunkedGets400() {
    open();
    channel.freezeTime();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    HttpRequest following = request("/pkg.Svc/Echo", "application/grpc-web+proto");
    following.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "gzip");
    channel.writeInbound(following);
    channel.runPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals("400 expected no Transfer-Encoding or 'chunked' but was gzip\n",
          response.status().code() + " " + response.content().toString(StandardCharsets.UTF_8));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
    assertEquals(1, server.streams.size(), "the refused request never reaches gRPC");
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertFalse(channel.isOpen());
  }

  @Test
  void aFollowingRequestWithARequestLineOverTheLimitGets414() {
    assertEquals("414 expected a request line of at most 4096 bytes\n", refusedUndecodable(
        "POST /pkg.Svc/Echo?q=" + "a".repeat(5000) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }

  @Test
  void aFollowingRequestWithAMalformedRequestLineGets400() {
    assertEquals("400 expected a request line such as 'GET /grpc HTTP/1.1' but it was malformed\n",
        refusedUndecodable("HELLO\r\n\r\n"));
  }

  @Test
  void aFollowingRequestWithMalformedHeadersGets400InPlainWords() {
    assertEquals("400 expected header lines of the form 'Name: value' but they were malformed\n",
        refusedUndecodable("POST /pkg.Svc/Echo HTTP/1.1\r\nHost: x\r\nBad\u0000Name: s3cr3t\r\n\r\n"));
  }

  @Test
  void theProtobufContentTypesAreServedWhateverTheirCaseAndParameters() {
    open();
    answer(unaryCall("one"), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));
    String[][] cases = {
        {"Application/GRPC-Web+Proto; charset=UTF-8", "application/grpc+proto", "application/grpc-web+proto"},
        {"application/grpc-web ;charset=utf-8", "application/grpc", "application/grpc-web+proto"},
        {"application/grpc-web-text+proto", "application/grpc+proto", "application/grpc-web-text+proto"}};
    for (String[] c : cases) {
      channel.writeInbound(request("/pkg.Svc/Echo", c[0]));
      channel.writeInbound(new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER));
      channel.runPendingTasks();
      ScriptedHttp2Server.Stream stream = server.streams.get(server.streams.size() - 1);
      assertEquals(c[1], stream.headers.get("content-type").toString(), c[0]);
      server.trailers(channel, stream.id, 0, null);
      List<Object> out = BrowserFrames.outbound(channel);
      try {
        assertEquals(c[2], ((HttpResponse) out.get(0)).headers().get(HttpHeaderNames.CONTENT_TYPE), c[0]);
      } finally {
        BrowserFrames.release(out);
      }
    }
    assertEquals(4, server.streams.size());
    assertTrue(channel.isOpen());
  }

  @Test
  void aCallExpecting100ContinueGetsItOnceOpenedSoThatItsClientSendsTheBody() {
    open();
    HttpRequest first = request("/pkg.Svc/Echo", "application/grpc-web");
    first.headers().set(HttpHeaderNames.EXPECT, "100-continue");
    translator.start(first);
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      assertEquals(100, ((HttpResponse) out.get(0)).status().code());
    } finally {
      BrowserFrames.release(out);
    }
    channel.writeInbound(new DefaultLastHttpContent(grpcMessage("one")));
    channel.runPendingTasks();
    answer(server.only(), "1");
    BrowserFrames.release(BrowserFrames.outbound(channel));

    HttpRequest following = request("/pkg.Svc/Echo", "application/grpc-web");
    following.headers().set(HttpHeaderNames.EXPECT, "100-continue");
    channel.writeInbound(following);
    out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      assertEquals(100, ((HttpResponse) out.get(0)).status().code(), "a request that follows gets it too");
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void aRequestPipelinedBehindACallHasTheCallAnsweredThenTheConnectionCloses() {
    open();
    channel.freezeTime();
    ScriptedHttp2Server.Stream stream = unaryCall("one");
    channel.writeInbound(request("/pkg.Svc/Echo", "application/grpc-web"));
    channel.runPendingTasks();
    assertTrue(channel.isOpen(), "the call in progress is not cut");
    channel.writeInbound(new DefaultLastHttpContent(grpcMessage("two")));
    channel.runPendingTasks();
    assertEquals(1, server.streams.size(), "the pipelined request never reaches gRPC");
    assertEquals("one", grpcMessageText(stream.data));

    answer(stream, "1");
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(4, out.size(), out.toString());
      assertEquals("close", ((HttpResponse) out.get(0)).headers().get(HttpHeaderNames.CONNECTION));
      assertEquals("1", grpcMessageText(((HttpContent) out.get(1)).content()));
      assertEquals("grpc-status: 0\r\n", BrowserFrames.headerFrameText(((HttpContent) out.get(2)).content()));
    } finally {
      BrowserFrames.release(out);
    }
    assertInstanceOf(LingeringClose.class, channel.pipeline().first(), "the client may still be sending");
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertFalse(channel.isOpen(), "the pipelined request is left for the client to send again");
  }

  @Test
  void whatFollowsARequestPipelinedBehindACallIsDroppedBeforeTheCodecAndTooMuchOfItCloses() {
    // Through the server's HTTP/1.1 codec, as in production: the step after it hands each head over. Decoded, a
    // client's heads would each be held by the codec (a request method) for an answer that never comes.
    channel = new EmbeddedChannel();
    channel.pipeline().addLast(ServerUpgradeHandler.HTTP_CODEC, new HttpServerCodec());
    channel.pipeline().addLast(translator, server.handler);
    channel.freezeTime();
    unaryCall("one");
    channel.writeInbound(Unpooled.copiedBuffer("X / HTTP/1.1\r\nHost: example.test\r\n\r\n",
        StandardCharsets.ISO_8859_1));
    channel.runPendingTasks();
    assertTrue(channel.isOpen(), "the call in progress is not cut");
    assertEquals(1, server.streams.size(), "the pipelined request never reaches gRPC");
    ByteBuf more = Unpooled.copiedBuffer("Y / HTTP/1.1\r\nHost: example.test\r\n\r\n", StandardCharsets.ISO_8859_1);
    channel.writeInbound(more);
    assertEquals(0, more.refCnt(), "dropped before the codec");
    assertTrue(channel.config().isAutoRead(), "read on: a client that goes away is noticed");
    assertTrue(channel.isOpen());
    channel.writeInbound(Unpooled.wrappedBuffer(new byte[(int) LingeringClose.LINGER_BYTES]));
    assertFalse(channel.isOpen(), "a client that sends without end behind a call is closed");
  }

  @Test
  void readingPausesWhileGrpcsWindowIsFullAndResumesWhenItOpens() throws Exception {
    server = new ScriptedHttp2Server(Http2Settings.defaultSettings().initialWindowSize(16));
    server.autoConsume = false;
    translator = new GrpcWebTranslator("http", request -> null, WebSocketServerOptions.DEFAULT,
        REQUEST_TIMEOUT, BROWSER);
    open();
    translator.start(request("/pkg.Svc/Upload", "application/grpc-web"));
    channel.runPendingTasks();
    channel.writeInbound(new DefaultHttpContent(grpcMessage("x".repeat(100))));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals(16, stream.data.readableBytes(), "gRPC got one window's worth");
    assertFalse(channel.config().isAutoRead(), "gRPC's 16-byte window is full: the socket is not read");
    for (int consumed = 0; consumed < 105 && stream.data.readableBytes() > consumed; ) {
      int more = stream.data.readableBytes() - consumed;
      server.consume(channel, stream.id, more);
      consumed += more;
    }
    assertEquals(105, stream.data.readableBytes(), "the window updates let the rest through");
    assertTrue(channel.config().isAutoRead(), "reading resumes once gRPC's window opened");
    channel.writeInbound(LastHttpContent.EMPTY_LAST_CONTENT);
    channel.runPendingTasks();
    assertTrue(stream.ended);
  }

  @ParameterizedTest
  @ValueSource(strings = {"application/grpc-web+proto", "application/grpc-web-text"})
  void aBodyThatStopsArrivingCancelsTheCallAndGets408ThenTheConnectionCloses(String contentType) {
    open();
    channel.freezeTime(); // only advanceTimeBy moves the clock: a busy machine must not bring the 408 early
    translator.start(request("/pkg.Svc/Echo", contentType));
    channel.writeInbound(new DefaultHttpContent(contentType.contains("text")
        ? Unpooled.copiedBuffer("AAAA", StandardCharsets.US_ASCII) : Unpooled.wrappedBuffer(new byte[3])));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    channel.advanceTimeBy(BODY_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(BrowserFrames.outbound(channel).isEmpty());
    assertNull(stream.resetCode);
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    channel.runPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      FullHttpResponse response = (FullHttpResponse) out.get(0);
      assertEquals(408, response.status().code());
      assertEquals("expected more of the request body within 2000 ms but none arrived\n",
          response.content().toString(StandardCharsets.UTF_8));
      assertEquals("close", response.headers().get(HttpHeaderNames.CONNECTION));
    } finally {
      BrowserFrames.release(out);
    }
    assertEquals(Http2Error.CANCEL.code(), stream.resetCode, "gRPC's call is cancelled");
    assertFalse(channel.isOpen());
  }

  @Test
  void aBodyThatArrivesSlowlyButSteadilyIsNotCut() {
    open();
    channel.freezeTime();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web"));
    ByteBuf message = grpcMessage("steady");
    try {
      while (message.isReadable()) {
        channel.writeInbound(new DefaultHttpContent(message.readRetainedSlice(1)));
        channel.advanceTimeBy(BODY_TIMEOUT.toMillis() * 3 / 4, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertTrue(BrowserFrames.outbound(channel).isEmpty());
      }
    } finally {
      message.release();
    }
    channel.writeInbound(LastHttpContent.EMPTY_LAST_CONTENT);
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertTrue(stream.ended);
    assertNull(stream.resetCode);
    assertEquals("steady", grpcMessageText(stream.data));
    channel.advanceTimeBy(1, TimeUnit.HOURS); // the answer is gRPC's to time, not the body's clock
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    assertTrue(BrowserFrames.outbound(channel).isEmpty());
  }

  /** The body's clock has run out: the client got 408. */
  private void assertAnswered408() {
    channel.runPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(408, ((FullHttpResponse) out.get(0)).status().code(), out.toString());
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void bytesCountForTheBodysClockWhenTheSocketDeliversThemBeforeTheyDecodeIntoAny() {
    open();
    channel.freezeTime();
    translator.start(request("/pkg.Svc/Echo", "application/grpc-web"));
    channel.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[3])));
    channel.runPendingTasks();
    for (int i = 0; i < 3; i++) {
      channel.advanceTimeBy(BODY_TIMEOUT.toMillis() * 3 / 4, TimeUnit.MILLISECONDS);
      channel.runScheduledPendingTasks();
      assertTrue(BrowserFrames.outbound(channel).isEmpty());
      // Part of a TLS record: bytes at the head of the pipeline that decode into nothing until the record is whole.
      channel.pipeline().fireChannelRead(Unpooled.wrappedBuffer(new byte[100]));
    }
    channel.advanceTimeBy(BODY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertAnswered408();
  }

  @Test
  void theBodysClockStopsWhileGrpcsWindowIsFull() throws Exception {
    server = new ScriptedHttp2Server(Http2Settings.defaultSettings().initialWindowSize(16));
    server.autoConsume = false;
    translator = new GrpcWebTranslator("http", request -> null, WebSocketServerOptions.DEFAULT,
        REQUEST_TIMEOUT, BROWSER);
    open();
    channel.freezeTime();
    translator.start(request("/pkg.Svc/Upload", "application/grpc-web"));
    channel.writeInbound(new DefaultHttpContent(grpcMessage("x".repeat(100))));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertFalse(channel.config().isAutoRead());
    channel.advanceTimeBy(1, TimeUnit.HOURS); // the server does not read: no silence of the client's
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen());
    assertTrue(BrowserFrames.outbound(channel).isEmpty());
    for (int consumed = 0; consumed < 105 && stream.data.readableBytes() > consumed; ) {
      int more = stream.data.readableBytes() - consumed;
      server.consume(channel, stream.id, more);
      consumed += more;
    }
    assertTrue(channel.config().isAutoRead());
    channel.advanceTimeBy(BODY_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(BrowserFrames.outbound(channel).isEmpty(), "the clock restarts when reading resumes");
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertAnswered408();
  }

  @Test
  void closingTheConnectionMidCallReleasesEverything() {
    open();
    translator.start(request("/pkg.Svc/Upload", "application/grpc-web"));
    channel.writeInbound(new DefaultHttpContent(grpcMessage("part")));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, grpcMessage("partial answer"), false);
    channel.close();
    BrowserFrames.release(BrowserFrames.outbound(channel));
    assertFalse(channel.finishAndReleaseAll());
    assertNull(channel.readInbound());
    channel = null;
  }
}
