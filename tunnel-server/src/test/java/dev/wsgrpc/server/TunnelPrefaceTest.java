package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.RawTunnelClient;
import io.grpc.Server;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a client that is not HTTP/2, or breaks it, learns from the server on a real socket: a generic WebSocket
 * client, or one meant for another service, reads no GOAWAY, so the Close must say what was expected and what
 * arrived, or what gRPC's HTTP/2 codec found wrong.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TunnelPrefaceTest {

  private Server server;

  @AfterEach
  void stop() throws InterruptedException {
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void anHttp11RequestInsideTheTunnelIsAnsweredWith1002SayingWhatWasExpected() throws Exception {
    try (RawTunnelClient client = RawTunnelClient.connect(start(), WebSocketTunnel.DEFAULT_PATH,
        WebSocketTunnel.SUBPROTOCOL, Duration.ofSeconds(60))) {
      client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));

      assertEquals(1002, client.awaitEnd(), client.closeReason());
      assertEquals("expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with "
          + "'GET / HTTP/1.1??Host: 12...'", client.closeReason());
    }
  }

  private InetSocketAddress start() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), WebSocketServerOptions.DEFAULT)
        .build().start();
    return (InetSocketAddress) server.getListenSockets().get(0);
  }

  @Test
  void anHttp2ConnectionErrorAfterThePrefaceIsAGoAwayAndA1002NamingIt() throws Exception {
    try (RawTunnelClient client = RawTunnelClient.connect(start(), WebSocketTunnel.DEFAULT_PATH,
        WebSocketTunnel.SUBPROTOCOL, Duration.ofSeconds(60))) {
      client.sendPrefaceAndSettings();
      client.send(Http2Wire.frame(Http2Wire.DATA, 0, 0, new byte[5]));

      Http2Wire.Frame goAway = client.readUntil(Http2Wire.GOAWAY);
      assertEquals(1, goAway.goAwayErrorCode(), "PROTOCOL_ERROR");
      assertEquals(1002, client.awaitEnd(), client.closeReason());
      assertEquals("HTTP/2 PROTOCOL_ERROR: " + goAway.goAwayDebugData(), client.closeReason());
      assertEquals("HTTP/2 PROTOCOL_ERROR: Frame of type 0 must be associated with a stream.", client.closeReason());
    }
  }

  @Test
  void bytesAfterThePrefaceThatAreNotSettingsAreA1002NamingWhatGrpcFound() throws Exception {
    try (RawTunnelClient client = RawTunnelClient.connect(start(), WebSocketTunnel.DEFAULT_PATH,
        WebSocketTunnel.SUBPROTOCOL, Duration.ofSeconds(60))) {
      client.send(Http2Wire.concat(Http2Wire.PREFACE, "hello, world\r\n".getBytes(StandardCharsets.US_ASCII)));

      assertEquals(1002, client.awaitEnd(), client.closeReason());
      assertEquals("HTTP/2 PROTOCOL_ERROR: First received frame was not SETTINGS. Hex dump for first 5 bytes: "
          + "68656c6c6f", client.closeReason());
    }
  }
}
