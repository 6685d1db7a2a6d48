package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link JsonWebSocketTranslator} in front of a real HTTP/2 server handler, on an {@link EmbeddedChannel}. */
class JsonWebSocketTranslatorTest {

  /**
   * test.Greeter/Greet: test.Greeting {string text = 1; int32 count = 2; repeated int32 marks = 3; map<int64, int64>
   * weights = 4;} both ways.
   */
  static final Descriptors.FileDescriptor FILE;

  static {
    FieldDescriptorProto.Builder text = FieldDescriptorProto.newBuilder().setName("text").setNumber(1)
        .setType(FieldDescriptorProto.Type.TYPE_STRING).setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL);
    FieldDescriptorProto.Builder count = FieldDescriptorProto.newBuilder().setName("count").setNumber(2)
        .setType(FieldDescriptorProto.Type.TYPE_INT32).setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL);
    FieldDescriptorProto.Builder marks = FieldDescriptorProto.newBuilder().setName("marks").setNumber(3)
        .setType(FieldDescriptorProto.Type.TYPE_INT32).setLabel(FieldDescriptorProto.Label.LABEL_REPEATED);
    FieldDescriptorProto.Builder weights = FieldDescriptorProto.newBuilder().setName("weights").setNumber(4)
        .setType(FieldDescriptorProto.Type.TYPE_MESSAGE).setTypeName(".test.Greeting.WeightsEntry")
        .setLabel(FieldDescriptorProto.Label.LABEL_REPEATED);
    DescriptorProto.Builder weightsEntry = DescriptorProto.newBuilder().setName("WeightsEntry")
        .setOptions(com.google.protobuf.DescriptorProtos.MessageOptions.newBuilder().setMapEntry(true))
        .addField(FieldDescriptorProto.newBuilder().setName("key").setNumber(1)
            .setType(FieldDescriptorProto.Type.TYPE_INT64).setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL))
        .addField(FieldDescriptorProto.newBuilder().setName("value").setNumber(2)
            .setType(FieldDescriptorProto.Type.TYPE_INT64).setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL));
    FileDescriptorProto proto = FileDescriptorProto.newBuilder().setName("test.proto").setPackage("test")
        .setSyntax("proto3")
        .addMessageType(DescriptorProto.newBuilder().setName("Greeting").addField(text).addField(count)
            .addField(marks).addField(weights).addNestedType(weightsEntry))
        .addService(ServiceDescriptorProto.newBuilder().setName("Greeter").addMethod(MethodDescriptorProto
            .newBuilder().setName("Greet").setInputType(".test.Greeting").setOutputType(".test.Greeting")
            .setClientStreaming(true).setServerStreaming(true)))
        .build();
    try {
      FILE = Descriptors.FileDescriptor.buildFrom(proto, new Descriptors.FileDescriptor[0]);
    } catch (Descriptors.DescriptorValidationException e) {
      throw new AssertionError(e);
    }
  }

  private static final Descriptors.Descriptor GREETING = FILE.findMessageTypeByName("Greeting");

  private ScriptedHttp2Server server = new ScriptedHttp2Server();
  private final List<HttpHeaders> admitted = new ArrayList<>();
  private AuthDecision decision;
  private EmbeddedChannel channel;
  private JsonWebSocketTranslator translator;

  @AfterEach
  void releaseEverything() {
    if (channel == null) { // a test of the counting alone
      server.release();
      return;
    }
    BrowserFrames.release(BrowserFrames.outbound(channel));
    // As a disconnect does: the close starts at the socket's end (not through gRPC's graceful shutdown).
    if (channel.isOpen()) {
      channel.pipeline().firstContext().close();
    }
    channel.finishAndReleaseAll();
    server.release();
  }

  private void open(boolean known) {
    open(known ? JsonSchemas.ofFiles(FILE) : JsonSchemas.ofFiles());
  }

  /** Schemas whose lookup completes when the test says so. */
  private static JsonSchemas later(CompletableFuture<Descriptors.MethodDescriptor> lookup) {
    return new JsonSchemas() {
      @Override
      public Descriptors.MethodDescriptor method(String fullMethodName) {
        return null;
      }

      @Override
      public CompletableFuture<Descriptors.MethodDescriptor> lookup(String fullMethodName) {
        assertEquals("test.Greeter/Greet", fullMethodName);
        return lookup;
      }
    };
  }

  /** A call the upgrade admitted (or without an authenticator): its first message may be as large as any. */
  private void open(JsonSchemas schemas) {
    open(schemas, 1024, 1024);
  }

  private void open(JsonSchemas schemas, int maxMessageBytes, int maxFirstMessageBytes) {
    translator = new JsonWebSocketTranslator("/test.Greeter/Greet", "http", "example.test",
        new InetSocketAddress("127.0.0.1", 1234), schemas, maxMessageBytes, maxFirstMessageBytes, 5_000, headers -> {
          admitted.add(headers);
          return decision;
        });
    channel = new EmbeddedChannel(translator, server.handler);
  }

  private static TextWebSocketFrame text(String json) {
    return new TextWebSocketFrame(json);
  }

  private static ByteBuf greeting(String text, int count) {
    byte[] bytes = DynamicMessage.newBuilder(GREETING).setField(GREETING.findFieldByName("text"), text)
        .setField(GREETING.findFieldByName("count"), count).build().toByteArray();
    return Unpooled.buffer().writeByte(0).writeInt(bytes.length).writeBytes(bytes);
  }

  private static String greetingText(ByteBuf grpcBytes, int offset) throws Exception {
    int length = grpcBytes.getInt(offset + 1);
    byte[] bytes = new byte[length];
    grpcBytes.getBytes(offset + 5, bytes);
    DynamicMessage message = DynamicMessage.parseFrom(GREETING, bytes);
    return message.getField(GREETING.findFieldByName("text")) + "/"
        + message.getField(GREETING.findFieldByName("count"));
  }

  /** The text messages the client got, and that the exchange ended with Close 1000. */
  private List<String> texts() {
    List<Object> out = BrowserFrames.outbound(channel);
    List<String> texts = new ArrayList<>();
    try {
      for (Object msg : out) {
        if (msg instanceof TextWebSocketFrame) {
          texts.add(((TextWebSocketFrame) msg).text());
        } else {
          assertEquals(1000, ((CloseWebSocketFrame) msg).statusCode());
          texts.add("close");
        }
      }
    } finally {
      BrowserFrames.release(out);
    }
    return texts;
  }

  /** The connection closes {@link LingeringClose#LINGER_MILLIS} after the status. */
  private void lingerEnds() {
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
  }

  @Test
  void jsonMessagesBecomeProtobufAndTheAnswerComesBackAsJsonWithTheStatusLast() throws Exception {
    open(true);
    channel.writeInbound(text("{\"metadata\": {\"authorization\": \"Bearer t0ken\", \"x-tenant\": \"t1\"}}"));
    assertEquals("Bearer t0ken", admitted.get(0).get("authorization"));
    channel.writeInbound(text("{\"message\": {\"text\": \"one\", \"count\": 1}}"),
        text("{\"message\": {\"text\": \"two\"}}"), text("{\"halfClose\": true}"));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals("/test.Greeter/Greet", stream.headers.path().toString());
    assertEquals("application/grpc+proto", stream.headers.get("content-type").toString());
    assertEquals("t1", stream.headers.get("x-tenant").toString());
    assertTrue(stream.ended);
    assertEquals("one/1", greetingText(stream.data, 0));
    assertEquals("two/0", greetingText(stream.data, 5 + stream.data.getInt(1)));

    server.responseHeaders(channel, stream.id);
    ByteBuf answer = greeting("a", 2);
    // One message split across two DATA frames arrives as one JSON message.
    server.data(channel, stream.id, answer.readRetainedSlice(4), false);
    server.data(channel, stream.id, answer, false);
    server.headers(channel, stream.id, new DefaultHttp2Headers().set("grpc-status", "0")
        .set("x-trailer", "t"), true);
    assertEquals(List.of("{\"metadata\":{\"x-answer\":\"yes\"}}", "{\"message\":{\"text\":\"a\",\"count\":2}}",
        "{\"status\":{\"code\":0,\"message\":\"\",\"details\":[]},\"trailers\":{\"x-trailer\":\"t\"}}", "close"),
        texts());
    lingerEnds();
    assertFalse(channel.isOpen());
  }

  @Test
  void metadataOverGrpcsHeaderListLimitEndsTheCallResourceExhausted() {
    server.release();
    server = new ScriptedHttp2Server(io.netty.handler.codec.http2.Http2Settings.defaultSettings()
        .maxHeaderListSize(8192));
    open(JsonSchemas.ofFiles(FILE), 16384, 16384);
    channel.runPendingTasks();
    channel.writeInbound(text("{\"metadata\": {\"x-big\": \"" + "a".repeat(9000) + "\"}}"));
    channel.runPendingTasks();
    assertEquals(0, server.streams.size(), "gRPC never sees the call");
    List<String> texts = texts();
    assertEquals(2, texts.size(), texts.toString());
    assertTrue(texts.get(0).matches("\\{\"status\":\\{\"code\":8,\"message\":\"expected metadata of at most 8192 "
        + "bytes but it had 9\\d{3}\".*"), texts.get(0));
    assertEquals("close", texts.get(1));
    lingerEnds();
    assertFalse(channel.isOpen());
  }

  /** The Close the client got, after a text message with {@code bytes} split in two fragments after {@code split}. */
  private CloseWebSocketFrame closeAfterText(byte[] bytes, int split) {
    open(true);
    dev.wsgrpc.core.internal.ControlFrameHandler control = new dev.wsgrpc.core.internal.ControlFrameHandler("test",
        io.netty.handler.codec.http.websocketx.WebSocketCloseStatus.NORMAL_CLOSURE, false);
    control.passTextFrames(); // as the upgrade sets it up for wsgrpc-json
    channel.pipeline().addFirst(control);
    channel.writeInbound(text("{\"metadata\": {}}"));
    channel.runPendingTasks();
    channel.writeInbound(new TextWebSocketFrame(false, 0, Unpooled.copiedBuffer(bytes, 0, split)),
        new ContinuationWebSocketFrame(true, 0, Unpooled.copiedBuffer(bytes, split, bytes.length - split)));
    channel.runPendingTasks();
    List<Object> out = BrowserFrames.outbound(channel);
    try {
      assertEquals(1, out.size(), out.toString());
      return ((CloseWebSocketFrame) out.get(0)).retain();
    } finally {
      BrowserFrames.release(out);
    }
  }

  @Test
  void aTextMessageThatIsNotUtf8FailsTheConnectionWith1007AndCancelsTheCall() {
    byte[] json = "{\"message\": {\"text\": \"\u00ff\"}}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    // A lone continuation byte, and the first byte of a two-byte sequence cut in two across the fragments.
    byte[] bad = java.util.Arrays.copyOf(json, json.length);
    int at = new String(json, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf('\u00c3');
    bad[at] = (byte) 0x80;
    CloseWebSocketFrame close = closeAfterText(bad, at);
    try {
      assertEquals(1007, close.statusCode());
      assertEquals("expected a text message in UTF-8 but it was not valid UTF-8", close.reasonText());
    } finally {
      close.release();
    }
    assertEquals(Http2Error.CANCEL.code(), server.only().resetCode);
    assertEquals(0, server.only().data.readableBytes(), "nothing of it reached gRPC");
  }

  @Test
  void aCharacterSplitAcrossFragmentsIsStillUtf8() {
    byte[] json = "{\"message\": {\"text\": \"\u00ff\"}}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int at = new String(json, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf('\u00c3');
    open(true);
    channel.writeInbound(text("{\"metadata\": {}}"));
    channel.writeInbound(new TextWebSocketFrame(false, 0, Unpooled.copiedBuffer(json, 0, at + 1)),
        new ContinuationWebSocketFrame(true, 0, Unpooled.copiedBuffer(json, at + 1, json.length - at - 1)));
    channel.runPendingTasks();
    assertTrue(server.only().data.readableBytes() > 0, "the message reached gRPC");
    assertEquals(null, server.only().resetCode);
  }

  @Test
  void aFirstMessageWithoutMetadataIsAdmittedAndSent() throws Exception {
    open(true);
    channel.writeInbound(new TextWebSocketFrame(false, 0, "{\"message\": {\"te"),
        new ContinuationWebSocketFrame(true, 0, Unpooled.copiedBuffer("xt\": \"hi\"}}",
            java.nio.charset.StandardCharsets.UTF_8)));
    channel.runPendingTasks();
    assertEquals(1, admitted.size());
    assertEquals("hi/0", greetingText(server.only().data, 0));
  }

  @Test
  void trailersOnlyEndWithTheDecodedStatusMessage() {
    open(true);
    channel.writeInbound(text("{\"message\": {}}"));
    channel.runPendingTasks();
    server.headers(channel, server.only().id, new DefaultHttp2Headers().status("200")
        .set("content-type", "application/grpc").set("grpc-status", "5").set("grpc-message", "no%20such%20user%C3%BC+"),
        true);
    assertEquals(List.of("{\"status\":{\"code\":5,\"message\":\"no such userü+\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void jsonThatIsNotTheRequestTypeCancelsTheCallAndSaysWhatWasExpected() {
    open(true);
    channel.writeInbound(text("{\"message\": {\"text\": \"ok\"}}"), text("{\"message\": {\"colour\": \"red\"}}"));
    assertEquals(Http2Error.CANCEL.code(), server.only().resetCode);
    List<String> texts = texts();
    assertTrue(texts.get(0).startsWith("{\"status\":{\"code\":3,\"message\":\"expected a test.Greeting as JSON but "),
        texts.get(0));
    assertTrue(texts.get(0).contains("colour"), texts.get(0));
  }

  @Test
  void textThatIsNotAnEnvelopeIsRefused() {
    open(true);
    channel.writeInbound(text("[1, 2]"));
    assertEquals(List.of("{\"status\":{\"code\":3,\"message\":\"expected a JSON object with \\\"metadata\\\", "
        + "\\\"message\\\" or \\\"halfClose\\\" but it was an array\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void textThatIsNotJsonIsRefusedSayingWhereItStopped() {
    open(true);
    channel.writeInbound(text("{\"message\": {\"text\" \"hi\"}}"));
    assertEquals(List.of("{\"status\":{\"code\":3,\"message\":\"expected a JSON object with \\\"metadata\\\", "
        + "\\\"message\\\" or \\\"halfClose\\\" but the text was not JSON (at line 1 column 22)\",\"details\":[]}}",
        "close"), texts());
  }

  @Test
  void anEmptyTextIsRefusedAsOne() {
    open(true);
    channel.writeInbound(text(""));
    assertTrue(texts().get(0).contains("but it was empty or null"));
  }

  @Test
  void anObjectWithMetadataAndAMessageIsRefusedRatherThanLosingTheMessage() {
    open(true);
    channel.writeInbound(text("{\"metadata\": {\"x-tenant\": \"t1\"}, \"message\": {\"text\": \"lost\"}}"));
    assertEquals(List.of("{\"status\":{\"code\":3,\"message\":\"expected a JSON object with one of \\\"metadata\\\", "
        + "\\\"message\\\" or \\\"halfClose\\\" but it had [metadata, message]\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void aMethodWithoutAKnownSchemaEndsAsUnimplemented() {
    open(false);
    channel.writeInbound(text("{\"message\": {}}"));
    assertTrue(server.streams.isEmpty());
    assertEquals(List.of("{\"status\":{\"code\":12,\"message\":\"expected a method whose schema the server knows "
        + "but /test.Greeter/Greet is not one\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void aRefusedCallNeverReachesGrpc() {
    decision = AuthDecision.forbidden("expected a member of the room");
    open(true);
    channel.writeInbound(text("{\"metadata\": {}}"));
    assertTrue(server.streams.isEmpty());
    assertEquals(List.of("{\"status\":{\"code\":7,\"message\":\"expected a member of the room\",\"details\":[]}}",
        "close"), texts());
  }

  @Test
  void aCancelOnceTheCallsGrpcTimeoutHasElapsedIsItsDeadline() {
    open(true);
    channel.freezeTime();
    channel.writeInbound(text("{\"metadata\": {\"grpc-timeout\": \"500m\"}}"), text("{\"message\": {}}"));
    channel.runPendingTasks();
    channel.advanceTimeBy(503, java.util.concurrent.TimeUnit.MILLISECONDS);
    server.reset(channel, server.only().id, Http2Error.CANCEL);
    assertEquals(List.of("{\"status\":{\"code\":4,\"message\":\"deadline of 500 ms (grpc-timeout 500m) exceeded "
        + "after 503 ms\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void aCallGrpcResetsWhileReadingItsHeadersEndsWithTheResetsStatus() {
    // gRPC resets a stream whose headers it cannot accept before the bridge has handed the stream's id back.
    server.resetOnHeaders = Http2Error.PROTOCOL_ERROR;
    open(true);
    channel.writeInbound(text("{\"metadata\": {}}"), text("{\"message\": {}}"));
    channel.runPendingTasks();
    assertEquals(List.of("{\"status\":{\"code\":13,\"message\":\"the server reset the call: PROTOCOL_ERROR\","
        + "\"details\":[]}}", "close"), texts());
  }

  /**
   * Once the authenticator has been asked, the call lets go of what asks it, and with it of the upgrade's handler and
   * every header of the upgrade request (16 KB of empty header lines held 390 KB), for the rest of the call.
   */
  @Test
  void theCallLetsGoOfTheUpgradesHeadersOnceTheAuthenticatorWasAsked() {
    open(true);
    assertTrue(translator.admissionPending());
    channel.writeInbound(text("{\"metadata\": {\"x-tenant\": \"t1\"}}"));
    assertEquals(1, admitted.size());
    assertFalse(translator.admissionPending());
  }

  @Test
  void binaryMessagesAreRefused() {
    open(true);
    channel.writeInbound(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[] {1})));
    assertTrue(texts().get(0).contains("expected text messages holding JSON but a binary message arrived"));
  }

  @Test
  void oversizedTextIsRefusedWithTheLimitAndTheSizeThatArrived() {
    open(true);
    channel.writeInbound(text("{\"message\": {\"text\": \"" + "x".repeat(2000) + "\"}}"));
    assertEquals("{\"status\":{\"code\":8,\"message\":\"expected a message of at most 1024 bytes but it had 2025\","
        + "\"details\":[]}}", texts().get(0));
  }

  @Test
  void aMessageOfMoreJsonValuesThanOneForEverySixteenBytesOfTheLimitIsRefusedUnread() throws Exception {
    open(true); // a limit of 1024 bytes: at most 64 values
    // The envelope, the message, its array and 61 numbers: 64 values.
    channel.writeInbound(text("{\"message\": {\"marks\": [" + "0,".repeat(60) + "7]}}"));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    byte[] bytes = new byte[stream.data.getInt(1)];
    stream.data.getBytes(5, bytes);
    assertEquals(61, DynamicMessage.parseFrom(GREETING, bytes)
        .getRepeatedFieldCount(GREETING.findFieldByName("marks")));
    // One more, in 149 bytes: far under the limit, but read into a tree each value would take some 90 bytes.
    channel.writeInbound(text("{\"message\": {\"marks\": [" + "0,".repeat(61) + "7]}}"));
    assertEquals(List.of("{\"status\":{\"code\":8,\"message\":\"expected a JSON message of at most 64 values "
        + "(one for every 16 bytes of the 1024-byte message limit) but it had more\",\"details\":[]}}", "close"),
        texts());
    assertEquals(Http2Error.CANCEL.code(), stream.resetCode);
  }

  @Test
  void jsonValuesAreCountedAtEveryDepthButNamesAndWhatStringsHoldAreNot() {
    // The object, its array, 1, the string, the inner object, null and true.
    String json = "{\"a\": [1, \"[2, {3}]\", {\"b\": null}], \"c\": true}";
    assertFalse(JsonWebSocketTranslator.hasMoreValuesThan(json, 7));
    assertTrue(JsonWebSocketTranslator.hasMoreValuesThan(json, 6));
    // Text that is not JSON counts as far as it reads, and the parser's error names the place.
    assertFalse(JsonWebSocketTranslator.hasMoreValuesThan("[1, 2 3 4 5]", 3));
    assertTrue(JsonWebSocketTranslator.hasMoreValuesThan("[1, 2, 3, 4, 5]", 3));
  }

  @Test
  void aResponseIsWrittenInTheEnvelopeAsGsonWritesItsTree() throws Exception {
    for (String json : List.of("{}", "[]", "0", "\"\"", "null", "{\"a\":[],\"b\":{},\"c\":null}",
        "{\"text\": \"<a href='x'>=&\\u2028\\u0001\\\"\\\\ \u00e9\ud83d\ude00</a>\"}",
        "{\"n\": [1.5E10, -0, 0.000001, 12345678901234567890, \"NaN\", true, false]}",
        "{\"deep\": [[{\"x\": [[]]}], {\"y\": {\"z\": [1, {\"w\": \"v\"}]}}]}")) {
      com.google.gson.JsonObject tree = new com.google.gson.JsonObject();
      tree.add("message", com.google.gson.JsonParser.parseString(json));
      assertEquals(tree.toString(), JsonWebSocketTranslator.messageEnvelope(json), json);
    }
  }

  /**
   * A message in one-byte fragments is copied in as they come, in linear time: a composite of the fragments copied all
   * it held every 16 of them (this 64 KB message: some 130 MB allocated; 4 MiB: some 550 GB copied, minutes of an
   * event loop).
   */
  @Test
  void aMessageInOneByteFragmentsIsAssembledWithoutBeingCopiedOverAndOver() throws Exception {
    open(JsonSchemas.ofFiles(FILE), 1 << 17, 1 << 17);
    CountingAllocator counting = new CountingAllocator();
    channel.config().setAllocator(counting);
    byte[] json = ("{\"message\": {\"text\": \"" + "x".repeat(65_000) + "\"}}")
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    List<Object> fragments = new ArrayList<>();
    fragments.add(new TextWebSocketFrame(false, 0, Unpooled.wrappedBuffer(json, 0, 1)));
    for (int i = 1; i < json.length; i++) {
      fragments.add(new ContinuationWebSocketFrame(i == json.length - 1, 0, Unpooled.wrappedBuffer(json, i, 1)));
    }
    channel.writeInbound(fragments.toArray());
    channel.runPendingTasks();
    assertEquals("x".repeat(65_000) + "/0", greetingText(server.only().data, 0));
    assertTrue(counting.allocated < 4L * json.length,
        counting.allocated + " bytes allocated for a message of " + json.length);
  }

  @Test
  void anOversizedMessageStillInFragmentsIsRefusedWithTheSizeSoFar() {
    open(true);
    channel.writeInbound(new TextWebSocketFrame(false, 0, "{\"message\": {\"text\": \"" + "x".repeat(1000)),
        new ContinuationWebSocketFrame(false, 0, Unpooled.copiedBuffer("x".repeat(100),
            java.nio.charset.StandardCharsets.UTF_8)));
    assertEquals("{\"status\":{\"code\":8,\"message\":\"expected a message of at most 1024 bytes but it had at "
        + "least 1122\",\"details\":[]}}", texts().get(0));
  }

  @Test
  void aResponseWhoseJsonIsOverTheLimitEndsTheCallThoughItsProtobufFits() {
    open(true);
    channel.writeInbound(text("{\"message\": {\"text\": \"hi\"}}"));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    server.responseHeaders(channel, stream.id);
    // 300 bytes of protobuf text, each control character six of JSON (a backslash-u escape).
    server.data(channel, stream.id, greeting("\u0001".repeat(300), 0), false);
    assertEquals(Http2Error.CANCEL.code(), stream.resetCode);
    assertEquals(List.of("{\"metadata\":{\"x-answer\":\"yes\"}}", "{\"status\":{\"code\":8,\"message\":"
        + "\"expected a response message of at most 1024 bytes but its JSON had 1823 (303 bytes of protobuf)\","
        + "\"details\":[]}}", "close"), texts());
  }

  /** The printer writes '=' as a six-character escape, the envelope as '=': what is sent is held to the limit. */
  @Test
  void aResponseThatPrintsLongerThanTheLimitButIsSentWithinItIsSent() {
    open(true);
    channel.writeInbound(text("{\"message\": {\"text\": \"hi\"}}"));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    server.responseHeaders(channel, stream.id);
    server.data(channel, stream.id, greeting("=".repeat(900), 0), false); // printed: 5,400 characters
    assertNull(stream.resetCode);
    List<String> texts = texts();
    assertEquals(2, texts.size(), texts.toString());
    assertTrue(texts.get(1).contains("=".repeat(900)), texts.get(1));
  }

  /**
   * A response's JSON is printed up to the limit, no further: the JSON of a message can be many times its protobuf,
   * and it was all printed before its size was checked.
   */
  @Test
  void printingStopsOnceTheJsonIsLongerThanTheLimit() throws Exception {
    com.google.protobuf.ListValue.Builder list = com.google.protobuf.ListValue.newBuilder();
    for (int i = 0; i < 100_000; i++) {
      list.addValues(com.google.protobuf.Value.newBuilder().setBoolValue(true));
    }
    com.google.protobuf.util.JsonFormat.Printer printer = com.google.protobuf.util.JsonFormat.printer()
        .omittingInsignificantWhitespace();
    assertNull(JsonWebSocketTranslator.printAtMost(printer, list.build(), 1024));
    com.google.protobuf.ListValue two = com.google.protobuf.ListValue.newBuilder()
        .addValues(com.google.protobuf.Value.newBuilder().setBoolValue(true))
        .addValues(com.google.protobuf.Value.newBuilder().setStringValue("x")).build();
    assertEquals("[true,\"x\"]", JsonWebSocketTranslator.printAtMost(printer, two, 10));
    assertNull(JsonWebSocketTranslator.printAtMost(printer, two, 9));
  }

  @Test
  void aFirstMessageBeforeAdmissionIsHeldToItsOwnLimitAndWhatArrivedIsLetGoAtOnce() {
    decision = AuthDecision.unauthorized("expected a bearer token");
    open(JsonSchemas.ofFiles(FILE), 4096, 256);
    ByteBuf first = Unpooled.copiedBuffer("{\"message\": {\"text\": \"" + "x".repeat(200),
        java.nio.charset.StandardCharsets.UTF_8);
    ByteBuf second = Unpooled.copiedBuffer("x".repeat(100), java.nio.charset.StandardCharsets.UTF_8);
    channel.writeInbound(new TextWebSocketFrame(false, 0, first), new ContinuationWebSocketFrame(false, 0, second));
    // Refused at the fragment that crossed the limit, and nothing of the message stays held while the close lingers.
    assertEquals(0, first.refCnt());
    assertEquals(0, second.refCnt());
    ByteBuf more = Unpooled.copiedBuffer("x".repeat(1000), java.nio.charset.StandardCharsets.UTF_8);
    channel.writeInbound(new ContinuationWebSocketFrame(false, 0, more));
    assertEquals(0, more.refCnt());
    assertTrue(admitted.isEmpty(), "never admitted");
    assertTrue(server.streams.isEmpty());
    assertEquals(List.of("{\"status\":{\"code\":8,\"message\":\"expected a first message of at most 256 bytes "
        + "before the call is admitted (credentials at the upgrade admit larger ones) but it had at least 322\","
        + "\"details\":[]}}", "close"), texts());
    lingerEnds();
    assertFalse(channel.isOpen());
  }

  @Test
  void aWholeFirstMessageOverItsLimitIsRefusedWithItsSize() {
    open(JsonSchemas.ofFiles(FILE), 4096, 256);
    channel.writeInbound(text("{\"metadata\": {\"x-big\": \"" + "x".repeat(300) + "\"}}"));
    assertTrue(admitted.isEmpty());
    assertEquals("{\"status\":{\"code\":8,\"message\":\"expected a first message of at most 256 bytes before the "
        + "call is admitted (credentials at the upgrade admit larger ones) but it had 327\",\"details\":[]}}",
        texts().get(0));
  }

  @Test
  void aRequestWhoseProtobufIsOverTheLimitEndsTheCallThoughItsJsonFits() {
    open(JsonSchemas.ofFiles(FILE), 5000, 5000); // at most 312 JSON values
    channel.writeInbound(text("{\"message\": {\"text\": \"hi\"}}"));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    int before = stream.data.readableBytes();
    // 300 weights of -1 under keys -1 to -300: about 10 characters of JSON and one JSON value each (a key is a
    // name), 24 bytes of protobuf (a map entry of two negative int64s, each a 10-byte varint).
    StringBuilder weights = new StringBuilder();
    for (int key = -1; key >= -300; key--) {
      weights.append(key == -1 ? "" : ",").append('"').append(key).append("\":-1");
    }
    channel.writeInbound(text("{\"message\": {\"weights\": {" + weights + "}}}"));
    channel.runPendingTasks();
    assertEquals(before, stream.data.readableBytes(), "gRPC got nothing of it");
    assertEquals(Http2Error.CANCEL.code(), stream.resetCode);
    assertEquals(List.of("{\"status\":{\"code\":8,\"message\":\"expected a request message of at most 5000 bytes "
        + "but its protobuf had 7200\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void onceAdmittedACallSendsMessagesUpToTheFullLimit() throws Exception {
    open(JsonSchemas.ofFiles(FILE), 4096, 256);
    channel.writeInbound(text("{\"metadata\": {\"authorization\": \"Bearer t0ken\"}}"));
    assertEquals(1, admitted.size());
    String big = "x".repeat(3000);
    channel.writeInbound(new TextWebSocketFrame(false, 0, "{\"message\": {\"text\": \"" + big.substring(0, 1000)),
        new ContinuationWebSocketFrame(true, 0, Unpooled.copiedBuffer(big.substring(1000) + "\", \"count\": 3}}",
            java.nio.charset.StandardCharsets.UTF_8)));
    channel.runPendingTasks();
    assertEquals(big + "/3", greetingText(server.only().data, 0));
    // The full limit still holds after admission.
    channel.writeInbound(text("{\"message\": {\"text\": \"" + "x".repeat(5000) + "\"}}"));
    assertTrue(texts().get(0).contains("expected a message of at most 4096 bytes but it had 5025"));
  }

  @Test
  void metadataAfterTheFirstMessageAndMessagesAfterTheHalfCloseAreRefused() {
    open(true);
    channel.writeInbound(text("{\"message\": {}}"), text("{\"halfClose\": true}"), text("{\"message\": {}}"));
    assertTrue(texts().get(0).contains("expected nothing after the half-close but a message arrived"));
  }

  @Test
  void closingTheSocketMidMessageReleasesEverything() {
    open(true);
    channel.writeInbound(text("{\"message\": {}}"), new TextWebSocketFrame(false, 0, "{\"mess"));
    channel.runPendingTasks();
    server.responseHeaders(channel, server.only().id);
    ByteBuf partial = greeting("partial", 1);
    server.data(channel, server.only().id, partial.readRetainedSlice(3), false);
    partial.release();
    channel.pipeline().firstContext().close();
    lingerEnds();
    assertFalse(channel.isOpen());
  }

  @Test
  void aSchemaThatArrivesLaterOpensTheCallWithWhatArrivedMeanwhile() throws Exception {
    CompletableFuture<Descriptors.MethodDescriptor> lookup = new CompletableFuture<>();
    open(later(lookup));
    channel.writeInbound(text("{\"metadata\": {\"x-tenant\": \"t1\"}}"), text("{\"message\": {\"text\": \"one\"}}"),
        text("{\"halfClose\": true}"));
    assertEquals(1, admitted.size());
    assertTrue(server.streams.isEmpty());
    assertFalse(channel.config().isAutoRead(), "the socket is not read while the schema is looked up");
    lookup.complete(FILE.findServiceByName("Greeter").findMethodByName("Greet"));
    channel.runPendingTasks();
    ScriptedHttp2Server.Stream stream = server.only();
    assertEquals("t1", stream.headers.get("x-tenant").toString());
    assertEquals("one/0", greetingText(stream.data, 0));
    assertTrue(stream.ended);
    assertTrue(channel.config().isAutoRead());
  }

  @Test
  void aRefusedCallIsNotLookedUp() {
    decision = AuthDecision.unauthorized("expected a bearer token");
    CompletableFuture<Descriptors.MethodDescriptor> lookup = new CompletableFuture<>();
    open(new JsonSchemas() {
      @Override
      public Descriptors.MethodDescriptor method(String fullMethodName) {
        throw new AssertionError("looked up before admission");
      }

      @Override
      public CompletableFuture<Descriptors.MethodDescriptor> lookup(String fullMethodName) {
        throw new AssertionError("looked up before admission");
      }
    });
    channel.writeInbound(text("{\"message\": {}}"));
    assertEquals(List.of("{\"status\":{\"code\":16,\"message\":\"expected a bearer token\",\"details\":[]}}",
        "close"), texts());
  }

  @Test
  void aFailedLookupEndsTheCallWithItsStatus() {
    open(later(CompletableFuture.failedFuture(io.grpc.Status.FAILED_PRECONDITION
        .withDescription("expected the upstream to serve gRPC server reflection").asException())));
    channel.writeInbound(text("{\"message\": {}}"));
    assertTrue(server.streams.isEmpty());
    assertEquals(List.of("{\"status\":{\"code\":9,\"message\":\"expected the upstream to serve gRPC server "
        + "reflection\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void aLookupThatNeverEndsEndsTheCallAsUnavailable() {
    open(later(new CompletableFuture<>()));
    channel.writeInbound(text("{\"message\": {}}"));
    channel.advanceTimeBy(5_000, java.util.concurrent.TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertEquals(List.of("{\"status\":{\"code\":14,\"message\":\"expected the schema of test.Greeter/Greet "
        + "within 5000 ms\",\"details\":[]}}", "close"), texts());
  }

  @Test
  void messagesWaitingForTheSchemaAreBounded() {
    open(later(new CompletableFuture<>()));
    channel.writeInbound(text("{\"message\": {}}"), text("{\"message\": {\"text\": \"" + "x".repeat(600) + "\"}}"),
        text("{\"message\": {\"text\": \"" + "x".repeat(600) + "\"}}"));
    assertTrue(texts().get(0).startsWith("{\"status\":{\"code\":8,\"message\":\"expected at most 1024 bytes of "
        + "messages while the method's schema is looked up"));
  }

  @Test
  void richErrorDetailsBecomeJsonOfTheirTypesOrStayBase64() {
    open(true);
    channel.writeInbound(text("{\"message\": {}}"));
    channel.runPendingTasks();
    com.google.rpc.Status rich = com.google.rpc.Status.newBuilder().setCode(3).setMessage("bad")
        .addDetails(com.google.protobuf.Any.pack(com.google.rpc.BadRequest.newBuilder()
            .addFieldViolations(com.google.rpc.BadRequest.FieldViolation.newBuilder().setField("text")
                .setDescription("empty"))
            .build()))
        .addDetails(com.google.protobuf.Any.newBuilder().setTypeUrl("type.googleapis.com/test.Greeting")
            .setValue(DynamicMessage.newBuilder(GREETING).setField(GREETING.findFieldByName("count"), 7).build()
                .toByteString()))
        .addDetails(com.google.protobuf.Any.newBuilder().setTypeUrl("type.googleapis.com/acme.Unknown")
            .setValue(com.google.protobuf.ByteString.copyFrom(new byte[] {1, 2})))
        .build();
    String bin = Base64.getEncoder().withoutPadding().encodeToString(rich.toByteArray());
    server.headers(channel, server.only().id, new DefaultHttp2Headers().status("200")
        .set("content-type", "application/grpc").set("grpc-status", "3").set("grpc-message", "bad")
        .set("grpc-status-details-bin", bin), true);
    assertEquals(List.of("{\"status\":{\"code\":3,\"message\":\"bad\",\"details\":["
        + "{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\",\"fieldViolations\":[{\"field\":\"text\","
        + "\"description\":\"empty\"}]},"
        + "{\"@type\":\"type.googleapis.com/test.Greeting\",\"count\":7},"
        + "{\"@type\":\"type.googleapis.com/acme.Unknown\",\"value\":\"AQI=\"}]},"
        + "\"trailers\":{\"grpc-status-details-bin\":\"" + bin + "\"}}", "close"), texts());
  }

  @Test
  void detailsThatAreNotAStatusLeaveTheListEmpty() {
    open(true);
    channel.writeInbound(text("{\"message\": {}}"));
    channel.runPendingTasks();
    server.headers(channel, server.only().id, new DefaultHttp2Headers().status("200")
        .set("content-type", "application/grpc").set("grpc-status", "13")
        .set("grpc-status-details-bin", "!!not base64"), true);
    assertEquals(List.of("{\"status\":{\"code\":13,\"message\":\"\",\"details\":[]},"
        + "\"trailers\":{\"grpc-status-details-bin\":\"!!not base64\"}}", "close"), texts());
  }

  @Test
  void anyFieldsOfTheMethodsOwnTypesTravelAsJsonBothWays() throws Exception {
    FileDescriptorProto wrap = FileDescriptorProto.newBuilder().setName("wrap.proto").setPackage("test")
        .setSyntax("proto3").addDependency("google/protobuf/any.proto").addDependency("test.proto")
        .addMessageType(DescriptorProto.newBuilder().setName("Envelope").addField(FieldDescriptorProto.newBuilder()
            .setName("item").setNumber(1).setType(FieldDescriptorProto.Type.TYPE_MESSAGE)
            .setTypeName(".google.protobuf.Any").setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL)))
        .addService(ServiceDescriptorProto.newBuilder().setName("Wrapper").addMethod(MethodDescriptorProto
            .newBuilder().setName("Wrap").setInputType(".test.Envelope").setOutputType(".test.Envelope")))
        .build();
    Descriptors.FileDescriptor file = Descriptors.FileDescriptor.buildFrom(wrap,
        new Descriptors.FileDescriptor[] {com.google.protobuf.AnyProto.getDescriptor(), FILE});
    Descriptors.Descriptor envelope = file.findMessageTypeByName("Envelope");
    open(later(CompletableFuture.completedFuture(file.findServiceByName("Wrapper").findMethodByName("Wrap"))));
    channel.writeInbound(text("{\"message\": {\"item\": {\"@type\": \"type.googleapis.com/test.Greeting\", "
        + "\"text\": \"hi\"}}}"));
    channel.runPendingTasks();
    ByteBuf sent = server.only().data;
    byte[] bytes = new byte[sent.getInt(1)];
    sent.getBytes(5, bytes);
    DynamicMessage request = DynamicMessage.parseFrom(envelope, bytes);
    assertTrue(request.toString().contains("type.googleapis.com/test.Greeting"), request.toString());
    server.responseHeaders(channel, server.only().id);
    server.data(channel, server.only().id, Unpooled.buffer().writeByte(0).writeInt(bytes.length).writeBytes(bytes),
        false);
    List<String> texts = texts();
    assertEquals("{\"message\":{\"item\":{\"@type\":\"type.googleapis.com/test.Greeting\",\"text\":\"hi\"}}}",
        texts.get(1), texts.toString());
  }
}
