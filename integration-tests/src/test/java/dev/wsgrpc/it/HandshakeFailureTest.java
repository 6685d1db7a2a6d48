package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What RPCs see when the upgrade fails, and that the channel recovers once the server is back. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HandshakeFailureTest {

  private ManagedChannel channel;
  private Server server;
  private HttpServer http;
  private ServerSocket silent;

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (http != null) {
      http.stop(0);
    }
    if (silent != null) {
      silent.close();
    }
  }

  private StatusRuntimeException callFails(String url, Duration handshakeTimeout) {
    channel = WebSocketChannels.newChannelBuilder(
        WebSocketClientOptions.newBuilder(url)
            .settings(TunnelSettings.newBuilder().handshakeTimeout(handshakeTimeout).build()).build()).build();
    return assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(1)));
  }

  @Test
  void forbiddenAnswerNamesTheStatusTheUrlAndTheServer() throws Exception {
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext("/", exchange -> {
      byte[] body = "go away".getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Server", "edge-proxy/1.0");
      exchange.sendResponseHeaders(403, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    http.start();
    String url = "ws://127.0.0.1:" + http.getAddress().getPort() + "/grpc";
    StatusRuntimeException e = callFails(url, Duration.ofSeconds(10));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith(
        "expected HTTP 101 but was 403 Forbidden from " + url + " (Server: edge-proxy/1.0)"),
        e.getStatus().getDescription());
  }

  @Test
  void plainHttpPageSaysTheUpgradeWasNotPassed() throws Exception {
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext("/", exchange -> {
      byte[] body = "<html>welcome</html>".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    http.start();
    String url = "ws://127.0.0.1:" + http.getAddress().getPort() + "/grpc";
    StatusRuntimeException e = callFails(url, Duration.ofSeconds(10));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("expected HTTP 101 but was 200 OK from " + url), 
        e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().contains("did not pass the Upgrade"), e.getStatus().getDescription());
  }

  @Test
  void wrongPathOnATunnelServerIs404() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        dev.wsgrpc.server.WebSocketServerOptions.DEFAULT).addService(new EchoService()).build().start();
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    String url = "ws://127.0.0.1:" + port + "/not-here";
    StatusRuntimeException e = callFails(url, Duration.ofSeconds(10));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 404 Not Found from " + url),
        e.getStatus().getDescription());
  }

  @Test
  void silentServerTimesOutWithTheHandshakeTimeout() throws Exception {
    silent = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
    String url = "ws://127.0.0.1:" + silent.getLocalPort() + "/grpc";
    StatusRuntimeException e = callFails(url, Duration.ofMillis(500));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("WebSocket handshake with " + url + " timed out after 500 ms"),
        e.getStatus().getDescription());
  }

  @Test
  void channelReconnectsWhenTheServerComesBack() throws Exception {
    server = startEcho(0);
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel);
    assertEquals(5, stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(5)).getPayload().size());

    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    StatusRuntimeException down = assertThrows(StatusRuntimeException.class,
        () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(5)));
    assertEquals(Status.Code.UNAVAILABLE, down.getStatus().getCode());

    server = startEcho(port);
    // waitForReady: the call waits while the channel retries with its backoff, then goes through.
    assertEquals(7, stub.withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)
        .unary(EchoService.payload(7)).getPayload().size());
  }

  private static Server startEcho(int port) throws Exception {
    return WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", port),
        dev.wsgrpc.server.WebSocketServerOptions.DEFAULT).addService(new EchoService()).build().start();
  }
}
