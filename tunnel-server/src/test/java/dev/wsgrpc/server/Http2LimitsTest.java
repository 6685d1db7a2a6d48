package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.RawTunnelClient;
import io.grpc.Server;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class Http2LimitsTest {

  private Server server;

  @AfterEach
  void stop() throws InterruptedException {
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private InetSocketAddress start(WebSocketServerOptions options) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options).build().start();
    return (InetSocketAddress) server.getListenSockets().get(0);
  }

  private static RawTunnelClient tunnel(InetSocketAddress address) throws Exception {
    RawTunnelClient client = RawTunnelClient.connect(address, WebSocketTunnel.DEFAULT_PATH,
        WebSocketTunnel.SUBPROTOCOL, Duration.ofSeconds(60));
    client.sendPrefaceAndSettings();
    return client;
  }

  @Test
  void defaultsAreAThousandCallsAndTwoHundredResetsPerTenSeconds() {
    Http2Limits d = Http2Limits.DEFAULT;
    assertEquals(1000, d.maxConcurrentCalls());
    assertEquals(200, d.maxRstFrames());
    assertEquals(Duration.ofSeconds(10), d.rstWindow());
    assertEquals(d, WebSocketServerOptions.DEFAULT.http2Limits());
    assertEquals("Http2Limits{maxConcurrentCalls=1000, maxRstFrames=200, rstWindow=PT10S}", d.toString());
  }

  @Test
  void builderRefusesValuesNamingThem() {
    assertEquals("maxConcurrentCalls: 0 (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> Http2Limits.newBuilder().maxConcurrentCalls(0)).getMessage());
    assertEquals("maxRstFrames: -1 (expected: 0 <= maxRstFrames <= 2147483646)", assertThrows(
        IllegalArgumentException.class, () -> Http2Limits.newBuilder().maxRstFrames(-1, Duration.ofSeconds(10)))
        .getMessage());
    assertEquals("rstWindow: 500ms (expected: whole seconds from 1s to 1h)", assertThrows(
        IllegalArgumentException.class, () -> Http2Limits.newBuilder().maxRstFrames(5, Duration.ofMillis(500)))
        .getMessage());
    Http2Limits l = Http2Limits.newBuilder().maxConcurrentCalls(7).maxRstFrames(0, Duration.ofSeconds(2)).build();
    assertEquals(l, l.toBuilder().build());
    assertEquals(7, l.maxConcurrentCalls());
    assertEquals(0, l.maxRstFrames());
  }

  @Test
  void serverAnnouncesTheConcurrentCallLimitByDefault() throws Exception {
    try (RawTunnelClient client = tunnel(start(WebSocketServerOptions.DEFAULT))) {
      Http2Wire.Frame settings = client.readUntil(Http2Wire.SETTINGS);
      assertEquals(1000, settings.setting(Http2Wire.SETTINGS_MAX_CONCURRENT_STREAMS), settings.toString());
    }
  }

  @Test
  void theConcurrentCallLimitComesFromTheOptions() throws Exception {
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
        .http2Limits(Http2Limits.newBuilder().maxConcurrentCalls(3).build()).build();
    try (RawTunnelClient client = tunnel(start(options))) {
      assertEquals(3, client.readUntil(Http2Wire.SETTINGS).setting(Http2Wire.SETTINGS_MAX_CONCURRENT_STREAMS));
    }
  }

  /** Rapid reset (CVE-2023-44487): streams opened and cancelled at once, faster than a server can clean up. */
  @Test
  void rapidResetEndsTheTunnelWithGoAwayEnhanceYourCalmByDefault() throws Exception {
    try (RawTunnelClient client = tunnel(start(WebSocketServerOptions.DEFAULT))) {
      byte[] block = Http2Wire.grpcRequestBlock("/any.Service/Method", "localhost");
      int stream = 1;
      for (int batch = 0; batch < 30; batch++) {
        byte[][] frames = new byte[20][];
        for (int i = 0; i < 20; i += 2) {
          // HEADERS and its RST in one read, so the stream is still open when the reset arrives.
          frames[i] = Http2Wire.headers(stream, Http2Wire.FLAG_END_HEADERS, block);
          frames[i + 1] = Http2Wire.rstStream(stream, Http2Wire.CANCEL);
          stream += 2;
        }
        client.send(Http2Wire.concat(frames));
      }
      // 300 resets sent; a server without the limit answers this PING, one with it has already said GOAWAY.
      client.send(Http2Wire.ping(42));
      Http2Wire.Frame answer;
      do {
        answer = client.readFrame();
      } while (answer.type != Http2Wire.GOAWAY && !(answer.type == Http2Wire.PING && answer.flags == 1));
      assertEquals(Http2Wire.GOAWAY, answer.type, "expected GOAWAY but was " + answer);
      assertEquals(Http2Wire.ENHANCE_YOUR_CALM, answer.goAwayErrorCode());
      assertEquals("too_many_rststreams", answer.goAwayDebugData());
    }
  }
}
