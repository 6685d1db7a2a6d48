package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every request that is not a valid upgrade gets a clear HTTP answer over a real socket, the connection is then
 * closed, and a tunnel on another connection keeps working throughout.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerHttpAnswersTest {

  private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
  private static Server server;
  private static int port;
  private static ManagedChannel goodClient;

  @BeforeAll
  static void start() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), WebSocketServerOptions.DEFAULT)
        .addService(new EchoService()).build().start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    goodClient = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    assertGoodClientWorks();
  }

  @AfterAll
  static void stop() throws Exception {
    assertGoodClientWorks();
    goodClient.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  private static void assertGoodClientWorks() {
    assertEquals(3, EchoGrpc.newBlockingStub(goodClient).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(3)).getPayload().size());
  }

  private static String upgrade(String path, String extraHeaders) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n";
  }

  @Test
  void unknownPathIs404() throws Exception {
    String answer = RawHttp.exchange(port, upgrade("/other", ""));
    assertTrue(answer.startsWith("HTTP/1.1 404 Not Found\r\n"), answer);
    assertTrue(answer.contains("no WebSocket endpoint at /other"), answer);
  }

  @Test
  void postIs405WithAllow() throws Exception {
    String answer = RawHttp.exchange(port, "POST /grpc HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assertTrue(answer.startsWith("HTTP/1.1 405 Method Not Allowed\r\n"), answer);
    assertTrue(answer.toLowerCase(Locale.ROOT).contains("allow: get"), answer);
    assertTrue(answer.contains("expected GET but was POST"), answer);
  }

  @Test
  void plainGetWithoutUpgradeIs400() throws Exception {
    String answer = RawHttp.exchange(port, "GET /grpc HTTP/1.1\r\nHost: x\r\n\r\n");
    assertTrue(answer.startsWith("HTTP/1.1 400 Bad Request\r\n"), answer);
    assertTrue(answer.contains("expected 'Upgrade: websocket' but was missing"), answer);
  }

  @Test
  void malformedKeyIs400() throws Exception {
    String answer = RawHttp.exchange(port, upgrade("/grpc", "").replace(KEY, "not-a-key"));
    assertTrue(answer.startsWith("HTTP/1.1 400 Bad Request\r\n"), answer);
    assertTrue(answer.contains("expected a Sec-WebSocket-Key of 16 base64-encoded bytes"), answer);
  }

  @Test
  void otherVersionIs426WithVersion13() throws Exception {
    String answer = RawHttp.exchange(port, upgrade("/grpc", "").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));
    assertTrue(answer.startsWith("HTTP/1.1 426 Upgrade Required\r\n"), answer);
    assertTrue(answer.toLowerCase(Locale.ROOT).contains("sec-websocket-version: 13"), answer);
  }

  @Test
  void offeringOnlyOtherSubprotocolsIs400AndTheOffersAreNotEchoed() throws Exception {
    String answer = RawHttp.exchange(port, upgrade("/grpc", "Sec-WebSocket-Protocol: chat, secret-token-123\r\n"));
    assertTrue(answer.startsWith("HTTP/1.1 400 Bad Request\r\n"), answer);
    assertTrue(answer.contains("expected subprotocol wsgrpc.v1"), answer);
    assertFalse(answer.contains("secret-token-123"), answer);
  }

  @Test
  void ourSubprotocolIsEchoedWhenOffered() throws Exception {
    String head = handshakeHead(upgrade("/grpc", "Sec-WebSocket-Protocol: chat, wsgrpc.v1\r\n"));
    assertTrue(head.startsWith("HTTP/1.1 101 Switching Protocols\r\n"), head);
    assertTrue(head.toLowerCase(Locale.ROOT).contains("sec-websocket-protocol: wsgrpc.v1\r\n"), head);
    assertTrue(head.toLowerCase(Locale.ROOT).contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"), head);
  }

  @Test
  void clientsOfferingNoSubprotocolAreAccepted() throws Exception {
    String head = handshakeHead(upgrade("/grpc", ""));
    assertTrue(head.startsWith("HTTP/1.1 101 Switching Protocols\r\n"), head);
    assertFalse(head.toLowerCase(Locale.ROOT).contains("sec-websocket-protocol"), head);
  }

  /** Performs an upgrade and returns the 101's head, then closes the socket. */
  private static String handshakeHead(String request) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != -1) {
        head.write(b);
        if (head.toString(StandardCharsets.ISO_8859_1.name()).endsWith("\r\n\r\n")) {
          break;
        }
      }
      return head.toString(StandardCharsets.ISO_8859_1.name());
    }
  }
}
