package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.ControlFrameHandler;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.testing.Http2Wire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The relay on {@link EmbeddedChannel}s: one for the client's side (after the upgrade: HTTP/2 bytes in and out, a
 * Close frame when the relay ends a tunnel) and one for the upstream connection, handed out by a connector.
 */
class UpstreamRelayHandlerTest {

  private final Upstreams upstreams = upstreams();
  private final TunnelTracker tracker = new TunnelTracker(new PrometheusRegistry(), true);
  private final PendingBudget budget = new PendingBudget(RelaySettings.DEFAULT_MAX_PENDING_BYTES);
  private EmbeddedChannel upstream;
  private EmbeddedChannel client;
  private UpstreamRelayHandler relay;
  /** Between the relay and each connection's outbound buffer: open unless a test holds it. */
  private final FlushGate upstreamGate = new FlushGate();
  private final FlushGate clientGate = new FlushGate();

  private static Upstreams upstreams() {
    try {
      return new Upstreams(List.of(new Upstreams.Target("127.0.0.1", 1)));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @AfterEach
  void finish() {
    if (client != null) {
      client.finishAndReleaseAll();
    }
    if (upstream != null) {
      upstream.finishAndReleaseAll();
    }
    for (EmbeddedChannel attempt : attempts.values()) {
      attempt.finishAndReleaseAll();
    }
    if (twoAddresses != null) {
      twoAddresses.close();
    }
    upstreams.close();
  }

  /** A tunnel whose upstream connection is up and has sent its SETTINGS, the client its preface and SETTINGS. */
  private void openTunnel(RelaySettings settings) {
    upgrade(settings, connectAtOnce());
    clientSends(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings()));
    upstreamSends(Http2Wire.settings(Http2Wire.SETTINGS_MAX_CONCURRENT_STREAMS, 100));
    assertEquals(1, upstreamReceived().stream().filter(f -> f.type == Http2Wire.SETTINGS).count());
    assertEquals(Http2Wire.SETTINGS, clientReceived().get(0).type);
  }

  /** The relay on a client that has just upgraded; {@code connector} makes its upstream connection. */
  private void upgrade(RelaySettings settings, UpstreamConnector connector) {
    relay = new UpstreamRelayHandler(upstreams, connector, tracker, settings, budget);
    client = new EmbeddedChannel();
    client.freezeTime(); // timers run on the client's event loop, driven by advance()
    client.pipeline().addLast(clientGate, relay);
    client.pipeline().fireUserEventTriggered(new TunnelEstablishedEvent("/grpc", null,
        new InetSocketAddress("127.0.0.1", 5000), null));
  }

  /** A connector whose upstream connection is up once the test completes {@code connecting[0]}. */
  private UpstreamConnector connectWhenTold(ChannelPromise[] connecting) {
    return (target, clientChannel, handler) -> {
      upstream = new EmbeddedChannel(upstreamGate, handler);
      connecting[0] = upstream.newPromise();
      return connecting[0];
    };
  }

  /** A connector whose upstream connection is up at once. */
  private UpstreamConnector connectAtOnce() {
    return (target, clientChannel, handler) -> {
      upstream = new EmbeddedChannel(upstreamGate, handler);
      return upstream.newSucceededFuture();
    };
  }

  private static final RelaySettings FIVE_SECOND_HANDSHAKE = RelaySettings.newBuilder()
      .handshakeTimeout(TunnelSettings.newBuilder().handshakeTimeout(java.time.Duration.ofSeconds(5)).build()).build();
  /** The close reason of a tunnel that sent no preface and SETTINGS within {@link #FIVE_SECOND_HANDSHAKE}. */
  private static final String NO_PREFACE_IN_FIVE_SECONDS = "expected the HTTP/2 preface and SETTINGS within 5000 ms of "
      + "the connection to the upstream but they did not arrive";

  @Test
  void aTunnelThatSendsNoPrefaceIsClosedWith1001AtTheHandshakeTimeoutAndItsUpstreamConnectionClosed() {
    upgrade(FIVE_SECOND_HANDSHAKE, connectAtOnce());
    clientSends(java.util.Arrays.copyOf(Http2Wire.PREFACE, 10)); // part of a preface is not enough
    advance(4_999);
    assertTrue(client.isOpen());
    assertTrue(upstream.isOpen());
    advance(1);
    clientReceived();
    assertEquals(1001, toClient.close.statusCode());
    assertEquals(NO_PREFACE_IN_FIVE_SECONDS, toClient.close.reasonText());
    assertTrue(toClient.close.release());
    assertFalse(client.isOpen());
    assertFalse(upstream.isOpen(), "its upstream connection is closed");
  }

  @Test
  void aTunnelsPrefaceDeadlineRunsFromItsUpstreamConnectionAsItsCloseReasonSays() {
    ChannelPromise[] connecting = new ChannelPromise[1];
    upgrade(FIVE_SECOND_HANDSHAKE, connectWhenTold(connecting));
    advance(3_000); // the upstream connection takes 3 s of the 5
    connecting[0].setSuccess();
    client.runPendingTasks();
    advance(4_999);
    clientReceived();
    assertNull(toClient.close, "8 s after the upgrade, under 5 s after the upstream connection");
    advance(1);
    clientReceived();
    assertEquals(1001, toClient.close.statusCode());
    assertEquals(NO_PREFACE_IN_FIVE_SECONDS, toClient.close.reasonText());
    assertTrue(toClient.close.release());
  }

  @Test
  void aTunnelWhosePrefaceAndSettingsCameInTimeOutlivesTheHandshakeTimeout() {
    openTunnel(FIVE_SECOND_HANDSHAKE);
    advance(60_000);
    clientReceived();
    assertNull(toClient.close);
    assertTrue(client.isOpen());
    assertTrue(upstream.isOpen());
  }

  private void advance(long millis) {
    client.advanceTimeBy(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    client.runScheduledPendingTasks();
    client.runPendingTasks();
  }

  private void clientSends(byte[] bytes) {
    client.writeInbound(Unpooled.wrappedBuffer(bytes));
    client.runPendingTasks();
  }

  private void upstreamSends(byte[] bytes) {
    upstream.writeInbound(Unpooled.wrappedBuffer(bytes));
    client.runPendingTasks();
  }

  /** Every HTTP/2 frame written to the upstream so far (after the client's preface). */
  private final ByteArrayBuffer toUpstream = new ByteArrayBuffer(Http2Wire.PREFACE.length);
  private final ByteArrayBuffer toClient = new ByteArrayBuffer(0);

  private List<Http2Wire.Frame> upstreamReceived() {
    return toUpstream.framesFrom(upstream);
  }

  private List<Http2Wire.Frame> clientReceived() {
    return toClient.framesFrom(client);
  }

  /** Collects a channel's outbound bytes and splits them into frames; a Close frame ends the collection. */
  private static final class ByteArrayBuffer {
    private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    private int skip;
    private int read;
    CloseWebSocketFrame close;

    ByteArrayBuffer(int skip) {
      this.skip = skip;
    }

    List<Http2Wire.Frame> framesFrom(EmbeddedChannel ch) {
      Object msg;
      while ((msg = ch.readOutbound()) != null) {
        if (msg instanceof CloseWebSocketFrame) {
          assertNull(close, "one Close");
          close = (CloseWebSocketFrame) msg;
          continue;
        }
        ByteBuf b = (ByteBuf) msg;
        byte[] a = new byte[b.readableBytes()];
        b.readBytes(a);
        b.release();
        bytes.write(a, 0, a.length);
      }
      byte[] all = bytes.toByteArray();
      List<Http2Wire.Frame> frames = new ArrayList<>();
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(all, skip + read, all.length - skip - read));
      try {
        while (in.available() > 0) {
          Http2Wire.Frame f = Http2Wire.read(in);
          frames.add(f);
          read += 9 + f.payload.length;
        }
      } catch (IOException e) {
        throw new AssertionError("a partial frame: " + e);
      }
      return frames;
    }
  }

  private static byte[] requestAndReset(int stream) {
    return Http2Wire.concat(
        Http2Wire.headers(stream, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "localhost")),
        Http2Wire.rstStream(stream, Http2Wire.CANCEL));
  }

  @Test
  void rapidResetEndsTheTunnelWithEnhanceYourCalmBeforeTheUpstreamSeesTheFlood() {
    openTunnel(RelaySettings.DEFAULT);
    int resetsRelayed = 0;
    for (int i = 0; i < 300 && client.isOpen(); i++) {
      clientSends(requestAndReset(2 * i + 1));
    }
    for (Http2Wire.Frame f : upstreamReceived()) {
      if (f.type == Http2Wire.RST_STREAM) {
        resetsRelayed++;
      }
    }
    assertEquals(200, resetsRelayed, "the upstream gets the resets the limit allows, and not one more");
    assertFalse(upstream.isOpen(), "the upstream connection is closed");
    List<Http2Wire.Frame> answer = clientReceived();
    Http2Wire.Frame goAway = answer.get(answer.size() - 1);
    assertEquals(Http2Wire.GOAWAY, goAway.type);
    assertEquals(Http2Wire.ENHANCE_YOUR_CALM, goAway.goAwayErrorCode());
    assertEquals("too_many_rst_streams", goAway.goAwayDebugData());
    assertEquals(1008, toClient.close.statusCode());
    assertEquals("more than 200 RST_STREAM frames in 10 s", toClient.close.reasonText());
    toClient.close.release();
    assertFalse(client.isOpen());
  }

  @Test
  void settingsFloodEndsTheTunnel() {
    openTunnel(RelaySettings.newBuilder().maxControlFrames(5).build());
    for (int i = 0; i < 10; i++) {
      clientSends(Http2Wire.settingsAck()); // ACKs never count
    }
    for (int i = 0; i < 4; i++) {
      clientSends(Http2Wire.settings());
    }
    assertTrue(client.isOpen(), "five SETTINGS in the window (the preface's and four more) are allowed");
    clientSends(Http2Wire.settings());
    assertEquals(4, upstreamReceived().stream().filter(f -> f.type == Http2Wire.SETTINGS && f.flags == 0).count(),
        "the four allowed after the preface's, and not the sixth");
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals("too_many_settings", answer.get(answer.size() - 1).goAwayDebugData());
    assertEquals(1008, toClient.close.statusCode());
    toClient.close.release();
  }

  @Test
  void pingsCountOnlyWhileTheUpstreamSendsNoData() {
    openTunnel(RelaySettings.newBuilder().maxControlFrames(3).build());
    // Flow-control pings during a download: each DATA from the upstream forgives the pings before it.
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    for (int i = 0; i < 20; i++) {
      clientSends(Http2Wire.ping(i));
      clientSends(Http2Wire.ping(100 + i));
      upstreamSends(Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[10]));
    }
    assertTrue(client.isOpen(), "pings between data are fine");
    for (int i = 0; i < 4; i++) {
      clientSends(Http2Wire.ping(1000 + i));
    }
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals("too_many_pings", answer.get(answer.size() - 1).goAwayDebugData());
    assertEquals(40 + 3, count(answer, Http2Wire.PING), "each PING within the limit is answered, the fourth not");
    assertEquals(0, count(upstreamReceived(), Http2Wire.PING), "the gateway answers them: none reaches the upstream");
    assertEquals(1008, toClient.close.statusCode());
    assertEquals("more than 3 PING frames in 10 s without data in between", toClient.close.reasonText());
    toClient.close.release();
  }

  private static final byte[] STATUS_200 = Http2Wire.headerBlock(java.util.Map.of(":status", "200"));

  private static final long PING_DATA = 0x0102030405060708L;

  private static long pingData(Http2Wire.Frame f) {
    return java.nio.ByteBuffer.wrap(f.payload).getLong();
  }

  private static void assertAck(Http2Wire.Frame f, long data) {
    assertEquals(Http2Wire.PING, f.type, f.toString());
    assertEquals(Http2Wire.FLAG_ACK, f.flags);
    assertEquals(0, f.streamId);
    assertEquals(data, pingData(f));
  }

  @Test
  void aClientsPingIsAnsweredByTheGatewayWithItsDataAndNeverReachesTheUpstream() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.ping(PING_DATA));
    assertEquals(List.of(), names(upstreamReceived()), "the upstream gets no PING");
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(List.of("PING"), names(answer));
    assertAck(answer.get(0), PING_DATA);
  }

  @Test
  void aClientsPingCutAnywhereBetweenDataFramesIsTakenOutAndTheDataPassesWhole() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    upstreamReceived();
    byte[] ping = Http2Wire.ping(PING_DATA);
    for (int cut = 1; cut < ping.length; cut++) {
      byte[] before = Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[] {(byte) cut, 1, 2});
      byte[] after = Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[] {(byte) cut, 3});
      clientSends(Http2Wire.concat(before, java.util.Arrays.copyOfRange(ping, 0, cut)));
      clientSends(Http2Wire.concat(java.util.Arrays.copyOfRange(ping, cut, ping.length), after));
      List<Http2Wire.Frame> up = upstreamReceived();
      assertEquals(List.of("DATA", "DATA"), names(up), "cut after " + cut + " bytes");
      assertEquals(List.of((byte) cut, (byte) 1, (byte) 2), bytes(up.get(0).payload));
      assertEquals(List.of((byte) cut, (byte) 3), bytes(up.get(1).payload));
      List<Http2Wire.Frame> answer = clientReceived();
      assertEquals(List.of("PING"), names(answer), "cut after " + cut + " bytes");
      assertAck(answer.get(0), PING_DATA);
    }
    // Cut into three reads, one byte in the middle one.
    clientSends(java.util.Arrays.copyOfRange(ping, 0, 2));
    clientSends(java.util.Arrays.copyOfRange(ping, 2, 3));
    clientSends(java.util.Arrays.copyOfRange(ping, 3, ping.length));
    assertEquals(List.of(), names(upstreamReceived()));
    assertAck(clientReceived().get(0), PING_DATA);
  }

  private static List<Byte> bytes(byte[] a) {
    List<Byte> out = new ArrayList<>();
    for (byte b : a) {
      out.add(b);
    }
    return out;
  }

  @Test
  void theAckWaitsForTheEndOfTheUpstreamsFrameAndOfItsHeaderBlock() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    byte[] data = Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[20]);
    upstreamSends(java.util.Arrays.copyOfRange(data, 0, 15)); // mid-DATA: no place for an ACK
    clientSends(Http2Wire.ping(1));
    upstreamSends(Http2Wire.concat(java.util.Arrays.copyOfRange(data, 15, data.length),
        Http2Wire.headers(1, 0, new byte[] {STATUS_200[0]}))); // a header block that CONTINUATION finishes
    clientSends(Http2Wire.ping(2));
    upstreamSends(Http2Wire.frame(Http2Wire.CONTINUATION, Http2Wire.FLAG_END_HEADERS, 1,
        java.util.Arrays.copyOfRange(STATUS_200, 1, STATUS_200.length)));
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(List.of("DATA", "PING", "HEADERS", "CONTINUATION", "PING"), names(answer));
    assertAck(answer.get(1), 1);
    assertAck(answer.get(4), 2);
    assertEquals(List.of("HEADERS"), names(upstreamReceived()));
  }

  @Test
  void aPingBeforeTheUpstreamsSettingsIsAnsweredAfterThem() {
    upgrade(RelaySettings.DEFAULT, connectAtOnce());
    clientSends(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings(), Http2Wire.ping(PING_DATA)));
    assertEquals(List.of(), names(clientReceived()), "a server's first frame is its SETTINGS");
    upstreamSends(Http2Wire.settings(Http2Wire.SETTINGS_MAX_CONCURRENT_STREAMS, 100));
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(List.of("SETTINGS", "PING"), names(answer));
    assertAck(answer.get(1), PING_DATA);
    assertEquals(List.of("SETTINGS"), names(upstreamReceived()));
  }

  @Test
  void aPingThatCameWhileTheUpstreamConnectionWasMadeIsAnsweredNotRelayed() {
    ChannelPromise[] connecting = new ChannelPromise[1];
    upgrade(RelaySettings.DEFAULT, connectWhenTold(connecting));
    byte[] ping = Http2Wire.ping(PING_DATA);
    clientSends(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings(), java.util.Arrays.copyOfRange(ping, 0, 7)));
    clientSends(java.util.Arrays.copyOfRange(ping, 7, ping.length));
    connecting[0].setSuccess();
    client.runPendingTasks();
    upstreamSends(Http2Wire.settings());
    assertEquals(List.of("SETTINGS"), names(upstreamReceived()));
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(List.of("SETTINGS", "PING"), names(answer));
    assertAck(answer.get(1), PING_DATA);
  }

  @Test
  void theUpstreamsPingsAndTheClientsAcksOfThemPassUnchanged() {
    openTunnel(RelaySettings.DEFAULT);
    upstreamSends(Http2Wire.ping(PING_DATA));
    List<Http2Wire.Frame> toTheClient = clientReceived();
    assertEquals(List.of("PING"), names(toTheClient));
    assertEquals(0, toTheClient.get(0).flags);
    clientSends(Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0, java.nio.ByteBuffer.allocate(8)
        .putLong(PING_DATA).array()));
    List<Http2Wire.Frame> toTheUpstream = upstreamReceived();
    assertEquals(List.of("PING"), names(toTheUpstream));
    assertAck(toTheUpstream.get(0), PING_DATA);
    assertEquals(List.of(), names(clientReceived()));
  }

  @Test
  void aMalformedPingGoesToTheUpstreamToEndTheConnection() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.frame(Http2Wire.PING, 0, 0, new byte[4])); // FRAME_SIZE_ERROR: the upstream's to say
    clientSends(Http2Wire.frame(Http2Wire.PING, 0, 3, new byte[8])); // PROTOCOL_ERROR, likewise
    assertEquals(List.of("PING", "PING"), names(upstreamReceived()));
    assertEquals(List.of(), names(clientReceived()));
  }

  @Test
  void aClientThatReadsNoAcksIsEndedAtTheirLimitEvenWithThePingLimitOff() {
    openTunnel(RelaySettings.newBuilder().maxControlFrames(0).build());
    clientGate.held = true;
    for (int i = 0; i < UpstreamRelayHandler.MAX_OUTSTANDING_PING_ACKS; i++) {
      clientSends(Http2Wire.ping(i));
    }
    assertTrue(client.isOpen(), "as many ACKs as allowed wait for the client");
    clientSends(Http2Wire.ping(-1));
    clientGate.held = false;
    client.flush();
    client.runPendingTasks();
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(UpstreamRelayHandler.MAX_OUTSTANDING_PING_ACKS + 1, answer.size());
    assertEquals("too_many_pings", answer.get(answer.size() - 1).goAwayDebugData());
    assertEquals(1008, toClient.close.statusCode());
    assertEquals("more than 1024 PING ACKs waiting for the client to read them", toClient.close.reasonText());
    toClient.close.release();
    assertEquals(List.of(), names(upstreamReceived()));
  }

  @Test
  void aClientThatReadsItsAcksMayPingOnWithThePingLimitOff() {
    openTunnel(RelaySettings.newBuilder().maxControlFrames(0).build());
    for (int i = 0; i < 3 * UpstreamRelayHandler.MAX_OUTSTANDING_PING_ACKS; i++) {
      clientSends(Http2Wire.ping(i));
    }
    assertTrue(client.isOpen());
    assertEquals(3 * UpstreamRelayHandler.MAX_OUTSTANDING_PING_ACKS, clientReceived().size());
  }

  @Test
  void anUpstreamsGoAwayEnhanceYourCalmCutByAReadReachesTheClientWhole() {
    openTunnel(RelaySettings.DEFAULT);
    ByteBuf b = Unpooled.buffer();
    Http2FrameBoundaries.writeGoAway(b, 0, Http2Wire.ENHANCE_YOUR_CALM, "too_many_pings");
    byte[] goAway = new byte[b.readableBytes()];
    b.readBytes(goAway);
    b.release();
    upstreamSends(java.util.Arrays.copyOfRange(goAway, 0, 12));
    upstreamSends(java.util.Arrays.copyOfRange(goAway, 12, goAway.length));
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(List.of("GOAWAY"), names(answer));
    assertEquals(Http2Wire.ENHANCE_YOUR_CALM, answer.get(0).goAwayErrorCode());
    assertEquals("too_many_pings", answer.get(0).goAwayDebugData());
  }

  @Test
  void anUpstreamsConnectionErrorNamesTheTunnelsCloseOnceTheUpstreamHasEnded() {
    openTunnel(RelaySettings.DEFAULT);
    client.pipeline().addFirst(FramePipeline.CONTROL,
        new ControlFrameHandler("client 127.0.0.1:5000", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false));
    // The client sent bytes that break HTTP/2 (DATA on stream 0); the upstream says so and hangs up.
    ByteBuf b = Unpooled.buffer();
    Http2FrameBoundaries.writeGoAway(b, 0, 0x1, "Frame of type 0 must be associated with a stream.");
    upstreamSends(ByteBufUtil.getBytes(b));
    b.release();
    upstream.close();
    client.runPendingTasks();

    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals(List.of("GOAWAY"), names(answer), "passed on unchanged");
    assertEquals(1002, toClient.close.statusCode());
    assertEquals("HTTP/2 PROTOCOL_ERROR: Frame of type 0 must be associated with a stream.",
        toClient.close.reasonText());
    toClient.close.release();
  }

  private static List<String> names(List<Http2Wire.Frame> frames) {
    List<String> out = new ArrayList<>();
    for (Http2Wire.Frame f : frames) {
      out.add(new String[] {"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
          "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"}[f.type]);
    }
    return out;
  }

  @Test
  void drainWaitsForTheEndOfAHeaderBlockBeforeItsGoAway() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    upstreamSends(Http2Wire.headers(1, 0, new byte[] {STATUS_200[0]})); // a block that CONTINUATION finishes
    assertEquals(List.of("HEADERS"), names(clientReceived()));
    relay.drain();
    client.runPendingTasks();
    assertEquals(List.of(), names(clientReceived()), "no GOAWAY inside a header block");
    upstreamSends(Http2Wire.frame(Http2Wire.CONTINUATION, Http2Wire.FLAG_END_HEADERS, 1,
        java.util.Arrays.copyOfRange(STATUS_200, 1, STATUS_200.length)));
    List<Http2Wire.Frame> after = clientReceived();
    assertEquals(List.of("CONTINUATION", "GOAWAY", "PING"), names(after));
    assertEquals(Http2Wire.NO_ERROR, after.get(1).goAwayErrorCode());
    clientSends(drainPingAck());
    assertEquals(List.of("GOAWAY"), names(clientReceived()));
    assertTrue(client.isOpen(), "the call in flight may finish");
    upstreamSends(Http2Wire.frame(Http2Wire.DATA, Http2Wire.FLAG_END_STREAM, 1, new byte[0]));
    assertFalse(client.isOpen(), "its end ends the drained tunnel");
  }

  @Test
  void aDrainThatWaitsMidFrameSkipsTheBoundaryInsideAHeaderBlockInTheSameRead() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    byte[] block = Http2Wire.headerBlock(java.util.Map.of(":status", "200", "content-type", "application/grpc"));
    byte[] headers = Http2Wire.headers(1, 0, java.util.Arrays.copyOfRange(block, 0, 10));
    upstreamSends(java.util.Arrays.copyOfRange(headers, 0, 12)); // inside the frame's payload: no place for a GOAWAY
    relay.drain();
    client.runPendingTasks();
    upstreamSends(Http2Wire.concat(java.util.Arrays.copyOfRange(headers, 12, headers.length),
        Http2Wire.frame(Http2Wire.CONTINUATION, Http2Wire.FLAG_END_HEADERS, 1,
            java.util.Arrays.copyOfRange(block, 10, block.length))));
    // The end of the HEADERS frame is inside the header block: the GOAWAY waits for the CONTINUATION.
    assertEquals(List.of("HEADERS", "CONTINUATION", "GOAWAY", "PING"), names(clientReceived()));
  }

  @Test
  void aClientThatCancelsItsLastCallDuringADrainClosesTheTunnelAtOnce() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    relay.drain();
    client.runPendingTasks();
    assertEquals(List.of("GOAWAY", "PING"), names(clientReceived()));
    clientSends(drainPingAck());
    assertEquals(List.of("GOAWAY"), names(clientReceived()));
    assertTrue(client.isOpen(), "a call is in flight");
    clientSends(Http2Wire.rstStream(1, Http2Wire.CANCEL));
    assertEquals(List.of("HEADERS", "RST_STREAM"), names(upstreamReceived()), "the call and its cancel reach the upstream");
    assertFalse(client.isOpen(), "the tunnel ends with its last call, not at the drain timeout");
  }

  /** The client's ACK of the PING that follows a drain's first GOAWAY. */
  private static byte[] drainPingAck() {
    return Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0,
        java.nio.ByteBuffer.allocate(8).putLong(UpstreamRelayHandler.DRAIN_PING_DATA).array());
  }

  private static int lastStreamId(Http2Wire.Frame goAway) {
    return java.nio.ByteBuffer.wrap(goAway.payload).getInt(0) & Integer.MAX_VALUE;
  }

  /**
   * As grpc-java's server drains: a first GOAWAY naming the largest stream id and a PING; a call the client starts
   * before it has seen them is still taken; once the PING is acknowledged (the ACK taken out, also when a read cuts
   * it), a second GOAWAY names the last stream the client opened.
   */
  @Test
  void aDrainTakesCallsStartedBeforeTheClientSawItsGoAwayThenNamesTheLastOne() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    relay.drain();
    client.runPendingTasks();
    List<Http2Wire.Frame> first = clientReceived();
    assertEquals(List.of("GOAWAY", "PING"), names(first));
    assertEquals(Integer.MAX_VALUE, lastStreamId(first.get(0)));
    assertEquals(0, first.get(1).flags);
    assertEquals(UpstreamRelayHandler.DRAIN_PING_DATA, java.nio.ByteBuffer.wrap(first.get(1).payload).getLong());
    // A call the client started before the GOAWAY reached it goes on to the upstream.
    clientSends(Http2Wire.headers(3, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    // The ACK, cut in two reads and followed by a frame of a call; a client's ACK of the upstream's PING passes.
    byte[] ack = drainPingAck();
    clientSends(java.util.Arrays.copyOfRange(ack, 0, 11));
    assertEquals(List.of(), names(clientReceived()), "no second GOAWAY before the whole ACK");
    clientSends(Http2Wire.concat(java.util.Arrays.copyOfRange(ack, 11, ack.length),
        Http2Wire.frame(Http2Wire.DATA, Http2Wire.FLAG_END_STREAM, 3, new byte[5]),
        Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0, new byte[8])));
    assertEquals(List.of("HEADERS", "HEADERS", "DATA", "PING"), names(upstreamReceived()),
        "every call reaches the upstream; the ACK of the gateway's PING does not");
    List<Http2Wire.Frame> second = clientReceived();
    assertEquals(List.of("GOAWAY"), names(second));
    assertEquals(3, lastStreamId(second.get(0)));
    upstreamSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS | Http2Wire.FLAG_END_STREAM, STATUS_200));
    assertTrue(client.isOpen(), "a call is still in flight");
    upstreamSends(Http2Wire.headers(3, Http2Wire.FLAG_END_HEADERS | Http2Wire.FLAG_END_STREAM, STATUS_200));
    assertFalse(client.isOpen(), "the last call's end ends the drained tunnel");
  }

  @Test
  void aClientThatNeverAcknowledgesTheDrainsPingGetsTheSecondGoAwayAfterTenSeconds() {
    openTunnel(RelaySettings.DEFAULT);
    relay.drain();
    client.runPendingTasks();
    assertEquals(List.of("GOAWAY", "PING"), names(clientReceived()));
    advance(9_999);
    assertTrue(client.isOpen(), "waiting for the ACK");
    advance(1);
    List<Http2Wire.Frame> second = clientReceived();
    assertEquals(List.of("GOAWAY"), names(second));
    assertEquals(0, lastStreamId(second.get(0)), "no call was opened");
    assertFalse(client.isOpen(), "no call in flight: closed");
  }

  /**
   * A call the client opens after the drain's last GOAWAY named an earlier stream (here: it never acknowledged the
   * PING, so the GOAWAY came after 10 s) is not run: the client retries it elsewhere. Its header block still reaches
   * the upstream, whose HPACK state needs it, and is cancelled at once, before its request.
   */
  @Test
  void aCallOpenedAfterTheLastGoAwayIsCancelledTowardTheUpstreamBeforeItsRequest() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    upstreamReceived();
    relay.drain();
    client.runPendingTasks();
    assertEquals(List.of("GOAWAY", "PING"), names(clientReceived()));
    advance(10_000);
    List<Http2Wire.Frame> second = clientReceived();
    assertEquals(List.of("GOAWAY"), names(second));
    assertEquals(1, lastStreamId(second.get(0)));
    clientSends(Http2Wire.concat(
        Http2Wire.headers(3, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")),
        Http2Wire.frame(Http2Wire.DATA, Http2Wire.FLAG_END_STREAM, 3, new byte[5])));
    List<Http2Wire.Frame> up = upstreamReceived();
    assertEquals(List.of("HEADERS", "RST_STREAM", "DATA"), names(up));
    assertEquals(3, up.get(1).streamId);
    assertEquals(Http2Wire.CANCEL, java.nio.ByteBuffer.wrap(up.get(1).payload).getInt());
    assertTrue(client.isOpen(), "call 1 is still in flight");
    upstreamSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS | Http2Wire.FLAG_END_STREAM, STATUS_200));
    assertFalse(client.isOpen(), "the refused call does not hold the drain");
  }

  /**
   * Above the upstream's own GOAWAY the upstream refuses a stream by itself: the relay resets none there (a reset of a
   * stream the upstream never made would end its connection, and every call on it).
   */
  @Test
  void aStreamAboveTheUpstreamsOwnGoAwayIsLeftToTheUpstream() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    upstreamReceived();
    upstreamSends(Http2Wire.frame(Http2Wire.GOAWAY, 0, 0, java.nio.ByteBuffer.allocate(8).putInt(1)
        .putInt(Http2Wire.NO_ERROR).array()));
    assertEquals(1, lastStreamId(clientReceived().get(0)));
    relay.drain();
    client.runPendingTasks();
    List<Http2Wire.Frame> first = clientReceived();
    assertEquals(List.of("GOAWAY", "PING"), names(first));
    assertEquals(1, lastStreamId(first.get(0)), "never more than the client was told");
    advance(10_000);
    assertEquals(1, lastStreamId(clientReceived().get(0)));
    clientSends(Http2Wire.headers(3, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    assertEquals(List.of("HEADERS"), names(upstreamReceived()));
  }

  /** The resets the relay makes for refused streams count in the rapid-reset limit. */
  @Test
  void refusedStreamsCountInTheResetLimit() {
    openTunnel(RelaySettings.newBuilder().http2Limits(dev.wsgrpc.server.Http2Limits.newBuilder()
        .maxRstFrames(2, java.time.Duration.ofSeconds(10)).build()).build());
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    relay.drain();
    client.runPendingTasks();
    advance(10_000); // no ACK: the second GOAWAY names stream 1
    clientReceived();
    for (int stream = 3; stream <= 7; stream += 2) {
      clientSends(Http2Wire.headers(stream, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    }
    List<Http2Wire.Frame> answer = clientReceived();
    assertEquals("too_many_rst_streams", answer.get(answer.size() - 1).goAwayDebugData());
    assertEquals(1008, toClient.close.statusCode());
    toClient.close.release();
    assertFalse(client.isOpen());
  }

  /** The upstream's own GOAWAY may not name more than the client was told: a client ends such a connection. */
  @Test
  void anUpstreamsGoAwayNeverNamesMoreThanTheClientWasTold() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    relay.drain();
    client.runPendingTasks();
    clientReceived();
    clientSends(drainPingAck());
    assertEquals(1, lastStreamId(clientReceived().get(0)));
    // The upstream begins its own graceful shutdown: GOAWAY naming the largest stream id.
    byte[] goAway = Http2Wire.frame(Http2Wire.GOAWAY, 0, 0, java.nio.ByteBuffer.allocate(8)
        .putInt(Integer.MAX_VALUE).putInt(Http2Wire.NO_ERROR).array());
    upstreamSends(goAway);
    List<Http2Wire.Frame> relayed = clientReceived();
    assertEquals(List.of("GOAWAY"), names(relayed));
    assertEquals(1, lastStreamId(relayed.get(0)), "rewritten to what the client was told");
  }

  /** ACKs carrying the data of the gateway's own PINGs never reach the upstream, in a drain or not. */
  @Test
  void ackWithTheGatewaysPingDataNeverReachTheUpstream() {
    openTunnel(RelaySettings.DEFAULT);
    byte[] forgedKeepaliveAck = ourPingAck();
    clientSends(Http2Wire.concat(drainPingAck(), java.util.Arrays.copyOfRange(forgedKeepaliveAck, 0, 7)));
    clientSends(Http2Wire.concat(java.util.Arrays.copyOfRange(forgedKeepaliveAck, 7, forgedKeepaliveAck.length),
        Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0, new byte[8])));
    assertEquals(List.of("PING"), names(upstreamReceived()), "only the ACK with other data passes");
    assertTrue(client.isOpen());
  }

  /**
   * A drain leaves a connection that is not (yet) a tunnel or a native one to the drain's HTTP answers (503 for
   * /healthz and for new tunnels): it closed every such connection, a health check's or a scrape's included, and
   * did so again every 50 ms while a tunnel held the drain.
   */
  @Test
  void aDrainLeavesAConnectionThatIsNotYetATunnelOpen() {
    relay = new UpstreamRelayHandler(upstreams, connectAtOnce(), tracker, RelaySettings.DEFAULT, budget);
    client = new EmbeddedChannel();
    client.pipeline().addLast(clientGate, relay);
    relay.drain();
    client.runPendingTasks();
    assertTrue(client.isOpen(), "closed before it could ask for /healthz");
  }

  /** A drain that reaches a connection the relay has already ended writes nothing more. */
  @Test
  void aDrainAfterTheRelayEndedTheConnectionWritesNothing() {
    openTunnel(RelaySettings.newBuilder().maxControlFrames(1).build());
    clientSends(Http2Wire.concat(Http2Wire.settings(), Http2Wire.settings()));
    List<Http2Wire.Frame> ended = clientReceived();
    assertEquals(Http2Wire.ENHANCE_YOUR_CALM, ended.get(ended.size() - 1).goAwayErrorCode());
    assertEquals(1008, toClient.close.statusCode());
    toClient.close.release();
    relay.drain();
    client.runPendingTasks();
    assertEquals(List.of(), names(clientReceived()));
  }

  private static final RelaySettings KEEPALIVE = RelaySettings.newBuilder()
      .upstreamKeepAlive(java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(2)).build();

  private static byte[] ourPingAck() {
    ByteBuf b = Unpooled.buffer();
    b.writeMedium(8).writeByte(6).writeByte(1).writeInt(0).writeLong(UpstreamRelayHandler.UPSTREAM_PING_DATA);
    byte[] a = new byte[b.readableBytes()];
    b.readBytes(a);
    b.release();
    return a;
  }

  @Test
  void aQuietUpstreamGetsAPingWhoseAckNeverReachesTheClient() {
    openTunnel(KEEPALIVE);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    upstreamReceived();
    advance(999);
    assertEquals(List.of(), names(upstreamReceived()), "no ping before the upstream has been quiet for 1 s");
    advance(1);
    List<Http2Wire.Frame> sent = upstreamReceived();
    assertEquals(List.of("PING"), names(sent));
    assertEquals(0, sent.get(0).flags);
    // The ACK arrives cut in two reads, followed by a frame of the call's.
    byte[] ack = ourPingAck();
    upstreamSends(java.util.Arrays.copyOfRange(ack, 0, 5));
    upstreamSends(Http2Wire.concat(java.util.Arrays.copyOfRange(ack, 5, ack.length),
        Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[3])));
    assertEquals(List.of("DATA"), names(clientReceived()), "the gateway's ACK is taken out");
    // A client's own PING ACK (other data) passes.
    upstreamSends(Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0, new byte[8]));
    assertEquals(List.of("PING"), names(clientReceived()));
    advance(2_000);
    assertTrue(client.isOpen(), "the upstream answered");
  }

  @Test
  void anUpstreamThatAnswersNoPingEndsTheTunnelWithTryAgainLater() {
    openTunnel(KEEPALIVE);
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    upstreamReceived();
    advance(1_000);
    assertEquals(List.of("PING"), names(upstreamReceived()));
    advance(1_999);
    assertTrue(client.isOpen());
    advance(1);
    clientReceived();
    assertEquals(1013, toClient.close.statusCode());
    assertEquals("the upstream gRPC server stopped answering (no reply to an HTTP/2 PING within 2000 ms)",
        toClient.close.reasonText());
    toClient.close.release();
    assertFalse(upstream.isOpen());
    assertEquals(1, tracker.upstreamsSilent());
  }

  @Test
  void noPingWhileNoCallIsOpen() {
    openTunnel(KEEPALIVE);
    advance(10_000);
    assertEquals(List.of(), names(upstreamReceived()));
    assertTrue(client.isOpen());
  }

  @Test
  void aPingWaitsForTheEndOfTheClientsFrame() {
    openTunnel(KEEPALIVE);
    upstreamReceived();
    byte[] headers = Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h"));
    byte[] data = Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[10]);
    clientSends(Http2Wire.concat(headers, java.util.Arrays.copyOfRange(data, 0, 12)));
    advance(1_000);
    clientSends(java.util.Arrays.copyOfRange(data, 12, data.length));
    assertEquals(List.of("HEADERS", "DATA", "PING"), names(upstreamReceived()));
  }

  @Test
  void aTunnelWithoutCallsForTheIdleTimeoutIsDrained() {
    openTunnel(RelaySettings.newBuilder().idleTimeout(java.time.Duration.ofMinutes(1)).build());
    clientSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "h")));
    advance(120_000);
    assertTrue(client.isOpen(), "a call is open");
    upstreamSends(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS | Http2Wire.FLAG_END_STREAM, STATUS_200));
    clientReceived();
    advance(59_999);
    assertTrue(client.isOpen(), "idle for less than a minute");
    advance(1);
    assertEquals(List.of("GOAWAY", "PING"), names(clientReceived()));
    clientSends(drainPingAck());
    assertEquals(List.of("GOAWAY"), names(clientReceived()));
    assertFalse(client.isOpen());
  }

  @Test
  void aFailedConnectIsCountedAndTheNextUpstreamTried() throws Exception {
    Upstreams two = new Upstreams(List.of(new Upstreams.Target("127.0.0.1", 1), new Upstreams.Target("127.0.0.1", 2)));
    try {
      List<Integer> tried = new ArrayList<>();
      UpstreamConnector connector = (target, clientChannel, handler) -> {
        tried.add(target.address.getPort());
        if (tried.size() == 1) {
          return clientChannel.newFailedFuture(new javax.net.ssl.SSLHandshakeException("PKIX path building failed"));
        }
        upstream = new EmbeddedChannel(handler);
        return upstream.newSucceededFuture();
      };
      client = new EmbeddedChannel(new UpstreamRelayHandler(two, connector, tracker, RelaySettings.DEFAULT, budget));
      client.pipeline().fireUserEventTriggered(dev.wsgrpc.server.NativeHttp2Event.INSTANCE);
      assertEquals(2, tried.size());
      assertTrue(upstream.isActive());
      assertEquals(1, tracker.upstreamConnectFailures());
      assertTrue(client.isOpen());
    } finally {
      two.close();
    }
  }

  /** Two upstream addresses, ports 1 and 2, tried in that order; each attempt's channel by port. */
  private final java.util.Map<Integer, EmbeddedChannel> attempts = new java.util.LinkedHashMap<>();
  private final java.util.Map<Integer, ChannelPromise> connecting = new java.util.HashMap<>();
  private Upstreams twoAddresses;

  /**
   * The relay on a tunnel to two upstream addresses whose connects complete when the test says ({@link
   * #connecting}); closing an attempt's channel fails its connect, as Netty's transports do.
   */
  private void upgradeToTwoAddresses() throws IOException {
    twoAddresses = new Upstreams(List.of(new Upstreams.Target("127.0.0.1", 1), new Upstreams.Target("127.0.0.1", 2)));
    UpstreamConnector connector = (target, clientChannel, handler) -> {
      EmbeddedChannel attempt = new EmbeddedChannel(handler);
      ChannelPromise connect = attempt.newPromise();
      attempt.closeFuture().addListener(f -> connect.tryFailure(new java.nio.channels.ClosedChannelException()));
      attempts.put(target.address.getPort(), attempt);
      connecting.put(target.address.getPort(), connect);
      return connect;
    };
    relay = new UpstreamRelayHandler(twoAddresses, connector, tracker, RelaySettings.DEFAULT, budget);
    client = new EmbeddedChannel();
    client.freezeTime();
    client.pipeline().addLast(relay);
    client.pipeline().fireUserEventTriggered(new TunnelEstablishedEvent("/grpc", null,
        new InetSocketAddress("127.0.0.1", 5000), null));
  }

  /**
   * An address that does not answer (SYNs dropped) held a tunnel for the whole connect timeout, 10 s, before the
   * next was tried, longer than a client waits for the server's SETTINGS after two of them. Now the next address is
   * tried beside it after 250 ms (RFC 8305), the first to connect is the upstream, and the other attempt is closed.
   */
  @Test
  void anAddressThatDoesNotAnswerHasTheNextTriedBesideItAfter250Milliseconds() throws Exception {
    upgradeToTwoAddresses();
    assertEquals(List.of(1), List.copyOf(attempts.keySet()));
    advance(249);
    assertEquals(List.of(1), List.copyOf(attempts.keySet()));
    advance(1);
    assertEquals(List.of(1, 2), List.copyOf(attempts.keySet()));
    connecting.get(2).setSuccess();
    assertSame(attempts.get(2), relay.upstream());
    assertFalse(attempts.get(1).isOpen(), "the attempt still under way is closed");
    assertEquals(0, tracker.upstreamConnectFailures(), "an attempt closed for another's success is no failure");
    assertTrue(client.isOpen());
    advance(60_000);
    assertEquals(2, attempts.size(), "no further attempt");
  }

  /** The first attempt connecting after the second began still wins, and the second is closed. */
  @Test
  void aSlowFirstAddressThatConnectsBeforeTheSecondIsTheUpstream() throws Exception {
    upgradeToTwoAddresses();
    advance(250);
    connecting.get(1).setSuccess();
    assertSame(attempts.get(1), relay.upstream());
    assertFalse(attempts.get(2).isOpen());
    assertTrue(connecting.get(2).isDone());
    assertEquals(0, tracker.upstreamConnectFailures());
  }

  /** A refusal moves on to the next address at once, not at the attempt delay, and is counted. */
  @Test
  void aRefusalTriesTheNextAddressAtOnce() throws Exception {
    upgradeToTwoAddresses();
    connecting.get(1).setFailure(new java.net.ConnectException("Connection refused"));
    assertEquals(List.of(1, 2), List.copyOf(attempts.keySet()));
    assertEquals(1, tracker.upstreamConnectFailures());
    assertTrue(client.isOpen());
  }

  /**
   * The delay is for the TCP connection (RFC 8305): an address that accepted it and is still in its TLS handshake does
   * not have the next address dialled beside it.
   */
  @Test
  void anAddressWhoseTcpConnectionIsUpIsNotRaced() throws Exception {
    upgradeToTwoAddresses();
    advance(100);
    attempts.get(1).pipeline().fireChannelActive(); // TCP is up; the TLS handshake goes on
    advance(9_000); // within the search's 10 s
    assertEquals(List.of(1), List.copyOf(attempts.keySet()));
    connecting.get(1).setSuccess();
    assertSame(attempts.get(1), relay.upstream());
  }

  /** An attempt that fails while another is under way leaves the tunnel to that one: no Close, no lookup wait. */
  @Test
  void aFailureWhileAnotherAttemptIsUnderWayWaitsForThatOne() throws Exception {
    upgradeToTwoAddresses();
    advance(250);
    connecting.get(1).setFailure(new java.net.ConnectException("Connection refused"));
    advance(9_000); // within the search's 10 s
    assertEquals(List.of(1, 2), List.copyOf(attempts.keySet()));
    assertTrue(client.isOpen());
    assertNull(client.readOutbound(), "no Close while an attempt is under way");
    connecting.get(2).setSuccess();
    assertSame(attempts.get(2), relay.upstream());
    assertEquals(1, tracker.upstreamConnectFailures());
  }

  /**
   * The search for an upstream ends at the handshake timeout with 1013, the attempts still under way closed (not
   * counted as failures of their upstreams), before a client waiting for the upstream's SETTINGS gives up (15 s).
   */
  @Test
  void attemptsStillUnderWayAtTheHandshakeTimeoutEndTheTunnelWith1013() throws Exception {
    upgradeToTwoAddresses();
    advance(9_999);
    assertNull(client.readOutbound());
    advance(1);
    CloseWebSocketFrame close = client.readOutbound();
    assertEquals(1013, close.statusCode());
    assertEquals("no upstream gRPC server reachable within 10000 ms", close.reasonText());
    close.release();
    assertFalse(attempts.get(1).isOpen());
    assertFalse(attempts.get(2).isOpen());
    assertEquals(0, tracker.upstreamConnectFailures());
    advance(60_000);
    assertEquals(2, attempts.size(), "no attempt after the search ended");
  }

  /** A client that goes while attempts are under way closes them, and no later attempt starts. */
  @Test
  void attemptsUnderWayAreClosedWhenTheClientGoes() throws Exception {
    upgradeToTwoAddresses();
    advance(250);
    client.close();
    assertFalse(attempts.get(1).isOpen());
    assertFalse(attempts.get(2).isOpen());
    advance(60_000);
    assertEquals(2, attempts.size());
    assertEquals(0, tracker.upstreamConnectFailures());
  }

  @Test
  void bytesHeldForUpstreamsStillConnectingAreCappedInTotal() {
    PendingBudget small = new PendingBudget(100);
    UpstreamConnector never = (target, clientChannel, handler) -> new EmbeddedChannel().newPromise(); // still connecting
    EmbeddedChannel first = new EmbeddedChannel(new UpstreamRelayHandler(upstreams, never, tracker,
        RelaySettings.DEFAULT, small));
    EmbeddedChannel second = new EmbeddedChannel(new UpstreamRelayHandler(upstreams, never, tracker,
        RelaySettings.DEFAULT, small));
    TunnelEstablishedEvent open = new TunnelEstablishedEvent("/grpc", null, new InetSocketAddress("127.0.0.1", 1), null);
    first.pipeline().fireUserEventTriggered(open);
    second.pipeline().fireUserEventTriggered(open);
    first.writeInbound(Unpooled.wrappedBuffer(new byte[60]));
    assertEquals(60, small.held());
    second.writeInbound(Unpooled.wrappedBuffer(new byte[60]));
    second.runPendingTasks();
    CloseWebSocketFrame close = second.readOutbound();
    assertEquals(1013, close.statusCode());
    assertEquals("the gateway holds too many bytes for upstream connections still being made", close.reasonText());
    close.release();
    assertEquals(60, small.held(), "the refused bytes were released, not held");
    first.close();
    assertEquals(0, small.held(), "a closed connection gives its bytes back");
    first.finishAndReleaseAll();
    second.finishAndReleaseAll();
  }

  /**
   * Passes flushes on unless {@link #held} (then what was written stays in the channel's outbound buffer, as with a
   * peer that reads nothing); at each flush, notes whether the channel was writable and the other side being read.
   */
  private static final class FlushGate extends ChannelOutboundHandlerAdapter {
    boolean held;
    BooleanSupplier otherSideRead = () -> true;
    final List<String> flushes = new ArrayList<>();

    @Override
    public void flush(ChannelHandlerContext ctx) {
      flushes.add("writable " + ctx.channel().isWritable() + ", other side read " + otherSideRead.getAsBoolean());
      if (!held) {
        ctx.flush();
      }
    }
  }

  /** A call on stream 1 whose message comes as {@code frames} DATA frames of 16 KiB: more than Netty's high-water mark. */
  private static byte[] callWithData(int frames) {
    byte[][] parts = new byte[frames + 1][];
    parts[0] = Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock("/s/M", "localhost"));
    for (int i = 1; i <= frames; i++) {
      parts[i] = Http2Wire.frame(Http2Wire.DATA, 0, 1, new byte[16 * 1024]);
    }
    return Http2Wire.concat(parts);
  }

  private static long count(List<Http2Wire.Frame> frames, int type) {
    return frames.stream().filter(f -> f.type == type).count();
  }

  /** A native HTTP/2 connection (no tunnel) whose upstream connection is up; both sides have sent their SETTINGS. */
  private void openNative() {
    relay = new UpstreamRelayHandler(upstreams, connectAtOnce(), tracker, RelaySettings.DEFAULT, budget);
    client = new EmbeddedChannel();
    client.freezeTime();
    client.pipeline().addLast(clientGate, relay);
    client.pipeline().fireUserEventTriggered(dev.wsgrpc.server.NativeHttp2Event.INSTANCE);
    clientSends(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings()));
    upstreamSends(Http2Wire.settings(Http2Wire.SETTINGS_MAX_CONCURRENT_STREAMS, 100));
    assertEquals(Http2Wire.SETTINGS, clientReceived().get(0).type);
  }

  @Test
  void aNativeClientThatReadsNothingIsClosedFiveSecondsAfterItsUpstreamEnded() {
    openNative();
    clientSends(callWithData(0));
    clientGate.held = true; // the client reads nothing: what the upstream sent never leaves
    upstreamSends(callWithData(12));
    upstream.close();
    client.runPendingTasks();
    assertTrue(client.isOpen(), "what the upstream sent may still leave");

    advance(UpstreamRelayHandler.FLUSH_BEFORE_CLOSE_MILLIS - 1);
    assertTrue(client.isOpen());
    advance(1);
    assertFalse(client.isOpen(), "a client that does not read keeps its connection no longer");
  }

  @Test
  void aNativeClientThatReadsIsClosedOnceItHasTakenWhatTheUpstreamSentBeforeItEnded() {
    openNative();
    clientSends(callWithData(0));
    clientGate.held = true;
    upstreamSends(callWithData(12));
    upstream.close();
    client.runPendingTasks();
    assertTrue(client.isOpen());
    clientGate.held = false;
    client.flush();
    client.runPendingTasks();
    assertFalse(client.isOpen(), "closed as soon as the last bytes left");
    assertEquals(12, count(clientReceived(), Http2Wire.DATA));
  }

  @Test
  void anUpstreamThatReadsNothingIsClosedFiveSecondsAfterTheClientEnded() {
    openNative();
    upstreamGate.held = true; // the upstream reads nothing: what the client sent never leaves
    clientSends(callWithData(12));
    upstream.freezeTime(); // the cut is timed on the upstream's event loop: only advanceTimeBy moves its clock
    client.close();
    assertTrue(upstream.isOpen(), "what the client sent may still leave");

    upstream.advanceTimeBy(UpstreamRelayHandler.FLUSH_BEFORE_CLOSE_MILLIS - 1,
        java.util.concurrent.TimeUnit.MILLISECONDS);
    upstream.runScheduledPendingTasks();
    assertTrue(upstream.isOpen());
    upstream.advanceTimeBy(1, java.util.concurrent.TimeUnit.MILLISECONDS);
    upstream.runScheduledPendingTasks();
    assertFalse(upstream.isOpen(), "an upstream that does not read keeps its connection no longer");
  }

  @Test
  void aReadThatTheUpstreamTakesAtOnceKeepsTheClientBeingRead() {
    openTunnel(RelaySettings.DEFAULT);
    upstreamGate.otherSideRead = () -> client.config().isAutoRead();
    upstreamGate.flushes.clear();
    clientSends(callWithData(12)); // 192 KiB in one read: past the upstream's high-water mark until the flush
    assertEquals(List.of("writable false, other side read true"), upstreamGate.flushes,
        "the client is still read when the flush that empties the upstream's buffer begins");
    assertEquals(12, count(upstreamReceived(), Http2Wire.DATA));
    assertTrue(client.config().isAutoRead());
  }

  @Test
  void anUpstreamThatTakesNothingStopsTheClientBeingReadUntilItDoes() {
    openTunnel(RelaySettings.DEFAULT);
    upstreamGate.held = true;
    clientSends(callWithData(12));
    assertFalse(client.config().isAutoRead(), "the client is not read while the upstream holds 192 KiB");
    upstreamGate.held = false;
    upstream.flush();
    client.runPendingTasks();
    assertTrue(client.config().isAutoRead(), "the client is read again once the upstream took its bytes");
    assertEquals(12, count(upstreamReceived(), Http2Wire.DATA));
  }

  @Test
  void aReadThatTheClientTakesAtOnceKeepsTheUpstreamBeingRead() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(callWithData(0));
    clientGate.otherSideRead = () -> upstream.config().isAutoRead();
    clientGate.flushes.clear();
    upstreamSends(callWithData(12));
    assertEquals(List.of("writable false, other side read true"), clientGate.flushes,
        "the upstream is still read when the flush that empties the client's buffer begins");
    assertEquals(12, count(clientReceived(), Http2Wire.DATA));
    assertTrue(upstream.config().isAutoRead());
  }

  @Test
  void aClientThatTakesNothingStopsTheUpstreamBeingReadUntilItDoes() {
    openTunnel(RelaySettings.DEFAULT);
    clientSends(callWithData(0));
    clientGate.held = true;
    upstreamSends(callWithData(12));
    assertFalse(upstream.config().isAutoRead(), "the upstream is not read while the client holds 192 KiB");
    clientGate.held = false;
    client.flush();
    client.runPendingTasks();
    assertTrue(upstream.config().isAutoRead(), "the upstream is read again once the client took its bytes");
    assertEquals(12, count(clientReceived(), Http2Wire.DATA));
  }

  @Test
  void whatWaitedForTheUpstreamConnectionAndFilledItKeepsTheClientUnreadUntilItDrains() {
    ChannelPromise[] connecting = new ChannelPromise[1];
    upgrade(RelaySettings.DEFAULT, connectWhenTold(connecting));
    clientSends(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings(), callWithData(12)));
    upstreamGate.held = true;
    connecting[0].setSuccess();
    client.runPendingTasks();
    assertFalse(client.config().isAutoRead(),
        "192 KiB waited for the upstream connection and it took none: the client is not read yet");
    upstreamGate.held = false;
    upstream.flush();
    client.runPendingTasks();
    assertTrue(client.config().isAutoRead());
    assertEquals(12, count(upstreamReceived(), Http2Wire.DATA));
  }
}
