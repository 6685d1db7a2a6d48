package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.OutboundStall;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Translates gRPC-Web (grpc/grpc {@code doc/PROTOCOL-WEB.md}) on HTTP/1.1 into gRPC calls on gRPC's own HTTP/2
 * server handler, which follows it in the pipeline, through an {@link Http2ClientBridge}:
 *
 * <pre>
 *   socket ─ HTTP/1.1 codec ─ CORS ─ grpc-web ─ (gRPC's HTTP/2 server handler)
 *            bytes ⇄ requests, responses ⇄ preflights ⇄ HTTP/1.1 messages ⇄ HTTP/2 bytes
 * </pre>
 *
 * <p>Each request ({@code POST /package.Service/Method}) becomes one HTTP/2 stream: its headers become metadata, its
 * body the stream's data (base64-decoded for the {@code -text} content types; a body not framed as gRPC messages,
 * {@link RequestMessageFraming}, ends the call INTERNAL saying why). gRPC's answer comes back as one
 * response, chunked toward HTTP/1.1 (toward HTTP/1.0 the connection's end delimits it): the response headers, the
 * data as it comes, then the trailers as a body frame flagged {@code 0x80}. A call that ends without data
 * (trailers only, e.g. an unknown method) is answered with the status in the response headers. Requests follow
 * each other on a kept-alive connection, each checked by the {@link Gate}; one pipelined behind a call is not
 * served: the call is answered, then the connection closes.
 * A body that stops arriving (no byte for {@link BrowserOptions#requestBodyTimeout()}) cancels its call and is
 * answered 408; HTTP/1.1 has no ping that would notice a client gone mid-body. Between requests, a connection that
 * carries none for {@link BrowserOptions#keepAliveTimeout()} is closed ({@link FollowingRequestTimeout}). A client
 * that stops reading what is written to it (no byte of it leaving for {@link BrowserOptions#sendTimeout()}) has its
 * connection closed and its call cancelled.
 */
final class GrpcWebTranslator extends BridgedCallTranslator {

  static final String NAME = "wsgrpc-grpc-web";
  static final String CONTENT_TYPE = "application/grpc-web";
  private static final String TEXT_CONTENT_TYPE = "application/grpc-web-text";
  /** The response header that says how long a kept-alive connection waits (Netty 4.2 deprecates its constant). */
  static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");

  /** Decides whether a request that follows the first on a connection may call; null when it may. */
  interface Gate {
    Status check(HttpRequest request);
  }

  private final String scheme;
  private final Gate gate;
  /** The server's limits and path, for the answer to a request the HTTP/1.1 decoder failed on. */
  private final WebSocketServerOptions options;
  private final FollowingRequestTimeout requestTimeout;
  private final long requestTimeoutMillis;
  private final long bodyTimeoutNanos;
  private final long sendTimeoutMillis;
  /** Ends the connection once what was written to it stops leaving ({@link BrowserOptions#sendTimeout()}). */
  private OutboundStall sendStall;
  /** What answers that keep the connection open say in {@code Keep-Alive}: the keep-alive timeout; null below 1 s. */
  private final String keepAliveHeader;
  /** Cancels the call whose body stopped arriving; null when the body is not being timed. */
  private ScheduledFuture<?> bodyTimer;
  /** When the last part of the call's body arrived, in the nanoseconds of the event loop's ticker. */
  private long lastBodyReadNanos;
  /** When the socket last delivered bytes, before TLS and HTTP/1.1 decoding: the body's arrival as it is sent. */
  private final SocketReadClock socketReads = new SocketReadClock();
  private boolean keepAlive = true;
  /**
   * Whether the call's response may be chunked: only toward HTTP/1.1 (RFC 9112 6.1). An HTTP/1.0 client, which reads
   * no chunks, gets a body that the connection's end delimits, and the connection closes after it.
   */
  private boolean chunked;
  /** Answered for the last time: nothing the client sends is read any more. */
  private boolean closing;
  /** A request arrived before the call in progress was answered: the connection closes after that answer. */
  private boolean pipelined;

  // The call in progress (streamId -1 between calls).
  private boolean discarding;
  private boolean text;
  private String responseContentType;
  private GrpcWebText.Decoder decoder;
  private RequestMessageFraming framing;
  private boolean requestEnded;
  private boolean responseStarted;
  private boolean responseEnded;

  /**
   * @param options the server's, for the answer to a request that follows the first and that the HTTP/1.1 decoder
   *     failed on: the first request's ({@link UndecodableRequest})
   * @param requestTimeout how long a request that follows the first may take to arrive whole once its first byte
   *     has (the handshake timeout: the upgrade step times the first request)
   * @param browser how long the body of a call may go without a byte arriving ({@link
   *     BrowserOptions#requestBodyTimeout()}), the connection without a request ({@link
   *     BrowserOptions#keepAliveTimeout()}), and what is written to it without a byte leaving ({@link
   *     BrowserOptions#sendTimeout()})
   */
  GrpcWebTranslator(String scheme, Gate gate, WebSocketServerOptions options, java.time.Duration requestTimeout,
      BrowserOptions browser) {
    this.scheme = scheme;
    this.bodyTimeoutNanos = browser.requestBodyTimeout().toNanos();
    this.sendTimeoutMillis = browser.sendTimeout().toMillis();
    long keepAliveSeconds = browser.keepAliveTimeout().getSeconds();
    this.keepAliveHeader = keepAliveSeconds > 0 ? "timeout=" + keepAliveSeconds : null;
    this.gate = gate;
    this.options = options;
    this.requestTimeoutMillis = requestTimeout.toMillis();
    this.requestTimeout = new FollowingRequestTimeout(requestTimeout.toNanos(), this::requestTimedOut,
        browser.keepAliveTimeout().toNanos(), this::idled, this::pipelined);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    super.handlerAdded(ctx);
    ctx.pipeline().addFirst(SocketReadClock.NAME, socketReads);
    if (ctx.pipeline().get(ServerUpgradeHandler.HTTP_CODEC) != null) {
      ctx.pipeline().addBefore(ServerUpgradeHandler.HTTP_CODEC, FollowingRequestTimeout.NAME, requestTimeout);
      ctx.pipeline().addAfter(ServerUpgradeHandler.HTTP_CODEC, FollowingRequestTimeout.HEADS,
          requestTimeout.headsAfterCodec());
    } else {
      ctx.pipeline().addBefore(ctx.name(), FollowingRequestTimeout.NAME, requestTimeout);
    }
    try {
      sendStall = OutboundStall.whileQueued(ctx.channel(), sendTimeoutMillis, this::sendStalled);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      ctx.close(); // the event loop is shutting down, and its connections with it
    }
  }

  /**
   * Nothing of what was written to the client has left for the send timeout: it stopped reading (a response streaming
   * to it, an answer or the trailers waiting). The connection closes at once, toward the socket, so that gRPC's
   * handler sees it end and cancels the call in flight; a close after a flush would wait behind those bytes for ever.
   * Each write's own completion hands gRPC's flow control back its window ({@code consumed}), so the call itself would
   * just wait, and HTTP/1.1 has no ping that would end it.
   */
  private void sendStalled() {
    closing = true;
    ctx.close();
  }

  private void stopSendStall() {
    if (sendStall != null) {
      sendStall.stop();
      sendStall = null;
    }
  }

  /**
   * Whether {@code request} means to be gRPC-Web: a POST whose content type starts with {@code application/grpc-web}.
   * Only {@linkplain #mediaType the protobuf ones} are served; the translator refuses the others (415).
   */
  static boolean isGrpcWeb(HttpRequest request) {
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    return HttpMethod.POST.equals(request.method()) && type != null
        && type.toLowerCase(Locale.ROOT).startsWith(CONTENT_TYPE);
  }

  /**
   * The gRPC-Web media type of {@code request} that this translator serves, without parameters and lower-case:
   * {@code application/grpc-web}, {@code application/grpc-web+proto}, {@code application/grpc-web-text} or
   * {@code application/grpc-web-text+proto}; null for any other (e.g. {@code application/grpc-web+json}, whose
   * messages gRPC's protobuf services cannot read).
   */
  static String mediaType(HttpRequest request) {
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    if (type == null) {
      return null;
    }
    int parameters = type.indexOf(';');
    type = (parameters < 0 ? type : type.substring(0, parameters)).trim().toLowerCase(Locale.ROOT);
    switch (type) {
      case CONTENT_TYPE:
      case CONTENT_TYPE + "+proto":
      case TEXT_CONTENT_TYPE:
      case TEXT_CONTENT_TYPE + "+proto":
        return type;
      default:
        return null;
    }
  }

  /**
   * Starts the HTTP/2 connection toward gRPC (whose handler must follow by now) and the first call, already checked
   * (the upgrade step refuses a first request in a format other than protobuf's before admitting it; should one
   * arrive here anyway, it is refused as one that follows).
   */
  void start(HttpRequest first) {
    if (mediaType(first) == null) {
      refuseContentType(first);
      return;
    }
    bridge.start();
    startCall(first);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    stopBodyTimer();
    stopSendStall();
    if (bridge != null) {
      bridge.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    stopBodyTimer();
    stopSendStall();
    ctx.fireChannelInactive();
    bridge.close();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (msg instanceof HttpRequest) {
        onRequest((HttpRequest) msg);
      }
      if (msg instanceof HttpContent) {
        onContent((HttpContent) msg);
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onRequest(HttpRequest request) {
    requestTimeout.requestArrived();
    if (closing) {
      return;
    }
    if (streamId != -1 && requestEnded) {
      pipelined();
      return;
    }
    if (streamId != -1 || discarding) {
      close(false);
      return;
    }
    UndecodableRequest refusal = UndecodableRequest.check(request, options);
    if (refusal != null) {
      // 414, 431 or 400 (a head the decoder failed on, or a Transfer-Encoding other than chunked), as the first
      // request of a connection gets it.
      answerAndClose(plainText(refusal.status, refusal.reason), LingeringClose.bodyFollows(request));
      return;
    }
    if (!isGrpcWeb(request)) {
      answerUnsupported(request, "expected a gRPC-Web request (POST with Content-Type application/grpc-web)");
      return;
    }
    if (mediaType(request) == null) {
      refuseContentType(request);
      return;
    }
    Status gateRefusal = gate.check(request);
    if (gateRefusal != null) {
      keepAlive = false;
      answerAndClose(trailersOnly(request, gateRefusal), LingeringClose.bodyFollows(request));
      return;
    }
    startCall(request);
  }

  /**
   * A request arrived pipelined behind the call in progress (browsers never pipeline): the call is answered, then
   * the connection closes, lingering while the client still sends; the requests behind it go unanswered, for the
   * client to send again (RFC 9112 9.3.2). Closing at once cut the call, which may have run, without an answer.
   * What the client sends meanwhile is dropped before the HTTP/1.1 codec ({@link FollowingRequestTimeout}).
   */
  private void pipelined() {
    keepAlive = false;
    pipelined = true;
  }

  /** A gRPC-Web request whose content type is not one of the protobuf ones: 415, and the connection closes. */
  private void refuseContentType(HttpRequest request) {
    answerUnsupported(request, unsupportedContentType(request));
  }

  /** Why a request whose {@link #mediaType} is null gets 415: what was expected, and what arrived. */
  static String unsupportedContentType(HttpRequest request) {
    return "expected application/grpc-web[+proto] or application/grpc-web-text[+proto] but was "
        + Http11Tokens.printable(request.headers().get(HttpHeaderNames.CONTENT_TYPE));
  }

  /** Answers 415 with {@code reason} as text, then closes: the answer ends the connection. */
  private void answerUnsupported(HttpRequest request, String reason) {
    answerAndClose(plainText(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, reason), LingeringClose.bodyFollows(request));
  }

  /** A request that follows the first began to arrive but was not whole within the timeout: 408, and close. */
  private void requestTimedOut() {
    if (closing || streamId != -1) {
      return;
    }
    answerAndClose(plainText(HttpResponseStatus.REQUEST_TIMEOUT,
        "expected a complete request within " + requestTimeoutMillis + " ms"), false);
  }

  /**
   * No request arrived within the keep-alive timeout after the last answer: the connection closes, toward the socket
   * (gRPC's handler sees it end; it has no call in flight).
   */
  private void idled() {
    if (!closing && streamId == -1) {
      close(false);
    }
  }

  private FullHttpResponse plainText(HttpResponseStatus status, String reason) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        io.netty.buffer.ByteBufUtil.writeUtf8(ctx.alloc(), reason + "\n"));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    HttpUtil.setContentLength(response, response.content().readableBytes());
    return response;
  }

  private void startCall(HttpRequest request) {
    chunked = request.protocolVersion().compareTo(HttpVersion.HTTP_1_1) >= 0;
    keepAlive &= chunked && HttpUtil.isKeepAlive(request);
    String type = mediaType(request);
    text = type.startsWith(TEXT_CONTENT_TYPE);
    String suffix = type.substring(text ? TEXT_CONTENT_TYPE.length() : CONTENT_TYPE.length());
    responseContentType = (text ? TEXT_CONTENT_TYPE : CONTENT_TYPE) + "+proto";
    decoder = text ? new GrpcWebText.Decoder() : null;
    framing = new RequestMessageFraming(request.headers().get("grpc-encoding"));
    requestEnded = false;
    responseStarted = false;
    responseEnded = false;
    String path = request.uri();
    int query = path.indexOf('?');
    Http2Headers headers = BrowserCalls.requestHeaders(query < 0 ? path : path.substring(0, query), scheme,
        request.headers().get(HttpHeaderNames.HOST), "application/grpc" + (suffix.isEmpty() ? "" : suffix),
        request.headers());
    try {
      streamId = openStream(headers);
      if (HttpUtil.is100ContinueExpected(request)) {
        // The client waits for this before it sends the body (RFC 9110 10.1.1): the call is admitted and open.
        ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
            Unpooled.EMPTY_BUFFER));
      }
      bodyArrived();
    } catch (Http2Exception e) {
      // gRPC never saw the call: the request's body (if any) is dropped and the connection closes after the answer.
      answerStatus(statusOfOpenFailure(e));
      ctx.flush();
    }
  }

  private void onContent(HttpContent content) {
    boolean last = content instanceof LastHttpContent;
    if (closing || discarding || streamId == -1) {
      if (last && discarding) {
        discarding = false;
        LingeringClose.bodyEnded(ctx.channel());
      }
      return;
    }
    if (requestEnded) {
      return;
    }
    if (content.decoderResult().isFailure()) {
      brokenBody();
      return;
    }
    ByteBuf data = text ? null : content.content().retain();
    try {
      if (text) {
        data = decoder.decode(content.content(), ctx.alloc());
        if (last && !decoder.complete()) {
          throw new IllegalArgumentException("expected a body in whole groups of 4 base64 characters");
        }
      }
      // Checked here rather than left to gRPC, whose own words say neither what was expected nor what arrived.
      framing.next(data);
      if (last) {
        framing.end();
      }
    } catch (IllegalArgumentException e) {
      if (data != null) {
        data.release();
      }
      discarding = !last;
      failCall(Status.INTERNAL.withDescription(e.getMessage()));
      return;
    }
    requestEnded = last;
    if (data.isReadable() || last) {
      bridge.data(streamId, data, last);
    } else {
      data.release();
    }
    if (last) {
      stopBodyTimer();
      finishIfDone();
    } else {
      pauseWhileFull();
      bodyArrived();
    }
  }

  @Override
  public void onWritable(int id) {
    boolean paused = !ctx.channel().config().isAutoRead();
    super.onWritable(id);
    if (paused && id == streamId && !requestEnded) {
      bodyArrived(); // reading again: the client's silence counts from now, not from before the pause
    }
  }

  /**
   * Part of the call's body arrived (or the call began, or reading resumed): restarts the body's clock, unless the
   * server itself does not read (gRPC's window is full), which is no silence of the client's.
   */
  private void bodyArrived() {
    lastBodyReadNanos = ctx.executor().ticker().nanoTime();
    if (!ctx.channel().config().isAutoRead()) {
      stopBodyTimer();
    } else if (bodyTimer == null) {
      bodyTimer = ctx.executor().schedule(this::bodyTimerExpired, bodyTimeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void stopBodyTimer() {
    if (bodyTimer != null) {
      bodyTimer.cancel(false);
      bodyTimer = null;
    }
  }

  /**
   * The body's timer ran out: unless part of the body arrived since it was set (then it waits for the rest of the
   * time), the call is cancelled toward gRPC, the client gets 408 and the connection closes. Bytes count when the
   * socket delivers them, before TLS and HTTP/1.1 decode them: a TLS record passes nothing on until it is whole, and
   * a slow client may take long to send one.
   */
  private void bodyTimerExpired() {
    bodyTimer = null;
    if (closing || streamId == -1 || requestEnded || !ctx.channel().config().isAutoRead()) {
      return;
    }
    long silentNanos = ctx.executor().ticker().nanoTime() - Math.max(lastBodyReadNanos, socketReads.lastReadNanos());
    if (silentNanos < bodyTimeoutNanos) {
      bodyTimer = ctx.executor().schedule(this::bodyTimerExpired, bodyTimeoutNanos - silentNanos,
          TimeUnit.NANOSECONDS);
      return;
    }
    endUnfinishedRequest(HttpResponseStatus.REQUEST_TIMEOUT, Status.Code.CANCELLED,
        "expected more of the request body within " + TimeUnit.NANOSECONDS.toMillis(bodyTimeoutNanos)
            + " ms but none arrived");
  }

  /**
   * The HTTP/1.1 decoder failed on the body (a malformed or overflowing chunk size): it is not the end of the request,
   * and the decoder drops whatever follows. gRPC's stream is cancelled; the client gets 400 (or, once the response has
   * begun, INTERNAL in the trailers) and the connection closes.
   */
  private void brokenBody() {
    endUnfinishedRequest(HttpResponseStatus.BAD_REQUEST, Status.Code.INTERNAL,
        "expected a body in chunked encoding (a hexadecimal chunk size, then CRLF) but it was malformed");
  }

  /**
   * Ends the call whose request cannot finish: gRPC's stream is cancelled; the client gets {@code httpStatus} with
   * {@code reason} as text (or, once the response has begun, {@code code} and {@code reason} in the trailers) and
   * the connection closes.
   */
  private void endUnfinishedRequest(HttpResponseStatus httpStatus, Status.Code code, String reason) {
    stopBodyTimer();
    bridge.cancel(streamId);
    keepAlive = false;
    requestEnded = true;
    if (responseStarted) {
      answerStatus(Status.fromCode(code).withDescription(reason));
      ctx.flush();
      return;
    }
    responseStarted = true;
    responseEnded = true;
    streamId = -1;
    answerAndClose(plainText(httpStatus, reason), false);
  }

  @Override
  public void onHeaders(int id, Http2Headers headers, boolean endStream) {
    if (id != streamId || responseEnded) {
      return;
    }
    if (!responseStarted) {
      if (endStream && !requestEnded) {
        keepAlive = false; // answered before the request ended: the connection cannot be reused
      }
      Status refused = statusOfRefusal(headers);
      if (refused != null) {
        // No response head went out yet: the status travels in one (as grpc-websockets answers it).
        if (!endStream) {
          bridge.cancel(streamId);
        }
        answerStatus(refused);
        ctx.flush();
        return;
      }
      responseStarted = true;
      HttpResponse response = endStream
          ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER)
          : new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      copyHeaders(headers, response.headers());
      if (endStream) {
        HttpUtil.setContentLength(response, 0);
      } else if (chunked) {
        HttpUtil.setTransferEncodingChunked(response, true);
      }
      send(response);
      if (endStream) {
        responseEnded = true;
        finishIfDone();
      }
      return;
    }
    writeTrailers(headers);
  }

  @Override
  public void onData(int id, ByteBuf data, boolean endStream) {
    if (id != streamId || responseEnded) {
      data.release();
      return;
    }
    int bytes = data.readableBytes();
    ByteBuf body = text ? GrpcWebText.encode(data, ctx.alloc()) : data;
    send(new DefaultHttpContent(body)).addListener(f -> bridge.consumed(id, bytes));
    if (endStream) {
      writeTrailers(BrowserCalls.statusTrailers(Status.INTERNAL.withDescription("the call ended without a status")));
    }
  }

  @Override
  public void onReset(int id, Http2Error error) {
    if (id == streamId && !responseEnded) {
      keepAlive = false;
      answerStatus(statusForReset(error));
      ctx.flush();
    }
  }

  @Override
  public void onGoAway() {
    keepAlive = false;
    if (streamId == -1) {
      close(discarding);
    }
  }

  @Override
  public void onClosed() {
    close(discarding);
  }

  /** Ends the call in progress with {@code status}: in the headers if none were sent yet, else in the trailers. */
  private void answerStatus(Status status) {
    if (!responseStarted) {
      responseStarted = true;
      responseEnded = true;
      keepAlive &= requestEnded;
      FullHttpResponse response = trailersOnly(null, status);
      send(response);
      finishIfDone();
    } else {
      writeTrailers(BrowserCalls.statusTrailers(status));
    }
  }

  /** The call fails on our side (e.g. a body that is not base64): gRPC's stream is cancelled. */
  private void failCall(Status status) {
    bridge.cancel(streamId);
    keepAlive = false;
    requestEnded = true;
    answerStatus(status);
    ctx.flush();
  }

  private void writeTrailers(Http2Headers trailers) {
    responseEnded = true;
    ByteBuf frame = BrowserCalls.headerFrame(ctx.alloc(), trailers);
    send(new DefaultHttpContent(text ? GrpcWebText.encode(frame, ctx.alloc()) : frame));
    send(LastHttpContent.EMPTY_LAST_CONTENT);
    finishIfDone();
  }

  /** After the response: the next request may come, unless the connection cannot be reused. */
  private void finishIfDone() {
    if (!responseEnded) {
      return;
    }
    if (!requestEnded) {
      // Answered before the request's body ended (a refusal or an error): the connection is not reusable.
      keepAlive = false;
      discarding = true;
    }
    streamId = -1;
    resumeReading();
    if (!keepAlive) {
      close(discarding || pipelined);
    } else {
      requestTimeout.awaitRequest();
    }
  }

  /** Answers a request that may not call, then closes: the answer ends the connection. */
  private void answerAndClose(FullHttpResponse response, boolean bodyUnread) {
    discarding = bodyUnread;
    closing = true;
    LingeringClose.closeAfter(ctx, ctx.writeAndFlush(response), bodyUnread);
  }

  /**
   * Closes the connection once what was written is out (after lingering while the client may still be sending a
   * body, {@code bodyUnread}): from here toward the socket, so that gRPC's handler sees the connection end (and
   * cancels what is in flight) rather than starting a graceful shutdown that waits.
   */
  private void close(boolean bodyUnread) {
    closing = true;
    LingeringClose.closeAfter(ctx, ctx.writeAndFlush(Unpooled.EMPTY_BUFFER), bodyUnread);
  }

  /**
   * Closes the connection at once, toward the socket: the bearer token of its latest request was revoked ({@link
   * BearerTokens}). gRPC's handler sees the connection end and cancels the call in flight; a close through the whole
   * pipeline would reach that handler first, whose graceful shutdown waits for the call. Not after a flush, as
   * {@link #close} does: to a client that has stopped reading, that would wait behind the bytes it does not take.
   */
  void closeRevoked() {
    closing = true;
    ctx.close();
  }

  private FullHttpResponse trailersOnly(HttpRequest request, Status status) {
    if (request != null) {
      responseContentType = responseContentType(request);
    }
    FullHttpResponse response = trailersOnly(responseContentType, status, !keepAlive);
    advertiseKeepAlive(response.headers());
    return response;
  }

  /** Says how long the connection stays open for the next request, on an answer that keeps it open. */
  private void advertiseKeepAlive(HttpHeaders headers) {
    if (keepAlive && keepAliveHeader != null) {
      headers.set(KEEP_ALIVE, keepAliveHeader);
    }
  }

  /** The content type that answers {@code request}: gRPC-Web's, binary or text as the request's. */
  static String responseContentType(HttpRequest request) {
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE, CONTENT_TYPE).toLowerCase(Locale.ROOT);
    return type.startsWith(TEXT_CONTENT_TYPE) ? TEXT_CONTENT_TYPE + "+proto" : CONTENT_TYPE + "+proto";
  }

  /** A complete gRPC-Web answer that carries only {@code status}, in its headers. */
  static FullHttpResponse trailersOnly(String contentType, Status status, boolean close) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.EMPTY_BUFFER);
    for (Map.Entry<CharSequence, CharSequence> header : BrowserCalls.statusTrailers(status)) {
      response.headers().add(header.getKey(), header.getValue());
    }
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    HttpUtil.setContentLength(response, 0);
    if (close) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    return response;
  }

  private void copyHeaders(Http2Headers from, HttpHeaders to) {
    for (Map.Entry<CharSequence, CharSequence> header : from) {
      CharSequence name = header.getKey();
      if (name.length() > 0 && name.charAt(0) != ':' && !HttpHeaderNames.CONTENT_TYPE.contentEqualsIgnoreCase(name)
          && BrowserCalls.isFieldValue(header.getValue())) {
        to.add(name, header.getValue());
      }
    }
    to.set(HttpHeaderNames.CONTENT_TYPE, responseContentType);
    if (!keepAlive) {
      to.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    advertiseKeepAlive(to);
  }
}
