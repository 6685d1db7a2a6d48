package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.testing.Http2Wire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The relay on {@link EmbeddedChannel}s: one for the client's side (after the upgrade: HTTP/2 bytes in and out, a
 * Close frame when the relay ends a tunnel) and one for the upstream connection, handed out by a connector.
 */
class UpstreamRelayHandlerTest {

  private final Upstreams upstreams = upstreams();
  private EmbeddedChannel upstream;
  private EmbeddedChannel client;

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
    upstreams.close();
  }

  /** A tunnel whose upstream connection is up and has sent its SETTINGS, the client its preface and SETTINGS. */
  private void openTunnel(RelaySettings settings) {
    UpstreamConnector connector = (target, clientChannel, handler) -> {
      upstream = new EmbeddedChannel(handler);
      return upstream.newSucceededFuture();
    };
    client = new EmbeddedChannel(new UpstreamRelayHandler(upstreams, connector,
        new TunnelTracker(new PrometheusRegistry()), settings));
    client.pipeline().fireUserEventTriggered(new TunnelEstablishedEvent("/grpc", null,
        new InetSocketAddress("127.0.0.1", 5000), null));
    clientSends(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings()));
    upstreamSends(Http2Wire.settings(Http2Wire.SETTINGS_MAX_CONCURRENT_STREAMS, 100));
    assertEquals(1, upstreamReceived().stream().filter(f -> f.type == Http2Wire.SETTINGS).count());
    assertEquals(Http2Wire.SETTINGS, clientReceived().get(0).type);
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
    assertEquals(1008, toClient.close.statusCode());
    assertEquals("more than 3 PING frames in 10 s without data in between", toClient.close.reasonText());
    toClient.close.release();
  }
}
