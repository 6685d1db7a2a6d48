package dev.wsgrpc.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonWriter;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.SocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
 * added to the upgrade request's headers) when the first message arrives; then the method's schema is looked up
 * ({@link JsonSchemas#lookup}, which may complete later: meanwhile the socket is not read, and what was already read
 * waits, bounded by the message limit). Until the call is admitted its first message is held to a smaller limit
 * (the request-header limit, unless the upgrade's own credentials would admit the call): a caller nobody has
 * authenticated yet may not make the server hold more. A refusal, a method without a known schema and a message that
 * is not JSON of
 * the request type end the call with a status message like any other end. The final status carries the
 * {@code google.rpc.Status} details of {@code grpc-status-details-bin} as protobuf JSON of their {@code Any}s.
 */
final class JsonWebSocketTranslator extends WebSocketCallTranslator {

  static final String NAME = "wsgrpc-json-websocket";
  static final String SUBPROTOCOL = "wsgrpc-json";
  /**
   * A message may hold one JSON value for every this many bytes of the message limit (262,144 with the default 4
   * MiB), and at least {@link #MIN_JSON_VALUES}. Read into Gson's tree, as the envelope and then protobuf's {@code
   * JsonFormat} each read it, a value takes some 90 bytes of heap and an object's member some 180, many times its
   * text ({@code 0,} is two bytes): 4 MiB of {@code 0,} made a tree of 172 MiB. At 262,144 values a tree took 22
   * MiB as numbers in an array and 44 MiB as the members of an object.
   */
  static final int BYTES_PER_JSON_VALUE = 16;
  /** The fewest JSON values a message may hold however low the limit, for the envelope and a small message. */
  static final int MIN_JSON_VALUES = 64;
  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  /** The google.rpc error details (error_details.proto): rich error details every client may meet. */
  private static final List<Descriptors.Descriptor> ERROR_DETAILS_TYPES =
      com.google.rpc.ErrorInfo.getDescriptor().getFile().getMessageTypes();
  private static final JsonFormat.TypeRegistry ERROR_DETAILS = JsonFormat.TypeRegistry.newBuilder()
      .add(ERROR_DETAILS_TYPES).build();

  private final JsonSchemas schemas;
  private final int maxMessageBytes;
  /** The largest first message before the call is admitted (authenticated); {@link #maxMessageBytes} after. */
  private final int maxFirstMessageBytes;
  /** The method's schema, once the lookup after admission found it; null before. */
  private Descriptors.MethodDescriptor method;
  /** Whole messages that arrived while the schema was being looked up; null when not waiting. */
  private ArrayDeque<String> waiting;
  private int waitingBytes;
  private ScheduledFuture<?> lookupTimeout;
  private JsonFormat.TypeRegistry types;
  private JsonFormat.Printer printer;

  /** The text message being collected (fragments); null between messages. */
  private ByteBuf incoming;
  /** gRPC's response bytes not yet whole messages; null before the first. */
  private CompositeByteBuf responseBytes;
  private boolean admitted;
  private boolean halfClosed;

  /**
   * @param schemas where the method's schema is looked up once the call is admitted; a lookup that has not completed
   *     within {@code firstMessageTimeoutMillis} ends the call as UNAVAILABLE
   * @param maxMessageBytes the largest JSON text and protobuf message either way
   * @param maxFirstMessageBytes the largest first message, which arrives before the call is admitted: what a
   *     caller not yet authenticated may make the server hold (at most {@code maxMessageBytes})
   */
  JsonWebSocketTranslator(String path, String scheme, String authority, SocketAddress clientAddress,
      JsonSchemas schemas, int maxMessageBytes, int maxFirstMessageBytes, long firstMessageTimeoutMillis,
      Admission admission) {
    super(path, scheme, authority, clientAddress, firstMessageTimeoutMillis, admission);
    this.schemas = schemas;
    this.maxMessageBytes = maxMessageBytes;
    this.maxFirstMessageBytes = Math.min(maxFirstMessageBytes, maxMessageBytes);
  }

  @Override
  String subprotocol() {
    return SUBPROTOCOL;
  }

  @Override
  String firstMessage() {
    return "the first message";
  }

  /** The client sent JSON: the length prefix gRPC reads is the translator's, the size of the protobuf it made. */
  @Override
  Http2ClientBridge.RequestSize requestSize() {
    return Http2ClientBridge.RequestSize.PROTOBUF;
  }

  @Override
  void releaseBuffers() {
    waiting = null;
    if (lookupTimeout != null) {
      lookupTimeout.cancel(false);
    }
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
        incoming = ctx.alloc().buffer(frame.content().readableBytes());
      }
      long arrived = (long) incoming.readableBytes() + frame.content().readableBytes();
      if (!admitted && maxFirstMessageBytes < maxMessageBytes && arrived > maxFirstMessageBytes) {
        // Before the call is admitted the caller may not be who it claims: it may make the server hold no more
        // than request headers (credentials at the upgrade admit it earlier, with the full limit).
        refuseOversize(Status.RESOURCE_EXHAUSTED.withDescription("expected a first message of at most "
            + maxFirstMessageBytes + " bytes before the call is admitted (credentials at the upgrade admit larger "
            + "ones) but it had " + (frame.isFinalFragment() ? "" : "at least ") + arrived));
        return;
      }
      if (arrived > maxMessageBytes) {
        // Refused at the fragment that crosses the limit: the size is exact once the message's last one came.
        refuseOversize(Status.RESOURCE_EXHAUSTED.withDescription("expected a message of at most " + maxMessageBytes
            + " bytes but it had " + (frame.isFinalFragment() ? "" : "at least ") + arrived));
        return;
      }
      // Copied in: a composite of the fragments would copy all it holds every 16 of them, so a message in one-byte
      // fragments cost its size squared over 32 (4 MiB: some 550 GB, minutes of an event loop).
      incoming.writeBytes(frame.content());
      if (frame.isFinalFragment()) {
        String text = strictUtf8(incoming);
        incoming.release();
        incoming = null;
        if (text == null) {
          invalidUtf8();
          return;
        }
        if (waiting == null) {
          onMessage(text);
        } else if (waitingBytes + text.length() > maxMessageBytes) {
          fail(Status.RESOURCE_EXHAUSTED.withDescription("expected at most " + maxMessageBytes
              + " bytes of messages while the method's schema is looked up"));
        } else {
          waitingBytes += text.length();
          waiting.add(text);
        }
      }
    } finally {
      frame.release();
    }
  }

  /** {@code bytes} (a whole text message, its fragments assembled) decoded as UTF-8; null when they are not UTF-8. */
  private static String strictUtf8(ByteBuf bytes) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
          .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
          .decode(bytes.nioBuffer()).toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      return null;
    }
  }

  /**
   * A text message that is not UTF-8 (RFC 6455 8.1): the connection fails with 1007, through the one path for
   * WebSocket protocol errors (the control-frame handler ahead of this one sends the Close and closes); the call
   * toward gRPC, if started, is cancelled.
   */
  private void invalidUtf8() {
    ended = true;
    if (streamId != -1) {
      bridge.cancel(streamId);
    }
    ctx.pipeline().fireExceptionCaught(new io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException(
        io.netty.handler.codec.http.websocketx.WebSocketCloseStatus.INVALID_PAYLOAD_DATA,
        "expected a text message in UTF-8 but it was not valid UTF-8"));
  }

  /** A message over its limit: what was collected of it is let go at once, not when the connection ends. */
  private void refuseOversize(Status status) {
    incoming.release();
    incoming = null;
    fail(status);
  }

  private void onMessage(String text) {
    long maxValues = Math.max(MIN_JSON_VALUES, maxMessageBytes / BYTES_PER_JSON_VALUE);
    if (hasMoreValuesThan(text, maxValues)) {
      fail(Status.RESOURCE_EXHAUSTED.withDescription("expected a JSON message of at most " + maxValues
          + " values (one for every " + BYTES_PER_JSON_VALUE + " bytes of the " + maxMessageBytes
          + "-byte message limit) but it had more"));
      return;
    }
    JsonElement element;
    try {
      element = JsonParser.parseString(text);
    } catch (JsonParseException e) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected a JSON object with \"metadata\", \"message\" or "
          + "\"halfClose\" but the text was not JSON" + where(e)));
      return;
    }
    if (!element.isJsonObject()) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected a JSON object with \"metadata\", \"message\" or "
          + "\"halfClose\" but it was " + kind(element)));
      return;
    }
    JsonObject envelope = element.getAsJsonObject();
    if (envelope.size() != 1) {
      // One purpose per object: {"metadata": ..., "message": ...} would otherwise lose its message without a word.
      fail(Status.INVALID_ARGUMENT.withDescription("expected a JSON object with one of \"metadata\", \"message\" "
          + "or \"halfClose\" but it had " + envelope.keySet()));
      return;
    }
    if (!admitted) {
      HttpHeaders metadata = new DefaultHttpHeaders();
      if (envelope.has("metadata")) {
        if (!readMetadata(envelope.get("metadata"), metadata)) {
          return;
        }
      }
      admitted = true;
      if (admit(metadata)) {
        lookUpSchema(metadata, envelope.has("metadata") ? null : envelope);
      }
      return;
    }
    onEnvelope(envelope);
  }

  /**
   * Whether {@code text} holds more than {@code max} JSON values (objects, arrays, strings, numbers, booleans and
   * nulls, at any depth), read as a stream that keeps none of them. Text that is not JSON counts as far as it reads;
   * the parser then says where it is wrong.
   */
  static boolean hasMoreValuesThan(String text, long max) {
    if (text.length() <= max) {
      return false; // each value takes at least one character (an empty slot's null, its comma)
    }
    JsonReader reader = new JsonReader(new StringReader(text));
    reader.setStrictness(Strictness.LENIENT); // as JsonParser reads it
    long values = 0;
    try {
      while (true) {
        switch (reader.peek()) {
          case BEGIN_ARRAY:
            reader.beginArray();
            break;
          case BEGIN_OBJECT:
            reader.beginObject();
            break;
          case END_ARRAY:
            reader.endArray();
            continue;
          case END_OBJECT:
            reader.endObject();
            continue;
          case NAME:
            reader.nextName();
            continue;
          case END_DOCUMENT:
            return false;
          default:
            reader.skipValue();
            break;
        }
        if (++values > max) {
          return true;
        }
      }
    } catch (IOException | RuntimeException notJson) {
      return false;
    }
  }

  /** The most characters a character of the JSON sent takes in the printer's text: a backslash-u escape. */
  static final int ESCAPE_CHARS = 6;

  /**
   * The JSON {@code printer} writes of {@code message}, or null once it is longer than {@code maxChars} characters:
   * printing stops there. The JSON of a message can be many times its protobuf (each element of a packed {@code
   * repeated} enum, one byte there, prints its value's name; an empty message of a long-named field, two bytes there,
   * prints the name), and a response had all of it printed before its size was checked.
   */
  static String printAtMost(JsonFormat.Printer printer, com.google.protobuf.MessageOrBuilder message, int maxChars)
      throws IOException {
    StringBuilder text = new StringBuilder();
    try {
      printer.appendTo(message, new Appendable() {
        @Override
        public Appendable append(CharSequence chars) throws IOException {
          return append(chars, 0, chars.length());
        }

        @Override
        public Appendable append(CharSequence chars, int start, int end) throws IOException {
          if (text.length() + (end - start) > maxChars) {
            throw new TooLong();
          }
          text.append(chars, start, end);
          return this;
        }

        @Override
        public Appendable append(char c) throws IOException {
          return append(String.valueOf(c), 0, 1);
        }
      });
    } catch (TooLong e) {
      return null;
    }
    return text.toString();
  }

  /** Ends {@link #printAtMost}'s printing; carries nothing. */
  private static final class TooLong extends IOException {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /**
   * {@code {"message":json}}, as Gson writes a tree of it, but copied token by token: read into a tree, each value
   * of a response of many small ones would take some 90 bytes of heap (a 4 MiB {@code repeated int32} of zeros, 344
   * MiB), before the limit on the JSON's size could refuse it. Unlike a tree, it keeps a name that comes twice (a
   * map key repeated on the wire, which the printer prints twice) twice; a JSON reader keeps the last, as protobuf
   * does.
   */
  static String messageEnvelope(String json) throws IOException {
    StringWriter text = new StringWriter(json.length() + 16);
    JsonWriter out = new JsonWriter(text);
    out.setStrictness(Strictness.LENIENT); // as JsonElement.toString() writes
    JsonReader in = new JsonReader(new StringReader(json));
    in.setStrictness(Strictness.LENIENT); // as JsonParser reads
    out.beginObject().name("message");
    int depth = 0;
    do {
      switch (in.peek()) {
        case BEGIN_ARRAY:
          in.beginArray();
          out.beginArray();
          depth++;
          break;
        case END_ARRAY:
          in.endArray();
          out.endArray();
          depth--;
          break;
        case BEGIN_OBJECT:
          in.beginObject();
          out.beginObject();
          depth++;
          break;
        case END_OBJECT:
          in.endObject();
          out.endObject();
          depth--;
          break;
        case NAME:
          out.name(in.nextName());
          break;
        case STRING:
          out.value(in.nextString());
          break;
        case NUMBER:
          out.jsonValue(in.nextString()); // the number as written
          break;
        case BOOLEAN:
          out.value(in.nextBoolean());
          break;
        case NULL:
          in.nextNull();
          out.nullValue();
          break;
        default:
          throw new IOException("expected a JSON value but the printer's text ended");
      }
    } while (depth > 0);
    out.endObject().flush();
    return text.toString();
  }

  private static final Pattern POSITION = Pattern.compile("at line \\d+ column \\d+");

  /** Where the JSON parser gave up ({@code " (at line 1 column 12)"}), without its advice; empty when it did not say. */
  private static String where(JsonParseException e) {
    String message = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
    Matcher at = POSITION.matcher(message == null ? "" : message);
    return at.find() ? " (" + at.group() + ")" : "";
  }

  /** What a JSON value that is not an object is, for a refusal: {@code "an array"}, {@code "a string"}... */
  private static String kind(JsonElement element) {
    if (element.isJsonArray()) {
      return "an array";
    }
    if (element.isJsonNull()) {
      return "empty or null";
    }
    JsonPrimitive primitive = element.getAsJsonPrimitive();
    return primitive.isString() ? "a string" : primitive.isNumber() ? "a number" : "a boolean";
  }

  private void onEnvelope(JsonObject envelope) {
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

  /**
   * The call was admitted: looks up the method's schema, then opens the call and handles {@code first} (the first
   * message, unless it held only metadata) and what arrived meanwhile. The socket is not read while waiting.
   */
  private void lookUpSchema(HttpHeaders metadata, JsonObject first) {
    String name = path.startsWith("/") ? path.substring(1) : path;
    waiting = new ArrayDeque<>();
    CompletionStage<Descriptors.MethodDescriptor> lookup;
    try {
      lookup = schemas.lookup(name);
    } catch (RuntimeException e) {
      lookup = CompletableFuture.failedFuture(e);
    }
    lookup.whenComplete((found, error) -> {
      if (ctx.executor().inEventLoop()) {
        onSchema(found, error, metadata, first);
      } else {
        ctx.executor().execute(() -> onSchema(found, error, metadata, first));
      }
    });
    if (waiting != null && !ended) {
      // Not known yet: hold the socket until it is, without holding the event loop.
      ctx.channel().config().setAutoRead(false);
      lookupTimeout = ctx.executor().schedule(() -> refuse(Status.UNAVAILABLE.withDescription(
          "expected the schema of " + name + " within " + firstMessageTimeoutMillis + " ms")),
          firstMessageTimeoutMillis, TimeUnit.MILLISECONDS);
    }
  }

  private void onSchema(Descriptors.MethodDescriptor found, Throwable error, HttpHeaders metadata,
      JsonObject first) {
    if (lookupTimeout != null) {
      lookupTimeout.cancel(false);
    }
    ArrayDeque<String> arrived = waiting;
    waiting = null;
    if (ended || ctx.isRemoved() || arrived == null) {
      return;
    }
    if (error != null) {
      refuse(statusOfLookup(error));
      return;
    }
    if (found == null) {
      refuse(Status.UNIMPLEMENTED.withDescription("expected a method whose schema the server knows but "
          + path + " is not one"));
      return;
    }
    method = found;
    metadata.remove("grpc-accept-encoding");
    if (!openCall(metadata, "application/grpc+proto")) {
      return;
    }
    if (first != null) {
      onEnvelope(first);
    }
    while (!ended && !arrived.isEmpty()) {
      onMessage(arrived.poll());
    }
    if (!ended) {
      resumeReading();
      if (!halfClosed) {
        pauseWhileFull();
      }
    }
  }

  /** The status a failed schema lookup ends the call with. */
  private Status statusOfLookup(Throwable error) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (cause instanceof StatusException) {
      return ((StatusException) cause).getStatus();
    }
    if (cause instanceof StatusRuntimeException) {
      return ((StatusRuntimeException) cause).getStatus();
    }
    return Status.UNAVAILABLE.withDescription("could not look up the schema of " + path + ": " + cause)
        .withCause(cause);
  }

  private void sendRequest(JsonElement json) {
    DynamicMessage.Builder builder = DynamicMessage.newBuilder(method.getInputType());
    try {
      PARSER.usingTypeRegistry(types()).merge(json.toString(), builder);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      fail(Status.INVALID_ARGUMENT.withDescription("expected a " + method.getInputType().getFullName()
          + " as JSON but " + e.getMessage()));
      return;
    }
    DynamicMessage request = builder.build();
    // The protobuf may be several times its JSON (a repeated int32 of -1s: 3 characters, 10 bytes each): sized
    // before it is written out, as the response's JSON is.
    int size = request.getSerializedSize();
    if (size > maxMessageBytes) {
      fail(Status.RESOURCE_EXHAUSTED.withDescription("expected a request message of at most " + maxMessageBytes
          + " bytes but " + Http2ClientBridge.RequestSize.PROTOBUF.words + " " + size));
      return;
    }
    byte[] bytes = request.toByteArray();
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
    ChannelFuture last = null;
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
      String out;
      try (ByteBufInputStream in = new ByteBufInputStream(message)) {
        DynamicMessage response = DynamicMessage.parseFrom(method.getOutputType(), in);
        // The printer writes =, <, >, & and ' as six-character escapes, which the envelope writes as they are: what
        // it prints may be up to six times what is sent, and no more.
        String printed = printAtMost(printer(), response, (int) Math.min(Integer.MAX_VALUE - 8,
            (long) ESCAPE_CHARS * maxMessageBytes));
        if (printed == null) {
          bridge.cancel(streamId);
          end(Status.RESOURCE_EXHAUSTED.withDescription("expected a response message of at most " + maxMessageBytes
              + " bytes but its JSON had more than " + maxMessageBytes + " (" + length + " bytes of protobuf)"), null);
          return;
        }
        out = messageEnvelope(printed);
      } catch (IOException | RuntimeException e) {
        bridge.cancel(streamId);
        end(Status.INTERNAL.withDescription("could not turn the " + method.getOutputType().getFullName()
            + " response into JSON: " + e.getMessage()), null);
        return;
      }
      // The JSON may be several times the protobuf (base64, escapes, field names): the limit holds for what is sent.
      ByteBuf json = ByteBufUtil.writeUtf8(ctx.alloc(), out);
      if (json.readableBytes() > maxMessageBytes) {
        int jsonBytes = json.readableBytes();
        json.release();
        bridge.cancel(streamId);
        end(Status.RESOURCE_EXHAUSTED.withDescription("expected a response message of at most " + maxMessageBytes
            + " bytes but its JSON had " + jsonBytes + " (" + length + " bytes of protobuf)"), null);
        return;
      }
      last = ctx.write(new TextWebSocketFrame(json));
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
    statusObject.add("details", details(trailers));
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

  /**
   * The {@code google.rpc.Status} details of {@code grpc-status-details-bin}, each {@code Any} as protobuf JSON
   * ({@code {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [...]}}) where its type is one
   * of google.rpc's error details or of the method's own files, else as {@code {"@type": ..., "value": base64}};
   * empty without details or when the trailer is not a {@code google.rpc.Status}.
   */
  private JsonArray details(Http2Headers trailers) {
    JsonArray out = new JsonArray();
    CharSequence encoded = trailers == null ? null : trailers.get("grpc-status-details-bin");
    if (encoded == null) {
      return out;
    }
    com.google.rpc.Status rich;
    try {
      rich = com.google.rpc.Status.parseFrom(Base64.getDecoder().decode(encoded.toString()));
    } catch (IllegalArgumentException | InvalidProtocolBufferException e) {
      return out; // still in "trailers", as it came
    }
    if (rich.getDetailsCount() == 0) {
      return out;
    }
    JsonFormat.Printer printer = method == null ? PRINTER.usingTypeRegistry(ERROR_DETAILS) : printer();
    for (Any detail : rich.getDetailsList()) {
      try {
        out.add(JsonParser.parseString(printer.print(detail)));
      } catch (InvalidProtocolBufferException | RuntimeException e) {
        JsonObject raw = new JsonObject();
        raw.addProperty("@type", detail.getTypeUrl());
        raw.addProperty("value", Base64.getEncoder().encodeToString(detail.getValue().toByteArray()));
        out.add(raw);
      }
    }
    return out;
  }

  /**
   * The types an {@code Any} may hold that this call can print or parse: google.rpc's error details and every type
   * of the method's own files (and their imports). Built once per call, when first needed.
   */
  private JsonFormat.TypeRegistry types() {
    if (types == null) {
      types = JsonFormat.TypeRegistry.newBuilder().add(ERROR_DETAILS_TYPES).add(method.getInputType())
          .add(method.getOutputType()).build();
    }
    return types;
  }

  private JsonFormat.Printer printer() {
    if (printer == null) {
      printer = PRINTER.usingTypeRegistry(types());
    }
    return printer;
  }

  private ChannelFuture send(JsonObject message) {
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
