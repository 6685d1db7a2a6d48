package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Translates one gRPC call over a WebSocket with subprotocol {@code grpc-websockets} (as improbable's
 * {@code @improbable-eng/grpc-web} and {@code nice-grpc-web} WebsocketTransports speak it) into a gRPC call on
 * gRPC's own HTTP/2 server handler, through an {@link Http2ClientBridge}. It replaces the tunnel's byte-stream step:
 *
 * <pre>
 *   socket ─ frame-decoder ─ frame-encoder ─ [keepalive] ─ control ─ grpc-websockets ─ (gRPC's HTTP/2 handler)
 * </pre>
 *
 * <p>The wire format, one binary WebSocket message each:
 *
 * <pre>
 *   client → server   request headers as "name: value\r\n" lines   (first message; credentials may travel here)
 *                     0x00, then gRPC length-prefixed message bytes  (any number)
 *                     0x01                                           (exactly one byte: half-close)
 *   server → client   0x80, 4-byte length, "name: value\r\n" lines   (response headers)
 *                     gRPC length-prefixed message bytes             (as they come)
 *                     0x80, 4-byte length, "name: value\r\n" lines   (trailers: grpc-status, grpc-message, ...)
 *                     Close 1000
 * </pre>
 *
 * <p>Closing the socket cancels the call. The call is admitted (authenticator, with the first message's headers
 * added to the upgrade request's) when the first message arrives; until then gRPC has not seen the connection.
 * A refusal, like every end, reaches the client as trailers with a gRPC status.
 */
final class GrpcWebSocketsTranslator extends WebSocketCallTranslator {

  static final String NAME = "wsgrpc-grpc-websockets";
  static final String SUBPROTOCOL = "grpc-websockets";
  private static final byte DATA = 0x00;
  private static final byte HALF_CLOSE = 0x01;

  private final int maxHeaderBytes;

  /** Whether the first message (the request headers) was read whole. */
  private boolean headersRead;
  /** Collects the first message as its fragments come; null before its first one and once it was read or refused. */
  private ByteBuf headerMessage;
  /** Inside a message after the first: whether its type byte was read, and what it was. */
  private boolean inMessage;
  private int messageType = -1;
  private boolean halfClosed;
  private boolean responseStarted;
  /** Follows the gRPC messages the data messages carry; set with the request headers. */
  private RequestMessageFraming framing;

  GrpcWebSocketsTranslator(String path, String scheme, String authority, SocketAddress clientAddress,
      int maxHeaderBytes, long firstMessageTimeoutMillis, Admission admission) {
    super(path, scheme, authority, clientAddress, firstMessageTimeoutMillis, admission);
    this.maxHeaderBytes = maxHeaderBytes;
  }

  @Override
  String subprotocol() {
    return SUBPROTOCOL;
  }

  @Override
  String firstMessage() {
    return "the request headers as the first message";
  }

  @Override
  void releaseBuffers() {
    if (headerMessage != null) {
      headerMessage.release();
      headerMessage = null;
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame)) {
      ctx.fireChannelRead(msg);
      return;
    }
    WebSocketFrame frame = (WebSocketFrame) msg;
    try {
      if (ended) {
        return;
      }
      if (!headersRead) {
        readHeaderPiece(frame);
      } else {
        readMessagePiece(frame);
      }
    } finally {
      frame.release();
    }
  }

  private void readHeaderPiece(WebSocketFrame frame) {
    if (headerMessage == null) {
      headerMessage = ctx.alloc().buffer(frame.content().readableBytes());
    }
    if (headerMessage.readableBytes() + frame.content().readableBytes() > maxHeaderBytes) {
      releaseBuffers(); // what arrived of it is let go at once, not when the connection ends
      refuse(Status.RESOURCE_EXHAUSTED.withDescription(
          "expected request headers of at most " + maxHeaderBytes + " bytes"));
      return;
    }
    // Copied in: a composite of the fragments would copy all it holds every 16 of them, empty ones included, so a
    // caller not yet admitted could make the server copy up to some 170 times what it sent.
    headerMessage.writeBytes(frame.content());
    if (!frame.isFinalFragment()) {
      return;
    }
    headersRead = true;
    String block = headerMessage.toString(StandardCharsets.ISO_8859_1);
    releaseBuffers();
    HttpHeaders headers = new DefaultHttpHeaders();
    for (String line : block.split("\r\n")) {
      int colon = line.indexOf(':');
      String name = colon <= 0 ? "" : line.substring(0, colon).trim();
      String value = colon <= 0 ? "" : line.substring(colon + 1).trim();
      if (line.isEmpty()) {
        continue;
      }
      if (!Http11Tokens.isToken(name) || !Http11Tokens.isHeaderValue(value)) {
        refuse(Status.INTERNAL.withDescription("expected request headers as 'name: value' lines"));
        return;
      }
      headers.add(name, value);
    }
    framing = new RequestMessageFraming(headers.get("grpc-encoding"));
    startCall(headers, "application/grpc" + protoSuffix(headers.get("content-type")));
  }

  /** The codec suffix of the page's content type ({@code +proto} when it names none), its parameters left out. */
  private static String protoSuffix(String contentType) {
    String type = contentType == null ? "" : contentType.split(";", 2)[0].trim();
    int plus = type.indexOf('+');
    return plus < 0 ? "+proto" : type.substring(plus);
  }

  private void readMessagePiece(WebSocketFrame frame) {
    ByteBuf content = frame.content();
    if (frame instanceof BinaryWebSocketFrame) {
      inMessage = true;
      messageType = -1;
    }
    if (messageType == -1 && content.isReadable()) {
      messageType = content.readByte();
      if (messageType != DATA && messageType != HALF_CLOSE) {
        fail(Status.INTERNAL.withDescription(String.format(
            "expected a message starting with 0x00 (data) or 0x01 (half-close) but was 0x%02x",
            messageType & 0xff)));
        return;
      }
      if (halfClosed) {
        fail(Status.INTERNAL.withDescription(
            "expected nothing after the half-close (0x01) but a message arrived"));
        return;
      }
    }
    if (messageType == HALF_CLOSE) {
      if (content.isReadable()) {
        fail(Status.INTERNAL.withDescription("expected the half-close message to be the single byte 0x01"));
        return;
      }
      if (frame.isFinalFragment() && !misframed(null)) {
        halfClosed = true;
        bridge.data(streamId, Unpooled.EMPTY_BUFFER, true);
      }
      return;
    }
    if (content.isReadable()) {
      if (misframed(content)) {
        return;
      }
      bridge.data(streamId, content.retain(), false);
      pauseWhileFull();
    }
    if (frame.isFinalFragment()) {
      inMessage = false;
      if (messageType == -1) {
        fail(Status.INTERNAL.withDescription(
            "expected a message of at least one byte but it was empty"));
      }
    }
  }

  /**
   * Follows the call's gRPC messages through {@code piece} ({@code null}: the half-close ends them); when they are
   * not gRPC's length-prefixed messages, fails the call saying what was expected and what arrived (before gRPC reads
   * the offending bytes, and would say so in its own words) and returns true.
   */
  private boolean misframed(ByteBuf piece) {
    try {
      if (piece == null) {
        framing.end();
      } else {
        framing.next(piece);
      }
      return false;
    } catch (IllegalArgumentException e) {
      fail(Status.INTERNAL.withDescription(e.getMessage()));
      return true;
    }
  }

  @Override
  public void onHeaders(int id, Http2Headers headers, boolean endStream) {
    if (id != streamId || ended) {
      return;
    }
    if (!responseStarted) {
      responseStarted = true;
      Status refused = statusOfRefusal(headers);
      if (refused != null) {
        end(BrowserCalls.statusTrailers(refused));
        return;
      }
      writeHeaderFrame(headers);
      if (endStream) {
        // Trailers only: the status travels in the headers; clients read it from the trailers frame.
        end(headers);
      }
      return;
    }
    end(headers);
  }

  @Override
  public void onData(int id, ByteBuf data, boolean endStream) {
    if (id != streamId || ended) {
      data.release();
      return;
    }
    int bytes = data.readableBytes();
    send(new BinaryWebSocketFrame(data)).addListener(f -> bridge.consumed(id, bytes));
  }

  /** Ends the exchange with {@code status} as trailers (after response headers if none were sent yet). */
  @Override
  void refuse(Status status) {
    if (ended) {
      return;
    }
    if (!responseStarted) {
      responseStarted = true;
      Http2Headers headers = new DefaultHttp2Headers(false).set("content-type", "application/grpc-web+proto");
      writeHeaderFrame(headers);
    }
    end(BrowserCalls.statusTrailers(status));
  }

  /** Sends the trailers, then Close 1000; the connection closes shortly after ({@link #closeAfterStatus}). */
  private void end(Http2Headers trailers) {
    ended = true;
    writeHeaderFrame(trailers);
    closeAfterStatus();
  }

  private void writeHeaderFrame(Http2Headers headers) {
    if (headers.contains("content-type")) {
      // What the client's request said it speaks: gRPC-Web's framing inside the socket.
      headers = new DefaultHttp2Headers(false).add(headers).set("content-type", "application/grpc-web+proto");
    }
    send(new BinaryWebSocketFrame(BrowserCalls.headerFrame(ctx.alloc(), headers)));
  }
}
