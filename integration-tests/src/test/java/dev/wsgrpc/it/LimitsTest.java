package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Each limit answers clearly, is counted, and frees up when tunnels close. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LimitsTest {

  private final List<String> refusals = new CopyOnWriteArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private Server server;
  private int port;

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  private void start(WebSocketServerOptions.Builder options) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        options.listener(new TunnelListener() {
          @Override
          public void upgradeRejected(SocketAddress client, int status, RejectReason reason) {
            refusals.add(status + " " + reason);
          }
        }).build()).addService(new EchoService()).build().start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private ManagedChannel channel(String forwardedFor) {
    WebSocketClientOptions.Builder b = WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc");
    if (forwardedFor != null) {
      b.header("X-Forwarded-For", forwardedFor);
    }
    ManagedChannel c = WebSocketChannels.newChannelBuilder(b.build()).build();
    channels.add(c);
    return c;
  }

  private static int call(ManagedChannel channel) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(2)).getPayload().size();
  }

  @Test
  void tunnelsOverTheServerLimitGet503AndASlotFreesWhenOneCloses() throws Exception {
    start(WebSocketServerOptions.newBuilder().access(AccessPolicy.newBuilder().maxTunnels(2).build()));
    ManagedChannel first = channel(null);
    assertEquals(2, call(first));
    assertEquals(2, call(channel(null)));
    ManagedChannel third = channel(null);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(third));
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 503 Service Unavailable"),
        e.getStatus().getDescription());
    String answer = RawHttp.exchange(port, "GET /grpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assertTrue(answer.toLowerCase(Locale.ROOT).contains("retry-after: 5\r\n"), answer);
    assertTrue(answer.endsWith("too many tunnels open; retry later\n"), answer);
    assertTrue(refusals.contains("503 too_many_tunnels"), refusals.toString());

    first.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    // The third channel retries with its backoff and gets the freed slot.
    assertEquals(2, EchoGrpc.newBlockingStub(third).withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)
        .unary(EchoService.payload(2)).getPayload().size());
  }

  @Test
  void tunnelsOverThePerClientLimitGet503WhileOtherClientsGetThrough() throws Exception {
    start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().maxTunnelsPerClient(1).trustedProxies(List.of("127.0.0.0/8")).build()));
    assertEquals(2, call(channel("198.51.100.1")));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel("198.51.100.1")));
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 503 Service Unavailable"),
        e.getStatus().getDescription());
    assertEquals(2, call(channel("198.51.100.2")), "another client is not affected");
    assertTrue(refusals.contains("503 too_many_tunnels_per_client"), refusals.toString());
  }

  @Test
  void ipv6ClientsInOneSlash64ShareThePerClientLimit() throws Exception {
    start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().maxTunnelsPerClient(1).trustedProxies(List.of("127.0.0.0/8")).build()));
    assertEquals(2, call(channel("2001:db8::1")));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel("2001:db8::2")));
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 503 Service Unavailable"),
        e.getStatus().getDescription());
    assertEquals(2, call(channel("2001:db8:0:1::1")), "the next /64 is another client");
    assertTrue(refusals.contains("503 too_many_tunnels_per_client"), refusals.toString());
  }

  @Test
  void theIpv6ClientPrefixCanCountEachAddress() throws Exception {
    start(WebSocketServerOptions.newBuilder().access(AccessPolicy.newBuilder().maxTunnelsPerClient(1)
        .ipv6ClientPrefix(128).trustedProxies(List.of("127.0.0.0/8")).build()));
    assertEquals(2, call(channel("2001:db8::1")));
    assertEquals(2, call(channel("2001:db8::2")));
    assertThrows(StatusRuntimeException.class, () -> call(channel("2001:db8::2")));
  }

  private static final String UPGRADE = "GET /grpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

  /** A connection that sends nothing: a handshake under way for as long as it stays open. */
  private static Socket silent(int port) throws IOException {
    Socket s = new Socket("127.0.0.1", port);
    s.setSoTimeout(30_000);
    return s;
  }

  /** The answer to an upgrade on a new connection, whole; null for a 101 (the connection is then closed). */
  private String upgradeUnlessAdmitted() throws IOException {
    try (Socket probe = new Socket("127.0.0.1", port)) {
      probe.setSoTimeout(30_000);
      probe.getOutputStream().write(UPGRADE.getBytes(StandardCharsets.ISO_8859_1));
      String status = new String(probe.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1);
      return status.equals("HTTP/1.1 101") ? null
          : status + new String(probe.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  void connectionsInTheirHandshakeAreLimitedPerAddressAndThoseOverTheLimitRefusedAndClosedSoon() throws Exception {
    start(WebSocketServerOptions.newBuilder().nativeGrpc(true)
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMinutes(2)).build())
        .access(AccessPolicy.newBuilder().maxHandshakesPerClient(2).build()));
    List<Socket> silent = new ArrayList<>();
    try {
      silent.add(silent(port));
      silent.add(silent(port));
      // Accepts run on several event loops, so a probe may be counted before a silent connection and admitted:
      // then one more silent connection, until two are counted and the next upgrade is refused.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      String answer;
      while ((answer = upgradeUnlessAdmitted()) == null) {
        assertTrue(System.nanoTime() < deadline, "every upgrade was admitted");
        silent.add(silent(port));
      }
      assertTrue(answer.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), answer);
      assertTrue(answer.toLowerCase(Locale.ROOT).contains("retry-after: 5\r\n"), answer);
      assertTrue(answer.endsWith("too many connections from your address are still in their handshake; retry later\n"),
          answer);
      assertTrue(refusals.contains("503 too_many_handshakes_per_client"), refusals.toString());

      // Native gRPC is held to the same count, and told why.
      ManagedChannel nativeChannel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
      channels.add(nativeChannel);
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(nativeChannel));
      assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(e.getStatus().getDescription().contains("still in their handshake"), e.getStatus().toString());

      // One past the limit that says nothing is closed long before the handshake timeout (2 minutes), and counted.
      try (Socket over = silent(port)) {
        assertEquals(-1, over.getInputStream().read(), "closed by the server");
      }
      waitFor(() -> refusals.contains("0 too_many_handshakes_per_client"));
    } finally {
      for (Socket s : silent) {
        s.close();
      }
    }
    // Once they are gone, the address gets in again (a refused channel retries with its backoff).
    ManagedChannel tunnel = channel(null);
    assertEquals(2, EchoGrpc.newBlockingStub(tunnel).withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)
        .unary(EchoService.payload(2)).getPayload().size());
  }

  /**
   * A browser call over a WebSocket of its own (grpc-websockets) brings its credentials in its first message: until
   * the authenticator admits it, it holds no tunnel slot (it counts as a connection in its handshake), so callers
   * without credentials cannot take the slots of those with them. It took one at its upgrade before.
   */
  @Test
  void aBrowserCallOverAWebSocketTakesATunnelSlotOnlyOnceAdmitted() throws Exception {
    dev.wsgrpc.server.BearerTokens tokens = dev.wsgrpc.server.BearerTokens.of(java.util.Map.of("secret", "alice"));
    java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
    start(WebSocketServerOptions.newBuilder()
        .browser(dev.wsgrpc.server.BrowserOptions.forOrigins("https://page.example"))
        .access(AccessPolicy.newBuilder().maxTunnels(1).authenticator(request -> {
          asked.incrementAndGet();
          return tokens.authenticate(request);
        }).build()));
    try (Socket silentCall = silent(port)) {
      silentCall.getOutputStream().write(("GET /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: grpc-websockets\r\n"
          + "Origin: https://page.example\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      assertEquals("HTTP/1.1 101", new String(silentCall.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1));
      // Its first message (with the token, or not) has not come: the one slot is still a tunnel's with a token.
      ManagedChannel tunnel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions
          .newBuilder("ws://127.0.0.1:" + port + "/grpc").header("Authorization", "Bearer secret").build()).build();
      channels.add(tunnel);
      assertEquals(2, call(tunnel));
      assertFalse(refusals.contains("503 too_many_tunnels"), refusals.toString());
      // A call whose first message has a token meets the limit the tunnel fills, told so as its status, before
      // the authenticator is asked (a call refused anyway costs it nothing).
      int askedBefore = asked.get();
      JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
          java.net.URI.create("ws://127.0.0.1:" + port + "/wsgrpc.testing.Echo/Unary"), "grpc-websockets",
          "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nauthorization: Bearer secret\r\n"
              .getBytes(StandardCharsets.ISO_8859_1), new byte[] {0, 0, 0, 0, 0}, new byte[] {1});
      assertEquals("grpc-status: 14\r\ngrpc-message: too many tunnels open; retry later\r\n",
          exchange.lastHeaderFrame());
      assertTrue(refusals.contains("503 too_many_tunnels"), refusals.toString());
      assertEquals(askedBefore, asked.get(), "the authenticator was not asked");
    }
  }

  /**
   * A plain request that asks for authentication (the gateway's /metrics) meets the handshake limit first, as an
   * upgrade does: a connection past the limit is refused 503 without the authenticator being asked.
   */
  @Test
  void aPlainRequestForAnAuthenticatedAnswerMeetsTheHandshakeLimitBeforeTheAuthenticator() throws Exception {
    java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
    start(WebSocketServerOptions.newBuilder()
        .plainHttpHandler(new dev.wsgrpc.server.PlainHttpHandler() {
          @Override
          public io.netty.handler.codec.http.FullHttpResponse handle(io.netty.handler.codec.http.HttpRequest request,
              java.net.SocketAddress client, io.netty.buffer.ByteBufAllocator alloc) {
            return null; // 404 once admitted
          }

          @Override
          public boolean requiresAuthentication(io.netty.handler.codec.http.HttpRequest request) {
            return true;
          }
        })
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMinutes(2)).build())
        .access(AccessPolicy.newBuilder().maxHandshakesPerClient(1).authenticator(request -> {
          asked.incrementAndGet();
          return dev.wsgrpc.server.AuthDecision.unauthorized("expected a token but none was presented");
        }).build()));
    List<Socket> silent = new ArrayList<>();
    try {
      silent.add(silent(port));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        int before = asked.get();
        String answer = RawHttp.exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        if (answer.startsWith("HTTP/1.1 503 ")) {
          assertTrue(answer.endsWith("too many connections from your address are still in their handshake; retry "
              + "later\n"), answer);
          assertEquals(before, asked.get(), "refused before the authenticator was asked");
          break;
        }
        // Counted before the silent connection (accepts run on several loops): asked, and refused by it.
        assertTrue(answer.startsWith("HTTP/1.1 401 "), answer);
        assertTrue(System.nanoTime() < deadline, "every request reached the authenticator");
        silent.add(silent(port));
      }
    } finally {
      for (Socket s : silent) {
        s.close();
      }
    }
  }

  @Test
  void overTlsTheHandshakeCountStartsBeforeTlsAndACutConnectionCountsOnceForThatLimit() throws Exception {
    TestCertificates certs = TestCertificates.create();
    start(WebSocketServerOptions.newBuilder().tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()))
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMinutes(2)).build())
        .access(AccessPolicy.newBuilder().maxHandshakesPerClient(1).build()));
    List<Socket> silent = new ArrayList<>();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      String answer = null;
      while (answer == null) {
        assertTrue(System.nanoTime() < deadline, "every upgrade was admitted");
        silent.add(silent(port)); // not even a ClientHello
        try (Socket probe = certs.jdkClientContext().getSocketFactory().createSocket("127.0.0.1", port)) {
          probe.setSoTimeout(30_000);
          probe.getOutputStream().write(UPGRADE.getBytes(StandardCharsets.ISO_8859_1));
          String status = new String(probe.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1);
          if (!status.equals("HTTP/1.1 101")) {
            answer = status + new String(probe.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
          }
        }
      }
      assertTrue(answer.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), answer);
      assertTrue(answer.endsWith("still in their handshake; retry later\n"), answer);
      try (Socket over = silent(port)) {
        assertEquals(-1, over.getInputStream().read(), "closed in its TLS handshake, long before the timeout");
      }
      waitFor(() -> refusals.contains("0 too_many_handshakes_per_client"));
      assertFalse(refusals.contains("0 tls"), "counted once, for the limit that cut it: " + refusals);
    } finally {
      for (Socket s : silent) {
        s.close();
      }
    }
  }

  @Test
  void connectionsFromTrustedProxiesAreNotCountedAsHandshakes() throws Exception {
    start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().maxHandshakesPerClient(1).trustedProxies(List.of("127.0.0.0/8")).build()));
    try (Socket first = silent(port); Socket second = silent(port)) {
      assertEquals(2, call(channel("198.51.100.1")));
      assertEquals(2, call(channel("198.51.100.2")));
    }
    assertTrue(refusals.isEmpty(), refusals.toString());
  }

  private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "condition not met within 60 s");
      Thread.sleep(10);
    }
  }

  @Test
  void headersOverTheLimitGet431() throws Exception {
    start(WebSocketServerOptions.newBuilder().maxRequestHeaderBytes(1024));
    String answer = RawHttp.exchange(port, "GET /grpc HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(2000)
        + "\r\n\r\n");
    assertTrue(answer.startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer);
    assertTrue(answer.endsWith("expected request headers of at most 1024 bytes\n"), answer);
    assertTrue(refusals.contains("431 too_large"), refusals.toString());
  }
}
