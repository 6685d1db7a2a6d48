package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real HAProxy that answers the upgrade request with a {@code 103 Early Hints} before forwarding it
 * ({@code http-request early-hint}): both clients read past it to the 101 and call through (RFC 9110 15.2). The Netty
 * client failed the upgrade ("expected HTTP 101 but was 103 Early Hints"); the OkHttp client went on but stopped
 * checking the server's frames.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EarlyHintsTest {

  private static final Closer closer = new Closer();
  private static final EchoService service = new EchoService();
  private static String url;
  private static int port;

  @BeforeAll
  static void start() throws Exception {
    Server server = closer.add(WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.DEFAULT).addService(service).build().start());
    int upstream = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    port = ExternalProgram.freePort();
    Map<String, String> values = new LinkedHashMap<>();
    values.put("BIND", "127.0.0.1:" + port);
    values.put("UPSTREAM", "127.0.0.1:" + upstream);
    closer.add(ReverseProxy.haproxy(port, "proxies/haproxy-early-hints.cfg", values).start());
    url = "ws://127.0.0.1:" + port + "/grpc";
  }

  @AfterAll
  static void stop() throws Exception {
    closer.close();
    service.shutdown();
  }

  /** The setup itself: HAProxy's first answer to an upgrade request is the 103, without a body. */
  @Test
  void haproxyAnswersTheUpgradeRequestWith103First() throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET /grpc HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).contains("\r\n")) {
        int b = in.read();
        assertTrue(b != -1, "HAProxy closed the connection after " + head);
        head.write(b);
      }
      assertEquals("HTTP/1.1 103 Early Hints\r\n", head.toString(StandardCharsets.ISO_8859_1));
    }
  }

  @Test
  void theNettyClientCallsThrough() throws Exception {
    ManagedChannel channel = closer.add(WebSocketChannels.newChannelBuilder(
        WebSocketClientOptions.newBuilder(url).build()).build());
    assertEcho(channel);
  }

  @Test
  void theOkHttpClientCallsThrough() throws Exception {
    ManagedChannel channel = closer.add(OkHttpWebSocketChannels.newChannelBuilder(
        OkHttpWebSocketOptions.newBuilder(url).build()).build());
    assertEcho(channel);
  }

  private static void assertEcho(ManagedChannel channel) {
    EchoResponse r = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(100));
    assertEquals(100, r.getPayload().size());
  }
}
