package dev.wsgrpc.server;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Translates one gRPC call over a plain WebSocket with subprotocol {@code wsgrpc-json} into a gRPC call on gRPC's
 * own HTTP/2 server handler, through an {@link Http2ClientBridge}: a client without protobuf code sends and receives
 * messages as protobuf's canonical JSON ({@link JsonFormat}), converted with the method's schema from
 * {@link JsonSchemas}. One text message each, every one a JSON object:
 *
 * <pre>
 *   client → server   {"metadata": {"name": "value", ...}}       (optional, first message only; credentials may travel here)
 *                     {"message": {...request as JSON...}}        (any number)
 *                     {"halfClose": true}                         (no more requests)
 *   server → client   {"metadata": {"name": "value", ...}}       (response headers, once, before the first message)
 *                     {"message": {...response as JSON...}}       (as they come)
 *                     {"status": {"code": 0, "message": "", "details": []}, "trailers": {...}}   (last)
 *                     Close 1000
 * </pre>
 *
 * <p>Closing the socket cancels the call. The call is admitted (authenticator, with the first message's metadata
 * added to the upgrade request's headers) when the first message arrives. A refusal, a method without a known schema
 * and a message that is not JSON of the request type end the call with a status message like any other end.
 */
final class JsonWebSocketTranslator extends WebSocketCallTranslator {

  static final String NAME = "wsgrpc-json-websocket";
  static final String SUBPROTOCOL = "wsgrpc-json";
  /** The largest JSON text and protobuf message either way: 4 MiB, gRPC's default message limit. */
  static final int MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  private final Descriptors.MethodDescriptor method;
  private final int maxMessageBytes;

  /** The text message being collected (fragments); null between messages. */
  private CompositeByteBuf incoming;
  /** gRPC's response bytes not yet whole messages; null before the first. */
  private CompositeByteBuf responseBytes;
  private boolean admitted;
  private boolean halfClosed;

  /**
   * @param method the method's schema, or null when none is known (the call then ends as UNIMPLEMENTED)
   * @param maxMessageBytes the largest JSON text and protobuf message either way
   */
  JsonWebSocketTranslator(String path, String scheme, String authority, SocketAddress clientAddress,
      Descriptors.MethodDescriptor method, int maxMessageBytes, long firstMessageTimeoutMillis,
      Admission admission) {
    super(path, scheme, authority, clientAddress, firstMessageTimeoutMillis, admission);
    this.method = method;
    this.maxMessageBytes = maxMessageBytes;
  }

  @Override
  String subprotocol() {
    return SUBPROTOCOL;
  }

  @Override
  String firstMessage() {
    return "the first message";
  }

  @Override
  void releaseBuffers() {
    if (incoming != null) {
      incoming.release();
      incoming = null;
    }
    if (responseBytes != null) {
      responseBytes.release();
      responseBytes = null;
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof TextWebSocketFrame || msg instanceof ContinuationWebSocketFrame
        || msg instanceof io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame)) {
      ctx.fireChannelRead(msg);
      return;
    }
    WebSocketFrame frame = (WebSocketFrame) msg;
    try {
      if (ended) {
        return;
      }
      if (frame instanceof io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame) {
        fail(Status.INVALID_ARGUMENT.withDescription("expected text messages holding JSON but a binary message "
            + "arrived"));
        return;
      }
      if (incoming == null) {
        incoming = ctx.alloc().compositeBuffer();
      }
      if (incoming.readableBytes() + frame.content().readableBytes() > maxMessageBytes) {
        fail(Status.RESOURCE_EXHAUSTED.withDescription("expected a message of at most " + maxMessageBytes
            + " bytes"));
        return;
      }
      incoming.addComponent(true, frame.content().retain());
      if (frame.isFinalFragment()) {
        String text = incoming.toString(StandardCharsets.UTF_8);
        incoming.release();
        incoming = null;
        onMessage(text);
      }
    } finally {
      frame.release();
    }
  }

  private void onMessage(String text) {
    JsonObject envelope;
    try {
      JsonElement element = JsonParser.parseString(text);
      if (!element.isJsonObject()) {
        throw new JsonParseException("not an object");
      }
      envelope = element.getAsJsonObject();
    } catch (JsonParseException e) {
      fail(Status.INVALID_ARGUMENT.withDescription(
          "expected a JSON object with \"metadata\", \"message\" or \"halfClose\" but the text was not one"));
      return;
    }
    if (!admitted) {
      HttpHeaders metadata = new DefaultHttpHeaders();
      if (envelope.has("metadata")) {
        if (!readMetadata(envelope.get("metadata"), metadata)) {
          return;
        }
      }
      if (!admit(metadata) || envelope.has("metadata")) {
        return;
      }
    }
    if (envelope.has("metadata")) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected metadata only in the first message"));
    } else if (halfClosed) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected nothing after the half-close but a message arrived"));
    } else if (envelope.has("message")) {
      sendRequest(envelope.get("message"));
    } else if (envelope.has("halfClose") && envelope.get("halfClose").isJsonPrimitive()
        && envelope.get("halfClose").getAsBoolean()) {
      halfClosed = true;
      bridge.data(streamId, Unpooled.EMPTY_BUFFER, true);
    } else {
      fail(Status.INVALID_ARGUMENT.withDescription(
          "expected a JSON object with \"message\" or \"halfClose\": true but it had " + envelope.keySet()));
    }
  }

  private boolean readMetadata(JsonElement element, HttpHeaders into) {
    if (!element.isJsonObject()) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected \"metadata\" to be an object of string values"));
      return false;
    }
    for (Map.Entry<String, JsonElement> entry : element.getAsJsonObject().entrySet()) {
      JsonElement value = entry.getValue();
      if (!value.isJsonPrimitive() || !value.getAsJsonPrimitive().isString()
          || !dev.wsgrpc.core.internal.Http11Tokens.isToken(entry.getKey())
          || !dev.wsgrpc.core.internal.Http11Tokens.isHeaderValue(value.getAsString())) {
        fail(Status.INVALID_ARGUMENT.withDescription("expected \"metadata\" to map header names to string values "
            + "but " + entry.getKey() + " was not one"));
        return false;
      }
      into.add(entry.getKey(), value.getAsString());
    }
    return true;
  }

  /** Admits the call and opens it toward gRPC; false (the call ended) when refused. */
  private boolean admit(HttpHeaders metadata) {
    admitted = true;
    if (method == null) {
      refuse(Status.UNIMPLEMENTED.withDescription("expected a method whose schema the server knows but "
          + path + " is not one"));
      return false;
    }
    metadata.remove("grpc-accept-encoding");
    return startCall(metadata, "application/grpc+proto");
  }

  private void sendRequest(JsonElement json) {
    DynamicMessage.Builder builder = DynamicMessage.newBuilder(method.getInputType());
    try {
      PARSER.merge(json.toString(), builder);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected a " + method.getInputType().getFullName()
          + " as JSON but " + e.getMessage()));
      return;
    }
    byte[] bytes = builder.build().toByteArray();
    ByteBuf framed = ctx.alloc().buffer(5 + bytes.length).writeByte(0).writeInt(bytes.length).writeBytes(bytes);
    bridge.data(streamId, framed, false);
    pauseWhileFull();
  }

  @Override
  public void onHeaders(int id, Http2Headers headers, boolean endStream) {
    if (id != streamId || ended) {
      return;
    }
    Status refused = statusOfRefusal(headers);
    if (refused != null) {
      end(refused, null);
      return;
    }
    if (endStream) {
      end(statusOf(headers), headers);
      return;
    }
    JsonObject out = new JsonObject();
    out.add("metadata", headerObject(headers));
    send(out);
  }

  @Override
  public void onData(int id, ByteBuf data, boolean endStream) {
    if (id != streamId || ended) {
      data.release();
      return;
    }
    int bytes = data.readableBytes();
    if (responseBytes == null) {
      responseBytes = ctx.alloc().compositeBuffer();
    }
    responseBytes.addComponent(true, data);
    io.netty.channel.ChannelFuture last = null;
    while (responseBytes.readableBytes() >= 5) {
      int flags = responseBytes.getUnsignedByte(responseBytes.readerIndex());
      int length = responseBytes.getInt(responseBytes.readerIndex() + 1);
      if (flags != 0) {
        bridge.cancel(streamId);
        end(Status.INTERNAL.withDescription("expected an uncompressed response message but its flags were "
            + flags), null);
        return;
      }
      if (length < 0 || length > maxMessageBytes) {
        bridge.cancel(streamId);
        end(Status.RESOURCE_EXHAUSTED.withDescription("expected a response message of at most "
            + maxMessageBytes + " bytes but it had " + Integer.toUnsignedString(length)), null);
        return;
      }
      if (responseBytes.readableBytes() < 5 + length) {
        break;
      }
      responseBytes.skipBytes(5);
      ByteBuf message = responseBytes.readSlice(length);
      JsonObject out = new JsonObject();
      try (ByteBufInputStream in = new ByteBufInputStream(message)) {
        DynamicMessage response = DynamicMessage.parseFrom(method.getOutputType(), in);
        out.add("message", JsonParser.parseString(PRINTER.print(response)));
      } catch (IOException | RuntimeException e) {
        bridge.cancel(streamId);
        end(Status.INTERNAL.withDescription("could not turn the " + method.getOutputType().getFullName()
            + " response into JSON: " + e.getMessage()), null);
        return;
      }
      last = send(out);
    }
    responseBytes.discardReadComponents();
    if (last == null) {
      bridge.consumed(id, bytes);
    } else {
      last.addListener(f -> bridge.consumed(id, bytes));
    }
  }

  @Override
  void refuse(Status status) {
    if (!ended) {
      end(status, null);
    }
  }

  /** Sends the status message, then Close 1000; the connection closes shortly after ({@link #closeAfterStatus}). */
  private void end(Status status, Http2Headers trailers) {
    ended = true;
    JsonObject statusObject = new JsonObject();
    statusObject.addProperty("code", status.getCode().value());
    statusObject.addProperty("message", status.getDescription() == null ? "" : status.getDescription());
    statusObject.add("details", new com.google.gson.JsonArray());
    JsonObject out = new JsonObject();
    out.add("status", statusObject);
    if (trailers != null) {
      JsonObject rest = headerObject(trailers);
      rest.remove("grpc-status");
      rest.remove("grpc-message");
      if (rest.size() > 0) {
        out.add("trailers", rest);
      }
    }
    send(out);
    closeAfterStatus();
  }

  private io.netty.channel.ChannelFuture send(JsonObject message) {
    return ctx.write(new TextWebSocketFrame(message.toString()));
  }

  /** The status gRPC's trailers carry (grpc-message percent-decoded). */
  private static Status statusOf(Http2Headers trailers) {
    CharSequence code = trailers.get("grpc-status");
    Status status;
    try {
      status = code == null ? Status.UNKNOWN.withDescription("the call ended without a grpc-status")
          : Status.fromCodeValue(Integer.parseInt(code.toString()));
    } catch (NumberFormatException e) {
      return Status.UNKNOWN.withDescription("the call ended with grpc-status " + code);
    }
    CharSequence message = trailers.get("grpc-message");
    if (message != null) {
      status = status.withDescription(percentDecode(message.toString()));
    }
    return status;
  }

  private static String percentDecode(String message) {
    try {
      return URLDecoder.decode(message.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return message;
    }
  }

  private static JsonObject headerObject(Http2Headers headers) {
    JsonObject out = new JsonObject();
    for (Map.Entry<CharSequence, CharSequence> header : headers) {
      String name = header.getKey().toString();
      // gRPC's own framing headers describe bytes this translator already decoded.
      if (name.startsWith(":") || name.equals("content-type") || name.equals("grpc-encoding")
          || name.equals("grpc-accept-encoding")) {
        continue;
      }
      out.addProperty(name, header.getValue().toString());
    }
    return out;
  }
}
