package dev.wsgrpc.server;

import static dev.wsgrpc.server.ScriptedHttp2Server.grpcMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Http2ClientBridge} against Netty's real HTTP/2 server handler on an {@link EmbeddedChannel}. */
class Http2ClientBridgeTest {

  /** Records what the bridge reports; holds the data it receives until the test consumes it. */
  private static final class Recorder extends BridgedCallTranslator {
    final List<String> events = new ArrayList<>();
    final List<ByteBuf> data = new ArrayList<>();
    int dataBytes;
    Http2Headers lastHeaders;
    /** What the bridge is made with: how it says a refused request message's size. */
    Http2ClientBridge.RequestSize requestSize = Http2ClientBridge.RequestSize.LENGTH_PREFIX;

    @Override
    Http2ClientBridge.RequestSize requestSize() {
      return requestSize;
    }

    @Override
    public void onHeaders(int id, Http2Headers headers, boolean endStream) {
      events.add("headers " + id + (endStream ? " end" : ""));
      lastHeaders = headers;
    }

    @Override
    public void onData(int id, ByteBuf bytes, boolean endStream) {
      dataBytes += bytes.readableBytes();
      data.add(bytes);
    }

    @Override
    public void onReset(int id, Http2Error error) {
      events.add("reset " + id + " " + error);
    }

    @Override
    public void onWritable(int id) {
      events.add("writable " + id);
      super.onWritable(id);
    }

    @Override
    public void onGoAway() {
      events.add("goaway");
    }

    @Override
    public void onClosed() {
      events.add("closed");
    }
  }

  private final Recorder recorder = new Recorder();
  private ScriptedHttp2Server server = new ScriptedHttp2Server();
  private EmbeddedChannel channel;

  @AfterEach
  void releaseEverything() {
    recorder.data.forEach(ByteBuf::release);
    if (channel.isOpen()) {
      recorder.bridge.close();
    }
    channel.finishAndReleaseAll();
    server.release();
  }

  private static Http2Headers request() {
    return new DefaultHttp2Headers().method("POST").scheme("http").path("/pkg.Svc/M").authority("a")
        .set("content-type", "application/grpc");
  }

  private int openStream() throws Exception {
    channel = new EmbeddedChannel(recorder, server.handler);
    recorder.bridge.start();
    int id = recorder.bridge.openStream(request(), false);
    recorder.streamId = id;
    channel.runPendingTasks();
    return id;
  }

  @Test
  void nothingReachesGrpcBeforeStart() throws Exception {
    channel = new EmbeddedChannel(recorder, server.handler);
    int id = recorder.bridge.openStream(request(), false);
    channel.runPendingTasks();
    assertTrue(server.streams.isEmpty(), "gRPC sees nothing before start()");
    recorder.bridge.start();
    channel.runPendingTasks();
    assertEquals(id, server.only().id);
    assertEquals("/pkg.Svc/M", server.only().headers.path().toString());
  }

  @Test
  void grpcRunsAtMostOneWindowAheadOfWhatWasWrittenOn() throws Exception {
    int id = openStream();
    server.responseHeaders(channel, id);
    int total = 200 * 1024;
    server.data(channel, id, Unpooled.wrappedBuffer(new byte[total]), false);
    int window = recorder.dataBytes;
    assertTrue(window > 0 && window < total, "only a window's worth arrives unconsumed: " + window);
    while (recorder.dataBytes < total) {
      int before = recorder.dataBytes;
      recorder.bridge.consumed(id, before - consumedSoFar);
      consumedSoFar = before;
      channel.runPendingTasks();
      assertTrue(recorder.dataBytes > before, "consuming lets more through");
    }
    assertEquals(total, recorder.dataBytes);
  }

  private int consumedSoFar;

  @Test
  void dataBeyondGrpcsWindowWaitsAndWritabilityIsReported() throws Exception {
    server = new ScriptedHttp2Server(Http2Settings.defaultSettings().initialWindowSize(32));
    server.autoConsume = false;
    int id = openStream();
    recorder.bridge.data(id, grpcMessage("y".repeat(95)), false);
    channel.runPendingTasks();
    assertFalse(recorder.bridge.isWritable(id));
    assertEquals(32, server.only().data.readableBytes());
    int consumed = 0;
    while (server.only().data.readableBytes() < 100) {
      int had = server.only().data.readableBytes();
      server.consume(channel, id, had - consumed);
      consumed = had;
      assertTrue(server.only().data.readableBytes() > had, "the window update lets more through");
    }
    assertTrue(recorder.bridge.isWritable(id));
    assertTrue(recorder.events.contains("writable " + id), recorder.events.toString());
  }

  @Test
  void cancelResetsTheStreamTowardGrpc() throws Exception {
    int id = openStream();
    recorder.bridge.cancel(id);
    channel.runPendingTasks();
    assertEquals(Http2Error.CANCEL.code(), server.only().resetCode);
  }

  @Test
  void resetsTrailersAndGoAwayFromGrpcAreReported() throws Exception {
    int id = openStream();
    server.trailers(channel, id, 5, "gone");
    int second = recorder.bridge.openStream(request(), false);
    channel.runPendingTasks();
    server.reset(channel, second, Http2Error.REFUSED_STREAM);
    server.handler.goAway(channel.pipeline().context(server.handler), second, Http2Error.NO_ERROR.code(),
        Unpooled.EMPTY_BUFFER, channel.newPromise());
    server.handler.flush(channel.pipeline().context(server.handler));
    channel.runPendingTasks();
    recorder.events.removeIf(event -> event.startsWith("writable"));
    assertEquals(List.of("headers " + id + " end", "reset " + second + " REFUSED_STREAM", "goaway"),
        recorder.events);
  }

  @Test
  void grpcsRefusalOfARequestMessageOverItsLimitIsPutInOurWords() throws Exception {
    int id = openStream();
    server.headers(channel, id, new DefaultHttp2Headers().status("200").set("content-type", "application/grpc")
        .set("grpc-status", "8").set("grpc-message", "gRPC message exceeds maximum size 4194304: 5242880"), true);
    channel.runPendingTasks();
    assertTrue(recorder.events.contains("headers " + id + " end"), recorder.events.toString());
    assertEquals("expected a request message of at most 4194304 bytes but its length prefix said 5242880",
        recorder.lastHeaders.get("grpc-message").toString());
    // Other texts, or that text with another status, pass unchanged.
    for (String[] other : new String[][] {{"8", "Decompressed gRPC message exceeds maximum size 4194304"},
        {"13", "gRPC message exceeds maximum size 4194304: 5242880"}}) {
      Http2Headers trailers = new DefaultHttp2Headers().set("grpc-status", other[0]).set("grpc-message", other[1]);
      assertEquals(other[1], Http2ClientBridge.inOurWords(trailers, Http2ClientBridge.RequestSize.LENGTH_PREFIX)
          .get("grpc-message").toString());
    }
    Http2Headers withoutMessage = new DefaultHttp2Headers().set("grpc-status", "8");
    assertFalse(Http2ClientBridge.inOurWords(withoutMessage, Http2ClientBridge.RequestSize.LENGTH_PREFIX)
        .contains("grpc-message"));
  }

  @Test
  void grpcsRefusalOfAMessageTheTranslatorFramedSaysWhatItsProtobufHad() throws Exception {
    // wsgrpc-json: the client sent JSON and no length prefix; the translator wrote the prefix for its protobuf.
    recorder.requestSize = Http2ClientBridge.RequestSize.PROTOBUF;
    int id = openStream();
    server.headers(channel, id, new DefaultHttp2Headers().status("200").set("content-type", "application/grpc")
        .set("grpc-status", "8").set("grpc-message", "gRPC message exceeds maximum size 4194304: 5242880"), true);
    channel.runPendingTasks();
    assertEquals("expected a request message of at most 4194304 bytes but its protobuf had 5242880",
        recorder.lastHeaders.get("grpc-message").toString());
  }

  @Test
  void dataWaitingBeyondGrpcsWindowIsReleasedByClose() throws Exception {
    // gRPC stopped reading (its window stays shut: a message too large, a failed call) while the browser kept sending.
    server = new ScriptedHttp2Server(Http2Settings.defaultSettings().initialWindowSize(32));
    server.autoConsume = false;
    int id = openStream();
    ByteBuf waiting = grpcMessage("z".repeat(200));
    recorder.bridge.data(id, waiting, false);
    channel.runPendingTasks();
    assertFalse(recorder.bridge.isWritable(id));
    assertTrue(waiting.refCnt() > 0, "the rest waits in the flow controller");
    recorder.bridge.close();
    server.release(); // what gRPC received of it (32 bytes)
    server = new ScriptedHttp2Server();
    assertEquals(0, waiting.refCnt(), "close() ends the open streams, so the flow controller lets go of their data");
  }

  @Test
  void afterCloseEverythingHandedToTheBridgeIsReleased() throws Exception {
    int id = openStream();
    recorder.bridge.close();
    ByteBuf fromGrpc = Unpooled.buffer().writeZero(9);
    recorder.bridge.fromServer(fromGrpc);
    assertEquals(0, fromGrpc.refCnt());
    ByteBuf toGrpc = grpcMessage("late");
    recorder.bridge.data(id, toGrpc, true);
    assertEquals(0, toGrpc.refCnt());
    recorder.bridge.cancel(id);
    recorder.bridge.consumed(id, 10);
    channel.runPendingTasks();
    assertTrue(recorder.bridge.isWritable(id), "a closed bridge never holds the reader back");
  }
}
