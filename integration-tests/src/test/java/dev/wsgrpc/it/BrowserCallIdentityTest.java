package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.AuthDecision;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.JsonSchemas;
import dev.wsgrpc.server.TunnelAuthenticator;
import dev.wsgrpc.server.TunnelPrincipal;
import dev.wsgrpc.server.UpgradeRequest;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.WireFrames;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Who each browser call is for: every gRPC-Web request on a kept-alive connection is admitted on its own (a proxy
 * or CDN pools its connections to the origin across its users), and a WebSocket call (wsgrpc-json,
 * grpc-websockets) authenticates with a {@code bearer.<token>} subprotocol. Raw HTTP/1.1 and WebSocket bytes over
 * real loopback sockets to a real server; services record what they see.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BrowserCallIdentityTest {

  /** The valid tokens: a test may revoke one ({@link BearerTokens#refresh()}). */
  private final java.util.concurrent.atomic.AtomicReference<Map<String, String>> validTokens =
      new java.util.concurrent.atomic.AtomicReference<>(Map.of("tok-alice", "alice", "tok-bob", "bob"));
  private final BearerTokens tokens = BearerTokens.from(validTokens::get);
  private static final String UNARY = "/wsgrpc.testing.Echo/Unary";

  private final EchoService echo = new EchoService();
  /** How many times the authenticator was asked. */
  private final java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
  /** Whether the authenticator says it reads a token from the upgrade's query ({@code ?access_token=}). */
  private boolean queryTokens;
  private final TunnelAuthenticator authenticator = new TunnelAuthenticator() {
    @Override
    public AuthDecision authenticate(UpgradeRequest request) {
      asked.incrementAndGet();
      if (queryTokens && request.query() != null && request.query().startsWith("access_token=")) {
        String principal = Map.of("tok-alice", "alice", "tok-bob", "bob").get(request.query().substring(13));
        return principal != null ? AuthDecision.accept(principal) : AuthDecision.unauthorized("unknown token");
      }
      return tokens.authenticate(request);
    }

    @Override
    public boolean readsQueryCredentials() {
      return queryTokens;
    }
  };
  /** One line per call that reached the service: principal (Context), principal (attribute), client host. */
  private final Queue<String> seen = new ConcurrentLinkedQueue<>();
  /** One permit per call that reached the service. */
  private final java.util.concurrent.Semaphore reached = new java.util.concurrent.Semaphore(0);
  /** The {@code WebSocketServers.TUNNEL_PATH} of each call that reached the service. */
  private final Queue<String> paths = new ConcurrentLinkedQueue<>();
  private Server server;
  private int port;

  private final ServerInterceptor recorder = new ServerInterceptor() {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      SocketAddress client = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      paths.add(call.getAttributes().get(WebSocketServers.TUNNEL_PATH));
      seen.add(TunnelPrincipal.current() + " " + call.getAttributes().get(TunnelPrincipal.ATTRIBUTE) + " "
          + ((InetSocketAddress) client).getAddress().getHostAddress()
          + (headers.containsKey(Metadata.Key.of("wsgrpc-admission", Metadata.ASCII_STRING_MARSHALLER))
              ? " (saw the internal header)" : ""));
      reached.release();
      return next.startCall(call, headers);
    }
  };

  private void start(AccessPolicy.Builder access) throws Exception {
    start(access, java.time.Duration.ofSeconds(10));
  }

  private void start(AccessPolicy.Builder access, java.time.Duration handshakeTimeout) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), WebSocketServerOptions
            .newBuilder()
            .settings(dev.wsgrpc.core.TunnelSettings.newBuilder().handshakeTimeout(handshakeTimeout).build())
            .browser(BrowserOptions.newBuilder(List.of("*")).json(JsonSchemas.of(List.of(echo))).build())
            .access(access.authenticator(authenticator).trustedProxies(List.of("127.0.0.0/8")).build())
            .build())
        .addService(ServerInterceptors.intercept(echo, recorder))
        .build()
        .start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    echo.shutdown();
  }

  /** One gRPC-Web message: an {@code EchoRequest} carrying {@code payload}, with its 5-byte prefix. */
  static byte[] unaryBody(String payload) {
    return unaryBody(payload, 0);
  }

  /** As above, for a call the service answers after {@code delayMs}. */
  static byte[] unaryBody(String payload, int delayMs) {
    byte[] message = EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8(payload))
        .setDelayMs(delayMs).build().toByteArray();
    return ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message).array();
  }

  /** A gRPC-Web request as a pooling proxy forwards it: its client in X-Forwarded-For, its user's credentials. */
  private static RawHttp.Answer grpcWeb(RawHttp.KeptAlive connection, String forwardedFor, String authorization,
      String payload) throws IOException {
    return grpcWeb(connection, UNARY, forwardedFor, authorization, payload);
  }

  /** As above, to the method at {@code path}. */
  private static RawHttp.Answer grpcWeb(RawHttp.KeptAlive connection, String path, String forwardedFor,
      String authorization, String payload) throws IOException {
    byte[] body = unaryBody(payload);
    return connection.send("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
        + "X-Forwarded-For: " + forwardedFor + "\r\n"
        + (authorization == null ? "" : "Authorization: " + authorization + "\r\n")
        + "Content-Length: " + body.length + "\r\n\r\n", body);
  }

  private static void assertCalled(RawHttp.Answer answer, String payload) {
    assertEquals(200, answer.status);
    assertTrue(answer.bodyText().contains(payload) && answer.bodyText().contains("grpc-status: 0\r\n"),
        "expected the echoed payload and grpc-status 0 but was " + answer.headers + " " + answer.bodyText());
  }

  @Test
  void requestsOfTwoUsersOnOneKeptAliveConnectionEachCallWithTheirOwnPrincipal() throws Exception {
    start(AccessPolicy.newBuilder());
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "first"), "first");
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-bob", "second"), "second");
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "third"), "third");
    }
    assertEquals(List.of("alice alice 198.51.100.7", "bob bob 198.51.100.7", "alice alice 198.51.100.7"),
        new ArrayList<>(seen));
  }

  @Test
  void aFollowingRequestTrickledInIsAnswered408AsAFirstOneIs() throws Exception {
    // The timeout bounds the connection's first request too: long enough for a busy machine to read that one.
    start(AccessPolicy.newBuilder(), java.time.Duration.ofSeconds(2));
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "first"), "first");
      RawHttp.Answer answer = pooled.send("POST " + UNARY + " HTTP/1.1\r\nHost: 127.0.0.1\r\n", new byte[0]);
      assertEquals(408, answer.status);
      assertEquals("expected a complete request within 2000 ms\n", new String(answer.body, StandardCharsets.UTF_8));
      assertTrue(pooled.closedByServer());
    }
  }

  @Test
  void eachCallOnAKeptAliveConnectionHasItsOwnPath() throws Exception {
    start(AccessPolicy.newBuilder());
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, UNARY, "198.51.100.7", "Bearer tok-alice", "first"), "first");
      // A server stream of no messages (the request's count is 0): its status in the headers or the trailers.
      RawHttp.Answer stream = grpcWeb(pooled, "/wsgrpc.testing.Echo/ServerStream", "198.51.100.7",
          "Bearer tok-alice", "second");
      assertEquals(200, stream.status);
      assertTrue("0".equals(stream.headers.get("grpc-status")) || stream.bodyText().contains("grpc-status: 0\r\n"),
          stream.headers + " " + stream.bodyText());
    }
    assertEquals(List.of(UNARY, "/wsgrpc.testing.Echo/ServerStream"), new ArrayList<>(paths),
        "each call's own path, not the connection's first");
  }

  @Test
  void requestsFromTwoClientsOfATrustedProxyOnOneConnectionEachHaveTheirOwnAddress() throws Exception {
    start(AccessPolicy.newBuilder());
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "a"), "a");
      assertCalled(grpcWeb(pooled, "203.0.113.9", "Bearer tok-alice", "b"), "b");
    }
    assertEquals(List.of("alice alice 198.51.100.7", "alice alice 203.0.113.9"), new ArrayList<>(seen));
  }

  @Test
  void aFollowingRequestWithABadTokenIsRefusedAsAFirstOneAndNeverCallsAsTheUserBefore() throws Exception {
    start(AccessPolicy.newBuilder());
    String firstRefusal;
    try (RawHttp.KeptAlive fresh = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer refused = grpcWeb(fresh, "198.51.100.7", "Bearer wrong", "x");
      assertEquals("16", refused.headers.get("grpc-status"), refused.headers.toString());
      firstRefusal = refused.headers.get("grpc-message");
    }
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "ok"), "ok");
      RawHttp.Answer refused = grpcWeb(pooled, "198.51.100.7", "Bearer wrong", "x");
      assertEquals("16", refused.headers.get("grpc-status"), refused.headers.toString());
      assertEquals(firstRefusal, refused.headers.get("grpc-message"));
      assertTrue(pooled.closedByServer(), "a refused request ends the connection");
    }
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "ok"), "ok");
      RawHttp.Answer anonymous = grpcWeb(pooled, "198.51.100.7", null, "x");
      assertEquals("16", anonymous.headers.get("grpc-status"), anonymous.headers.toString());
    }
    assertEquals(List.of("alice alice 198.51.100.7", "alice alice 198.51.100.7"), new ArrayList<>(seen));
  }

  @Test
  void aClientCannotNameAnAdmissionItself() throws Exception {
    start(AccessPolicy.newBuilder());
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      byte[] body = unaryBody("forged");
      for (int i = 0; i < 3; i++) {
        // The server's own header, sent by the client with every value an entry could have: removed unread.
        assertCalled(pooled.send("POST " + UNARY + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Content-Type: application/grpc-web+proto\r\nAuthorization: Bearer tok-bob\r\n"
            + "wsgrpc-admission: " + i + "\r\nwsgrpc-admission: " + (i + 1) + "\r\n"
            + "Content-Length: " + body.length + "\r\n\r\n", body), "forged");
      }
    }
    assertEquals(List.of("bob bob 127.0.0.1", "bob bob 127.0.0.1", "bob bob 127.0.0.1"), new ArrayList<>(seen));
  }

  @Test
  void aPooledConnectionHoldsOneSlotCountedForTheClientWhoseRequestItCarries() throws Exception {
    start(AccessPolicy.newBuilder().maxTunnelsPerClient(1));
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "a"), "a");
      try (RawHttp.KeptAlive second = new RawHttp.KeptAlive(port)) {
        RawHttp.Answer refused = grpcWeb(second, "198.51.100.7", "Bearer tok-alice", "b");
        assertEquals("14", refused.headers.get("grpc-status"), "198.51.100.7 is at its limit: " + refused.headers);
      }
      // The pooled connection now carries 203.0.113.9's request: its slot is counted for that client ...
      assertCalled(grpcWeb(pooled, "203.0.113.9", "Bearer tok-bob", "c"), "c");
      try (RawHttp.KeptAlive second = new RawHttp.KeptAlive(port)) {
        // ... so 198.51.100.7 may open one again, and 203.0.113.9 may not (not evaded, not counted twice).
        assertCalled(grpcWeb(second, "198.51.100.7", "Bearer tok-alice", "d"), "d");
        try (RawHttp.KeptAlive third = new RawHttp.KeptAlive(port)) {
          RawHttp.Answer refused = grpcWeb(third, "203.0.113.9", "Bearer tok-bob", "e");
          assertEquals("14", refused.headers.get("grpc-status"), refused.headers.toString());
        }
        // A request on the pooled connection for a client at its limit is refused as a first request would be.
        RawHttp.Answer refused = grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "f");
        assertEquals("14", refused.headers.get("grpc-status"), refused.headers.toString());
        assertEquals("too many tunnels open from your address; retry later", refused.headers.get("grpc-message"));
      }
    }
    assertEquals(List.of("alice alice 198.51.100.7", "bob bob 203.0.113.9", "alice alice 198.51.100.7"),
        new ArrayList<>(seen));
  }

  @Test
  void everyFollowingRequestIsAdmittedOnItsOwnAsInADrain() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean draining = new java.util.concurrent.atomic.AtomicBoolean();
    start(AccessPolicy.newBuilder().admission((client, path) -> draining.get()
        ? dev.wsgrpc.server.TunnelAdmission.Refusal.unavailable("draining", 5) : null));
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      assertCalled(grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "before"), "before");
      draining.set(true);
      // The same client again: refused as a new tunnel would be, not served because the one before was admitted.
      RawHttp.Answer refused = grpcWeb(pooled, "198.51.100.7", "Bearer tok-alice", "during");
      assertEquals("14", refused.headers.get("grpc-status"), refused.headers.toString());
      assertEquals("draining", refused.headers.get("grpc-message"));
    }
    assertEquals(List.of("alice alice 198.51.100.7"), new ArrayList<>(seen));
  }

  @Test
  void withoutTheInterceptorAClientNamedWithAnotherPortIsStillTheSameClient() throws Exception {
    // A server built from the credentials alone: calls keep the connection's identity, so a following request must
    // come from its client; a forwarding header that names the client's port (one per front connection) does not
    // make it another client.
    server = io.grpc.netty.NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
            dev.wsgrpc.server.WebSocketServerCredentials.create(WebSocketServerOptions.newBuilder()
                .browser(BrowserOptions.newBuilder(List.of("*")).build())
                .access(AccessPolicy.newBuilder().trustedProxies(List.of("127.0.0.0/8"),
                    dev.wsgrpc.server.TrustedProxies.Header.FORWARDED).build())
                .build()))
        .addService(ServerInterceptors.intercept(echo, recorder))
        .build()
        .start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    byte[] body = unaryBody("p");
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      for (String hop : new String[] {"\"198.51.100.7:1111\"", "\"198.51.100.7:2222\""}) {
        assertCalled(pooled.send("POST " + UNARY + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Content-Type: application/grpc-web+proto\r\nForwarded: for=" + hop + "\r\n"
            + "Content-Length: " + body.length + "\r\n\r\n", body), "p");
      }
      RawHttp.Answer other = pooled.send("POST " + UNARY + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nForwarded: for=203.0.113.9\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n", body);
      assertEquals("16", other.headers.get("grpc-status"), "another host is another client: " + other.headers);
    }
    assertEquals(List.of("null null 198.51.100.7", "null null 198.51.100.7"), new ArrayList<>(seen));
  }

  // WebSocket calls: the token as a subprotocol, as browsers offer it (they cannot set Authorization).

  /** An action that may throw, run in the middle of a {@link WebSocketCall}. */
  private interface ThrowingRunnable {
    void run() throws Exception;
  }

  /** One WebSocket call over a raw socket: upgrade, the client's messages, then the server's until its Close. */
  private static final class WebSocketCall {
    final String head;
    final List<byte[]> received = new ArrayList<>();

    WebSocketCall(int port, String protocols, int opcode, List<byte[]> messages) throws IOException {
      this(port, UNARY, protocols, opcode, messages, () -> { });
    }

    /** {@code afterSending} runs once the messages are sent, before the server's are read. */
    WebSocketCall(int port, String target, String protocols, int opcode, List<byte[]> messages,
        ThrowingRunnable afterSending) throws IOException {
      try (Socket socket = new Socket("127.0.0.1", port)) {
        socket.setSoTimeout(30_000);
        OutputStream out = socket.getOutputStream();
        out.write(("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "Origin: http://127.0.0.1\r\nSec-WebSocket-Protocol: " + protocols + "\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
        StringBuilder head = new StringBuilder();
        while (head.indexOf("\r\n\r\n") < 0) {
          int b = in.read();
          if (b == -1) {
            break;
          }
          head.append((char) b);
        }
        this.head = head.toString();
        if (!this.head.startsWith("HTTP/1.1 101")) {
          return;
        }
        for (byte[] message : messages) {
          // An opcode of -1: the messages are whole frames already (fragments, say).
          out.write(opcode == -1 ? message : WireFrames.frame(true, 0, opcode, true, message));
        }
        out.flush();
        try {
          afterSending.run();
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        while (true) {
          int first = in.readUnsignedByte();
          long length = in.readUnsignedByte() & 0x7f;
          if (length == 126) {
            length = in.readUnsignedShort();
          } else if (length == 127) {
            length = in.readLong();
          }
          byte[] payload = in.readNBytes((int) length);
          if ((first & 0x0f) == 8) {
            out.write(WireFrames.frame(true, 0, 8, true, payload));
            return;
          }
          received.add(payload);
        }
      }
    }

    String all() {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      received.forEach(all::writeBytes);
      return all.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private WebSocketCall json(String protocols) throws IOException {
    return new WebSocketCall(port, protocols, 1, List.of(
        "{\"message\": {\"payload\": \"aGk=\"}}".getBytes(StandardCharsets.UTF_8),
        "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)));
  }

  private WebSocketCall grpcWebSockets(String protocols) throws IOException {
    byte[] body = unaryBody("over-grpc-websockets");
    byte[] message = ByteBuffer.allocate(1 + body.length).put((byte) 0).put(body).array();
    return new WebSocketCall(port, protocols, 2, List.of(
        "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n".getBytes(StandardCharsets.ISO_8859_1),
        message, new byte[] {1}));
  }

  private static void assertAcceptedWithoutEchoingTheToken(WebSocketCall call, String subprotocol) {
    assertTrue(call.head.startsWith("HTTP/1.1 101"), call.head);
    assertTrue(call.head.toLowerCase(java.util.Locale.ROOT).contains("sec-websocket-protocol: " + subprotocol
        + "\r\n"), "expected only " + subprotocol + " chosen but the 101 was " + call.head);
    assertFalse(call.head.contains("tok-"), "the token is never echoed: " + call.head);
  }

  @Test
  void aJsonWebSocketCallAuthenticatesWithABearerSubprotocol() throws Exception {
    start(AccessPolicy.newBuilder());
    WebSocketCall call = json("wsgrpc-json, bearer.tok-bob");
    assertAcceptedWithoutEchoingTheToken(call, "wsgrpc-json");
    assertTrue(call.all().contains("{\"status\":{\"code\":0,"), call.all());
    WebSocketCall wrong = json("wsgrpc-json, bearer.wrong");
    assertAcceptedWithoutEchoingTheToken(wrong, "wsgrpc-json");
    assertTrue(wrong.all().contains("{\"status\":{\"code\":16,"), wrong.all());
    assertEquals(List.of("bob bob 127.0.0.1"), new ArrayList<>(seen));
  }

  /** A JSON request message whose payload is {@code bytes} bytes (base64: a third more text). */
  private static byte[] largeJsonRequest(int bytes) {
    return ("{\"message\": {\"payload\": \"" + java.util.Base64.getEncoder().encodeToString(new byte[bytes])
        + "\"}}").getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aJsonCallNotYetAdmittedMayNotMakeTheServerHoldMoreThanRequestHeaders() throws Exception {
    start(AccessPolicy.newBuilder());
    // As in the review's repro: unfinished text fragments, no token anywhere, each fragment 12 KiB.
    byte[] fragment = new byte[12 * 1024];
    java.util.Arrays.fill(fragment, (byte) 'x');
    WebSocketCall call = new WebSocketCall(port, "wsgrpc-json", -1, List.of(
        WireFrames.frame(false, 0, 1, true, fragment), WireFrames.frame(false, 0, 0, true, fragment),
        WireFrames.frame(false, 0, 0, true, fragment)));
    assertTrue(call.head.startsWith("HTTP/1.1 101"), call.head);
    assertEquals("{\"status\":{\"code\":8,\"message\":\"expected a first message of at most 16384 bytes before "
        + "the call is admitted (credentials at the upgrade admit larger ones) but it had at least 24576\","
        + "\"details\":[]}}", call.all());
    assertTrue(seen.isEmpty());
  }

  @Test
  void aJsonCallWithItsTokenAtTheUpgradeOrInItsFirstMessageSendsLargeMessages() throws Exception {
    start(AccessPolicy.newBuilder());
    // The token at the upgrade: the first message (no metadata) may be as large as any message.
    WebSocketCall upgrade = new WebSocketCall(port, "wsgrpc-json, bearer.tok-bob", 1, List.of(
        largeJsonRequest(100_000), "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)));
    assertTrue(upgrade.all().contains("{\"status\":{\"code\":0,"), upgrade.all().substring(0, 200));
    // The token in the first message's metadata: admitted, then a large message.
    WebSocketCall metadata = new WebSocketCall(port, "wsgrpc-json", 1, List.of(
        "{\"metadata\": {\"authorization\": \"Bearer tok-alice\"}}".getBytes(StandardCharsets.UTF_8),
        largeJsonRequest(100_000), "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)));
    assertTrue(metadata.all().contains("{\"status\":{\"code\":0,"), metadata.all().substring(0, 200));
    // No token anywhere: the same first message is refused at the request-header limit, before any authenticator.
    WebSocketCall none = new WebSocketCall(port, "wsgrpc-json", 1, List.of(largeJsonRequest(100_000)));
    assertTrue(none.all().contains("expected a first message of at most 16384 bytes before the call is admitted"),
        none.all());
    assertEquals(List.of("bob bob 127.0.0.1", "alice alice 127.0.0.1"), new ArrayList<>(seen));
  }

  @Test
  void aJsonCallAsksTheAuthenticatorOnce() throws Exception {
    start(AccessPolicy.newBuilder());
    // The token at the upgrade: asked for the first message's limit, and that answer admits the call.
    WebSocketCall upgrade = json("wsgrpc-json, bearer.tok-bob");
    assertTrue(upgrade.all().contains("{\"status\":{\"code\":0,"), upgrade.all());
    assertEquals(1, asked.getAndSet(0), "a one-time credential would be spent by a second question");
    // Nothing at the upgrade: not asked about it (no failed attempt to count), only with the first message.
    WebSocketCall metadata = new WebSocketCall(port, "wsgrpc-json", 1, List.of(
        "{\"metadata\": {\"authorization\": \"Bearer tok-alice\"}}".getBytes(StandardCharsets.UTF_8),
        "{\"message\": {\"payload\": \"aGk=\"}}".getBytes(StandardCharsets.UTF_8),
        "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)));
    assertTrue(metadata.all().contains("{\"status\":{\"code\":0,"), metadata.all());
    assertEquals(1, asked.get());
    assertEquals(List.of("bob bob 127.0.0.1", "alice alice 127.0.0.1"), new ArrayList<>(seen));
  }

  /**
   * An authenticator that reads a token from the URL says so: the upgrade is then asked about (once), and the call's
   * first message may be large. Without that, a query is nothing to ask about: an unrelated one ({@code ?v=2}) on a
   * call that sends its token as metadata costs no extra question, and the first message is held to the limit.
   */
  @Test
  void aTokenInTheUrlCountsAtTheUpgradeOnlyForAnAuthenticatorThatReadsIt() throws Exception {
    queryTokens = true;
    start(AccessPolicy.newBuilder());
    WebSocketCall call = new WebSocketCall(port, UNARY + "?access_token=tok-bob", "wsgrpc-json", 1, List.of(
        largeJsonRequest(100_000), "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)), () -> { });
    assertTrue(call.all().contains("{\"status\":{\"code\":0,"), call.all().substring(0, 200));
    assertEquals(1, asked.getAndSet(0), "asked once, at the upgrade");
    assertEquals(List.of("bob bob 127.0.0.1"), new ArrayList<>(seen));
  }

  @Test
  void aQueryIsNothingToAskAboutForAnAuthenticatorThatDoesNotReadIt() throws Exception {
    start(AccessPolicy.newBuilder());
    WebSocketCall metadata = new WebSocketCall(port, UNARY + "?v=2", "wsgrpc-json", 1, List.of(
        "{\"metadata\": {\"authorization\": \"Bearer tok-alice\"}}".getBytes(StandardCharsets.UTF_8),
        "{\"message\": {\"payload\": \"aGk=\"}}".getBytes(StandardCharsets.UTF_8),
        "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)), () -> { });
    assertTrue(metadata.all().contains("{\"status\":{\"code\":0,"), metadata.all());
    assertEquals(1, asked.getAndSet(0), "asked once, with the metadata");
    WebSocketCall large = new WebSocketCall(port, UNARY + "?access_token=tok-bob", "wsgrpc-json", 1,
        List.of(largeJsonRequest(100_000)), () -> { });
    assertTrue(large.all().contains("expected a first message of at most 16384 bytes before the call is admitted"),
        large.all());
    assertEquals(0, asked.get(), "refused at the limit, before any question");
  }

  /** A JSON call refused before the 101 (here: a drain) spends no question of the authenticator's, one-time or not. */
  @Test
  void aJsonCallRefusedAlreadyIsNotPutToTheAuthenticator() throws Exception {
    start(AccessPolicy.newBuilder().admission((client, path) ->
        dev.wsgrpc.server.TunnelAdmission.Refusal.unavailable("draining: try another server", 7)));
    WebSocketCall call = json("wsgrpc-json, bearer.tok-bob");
    assertTrue(call.all().contains("{\"status\":{\"code\":14,"), call.all());
    assertEquals(0, asked.get());
  }

  /** Revokes Alice's token once her call has reached the service. */
  private void revokeAliceOnceHerCallIsIn() throws InterruptedException {
    assertTrue(reached.tryAcquire(30, TimeUnit.SECONDS), "the call reached the service");
    validTokens.set(Map.of("tok-bob", "bob"));
    assertEquals(1, tokens.refresh());
  }

  /**
   * A browser call over a WebSocket of its own whose token is revoked while it is in flight ends as a native call
   * does: the client gets {@code UNAUTHENTICATED} "the bearer token was revoked" in its protocol's status, not a cut
   * connection.
   */
  @Test
  void aRevokedTokensJsonCallInFlightEndsUnauthenticatedWithTheReason() throws Exception {
    start(AccessPolicy.newBuilder());
    // No halfClose: the unary call waits for it.
    WebSocketCall call = new WebSocketCall(port, UNARY, "wsgrpc-json, bearer.tok-alice", 1,
        List.of("{\"message\": {\"payload\": \"aGk=\"}}".getBytes(StandardCharsets.UTF_8)),
        this::revokeAliceOnceHerCallIsIn);
    assertEquals("{\"status\":{\"code\":16,\"message\":\"the bearer token was revoked\",\"details\":[]}}",
        call.all());
  }

  @Test
  void aRevokedTokensGrpcWebSocketsCallInFlightEndsUnauthenticatedWithTheReason() throws Exception {
    start(AccessPolicy.newBuilder());
    byte[] body = unaryBody("in-flight");
    byte[] message = ByteBuffer.allocate(1 + body.length).put((byte) 0).put(body).array();
    WebSocketCall call = new WebSocketCall(port, UNARY, "grpc-websockets, bearer.tok-alice", 2, List.of(
        "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n".getBytes(StandardCharsets.ISO_8859_1),
        message), this::revokeAliceOnceHerCallIsIn);
    assertTrue(call.all().contains("grpc-status: 16\r\n") && call.all().contains("the bearer token was revoked"),
        call.all());
  }

  /**
   * A gRPC-Web request whose token is revoked while its call is in flight: the connection closes at once and the
   * service sees the call cancelled (the close once went through gRPC's handler, whose graceful shutdown waited for
   * the call to end: the connection stayed open and the call ran on).
   */
  @Test
  void aRevokedTokensGrpcWebCallInFlightIsCancelledAndItsConnectionClosed() throws Exception {
    start(AccessPolicy.newBuilder());
    byte[] body = unaryBody("slow", 120_000);
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(60_000);
      OutputStream out = socket.getOutputStream();
      out.write(("POST " + UNARY + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/grpc-web+proto\r\n"
          + "X-Grpc-Web: 1\r\nAuthorization: Bearer tok-alice\r\nContent-Length: " + body.length + "\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      assertTrue(echo.delayedUnaryArrived.await(30, TimeUnit.SECONDS), "the call reached the service");
      validTokens.set(Map.of("tok-bob", "bob"));
      assertEquals(1, tokens.refresh());
      assertTrue(echo.cancelled.await(30, TimeUnit.SECONDS), "the service saw its call cancelled");
      assertEquals(-1, socket.getInputStream().read(), "the connection closed without an answer");
    }
  }

  /**
   * As above, for a client that reads nothing of a server stream: its connection closes at once all the same. (The
   * close once waited behind whatever the client had not taken; whether any waits at the moment of the revocation is
   * up to the socket buffers here, so GrpcWebTranslatorTest shows that case with the writes held.)
   */
  @Test
  void aRevokedTokensGrpcWebConnectionClosesAtOnceThoughItsClientReadsNothing() throws Exception {
    start(AccessPolicy.newBuilder());
    // 4 MiB: far more than the socket buffers hold.
    try (Socket socket = GrpcWebSendTimeoutTest.serverStreamCall(port, 256, "Authorization: Bearer tok-alice\r\n")) {
      assertTrue(reached.tryAcquire(30, TimeUnit.SECONDS), "the call reached the service");
      byte[] statusLine = new byte[17];
      new java.io.DataInputStream(socket.getInputStream()).readFully(statusLine); // the stream began; no more is read
      assertEquals("HTTP/1.1 200 OK\r\n", new String(statusLine, StandardCharsets.ISO_8859_1));
      validTokens.set(Map.of("tok-bob", "bob"));
      assertEquals(1, tokens.refresh());
      assertTrue(echo.cancelled.await(20, TimeUnit.SECONDS), "the service saw its call cancelled");
    }
  }

  /**
   * A WebSocket call's authenticator sees the upgrade's headers and its first message's together: Authorization
   * twice among them is refused as a gRPC-Web request with two is (13, "expected at most one Authorization header
   * but was 2"), whether both are in the first message or one is in the upgrade, since the authenticator would
   * check the first and the call's metadata carry the other.
   */
  @Test
  void aWebSocketCallWithTwoAuthorizationHeadersIsRefusedAsAGrpcWebRequestWithTwoIs() throws Exception {
    start(AccessPolicy.newBuilder());
    byte[] body = unaryBody("twice");
    byte[] message = ByteBuffer.allocate(1 + body.length).put((byte) 0).put(body).array();
    String refusal = "expected at most one Authorization header but was 2";
    WebSocketCall inTheMessage = new WebSocketCall(port, "grpc-websockets", 2, List.of(
        ("content-type: application/grpc-web+proto\r\nauthorization: Bearer tok-alice\r\n"
            + "authorization: Bearer forged\r\n").getBytes(StandardCharsets.ISO_8859_1), message, new byte[] {1}));
    assertTrue(inTheMessage.all().contains("grpc-status: 13\r\n") && inTheMessage.all().contains(refusal),
        inTheMessage.all());
    // The upgrade's own header line rides on the subprotocol's.
    WebSocketCall inBoth = new WebSocketCall(port, "grpc-websockets\r\nAuthorization: Bearer tok-alice", 2, List.of(
        "content-type: application/grpc-web+proto\r\nauthorization: Bearer forged\r\n"
            .getBytes(StandardCharsets.ISO_8859_1), message, new byte[] {1}));
    assertTrue(inBoth.all().contains("grpc-status: 13\r\n") && inBoth.all().contains(refusal), inBoth.all());
    WebSocketCall json = new WebSocketCall(port, "wsgrpc-json", 1, List.of(
        "{\"metadata\": {\"authorization\": \"Bearer tok-alice\", \"Authorization\": \"Bearer forged\"}}"
            .getBytes(StandardCharsets.UTF_8),
        "{\"message\": {\"payload\": \"aGk=\"}}".getBytes(StandardCharsets.UTF_8),
        "{\"halfClose\": true}".getBytes(StandardCharsets.UTF_8)));
    assertEquals("{\"status\":{\"code\":13,\"message\":\"" + refusal + "\",\"details\":[]}}", json.all());
    assertTrue(seen.isEmpty(), "no call reached the service: " + seen);
  }

  @Test
  void aGrpcWebSocketsCallAuthenticatesWithABearerSubprotocol() throws Exception {
    start(AccessPolicy.newBuilder());
    WebSocketCall call = grpcWebSockets("grpc-websockets, bearer.tok-alice");
    assertAcceptedWithoutEchoingTheToken(call, "grpc-websockets");
    assertTrue(call.all().contains("over-grpc-websockets") && call.all().contains("grpc-status: 0\r\n"),
        call.all());
    WebSocketCall wrong = grpcWebSockets("bearer.wrong, grpc-websockets");
    assertAcceptedWithoutEchoingTheToken(wrong, "grpc-websockets");
    assertTrue(wrong.all().contains("grpc-status: 16\r\n"), wrong.all());
    assertEquals(List.of("alice alice 127.0.0.1"), new ArrayList<>(seen));
  }
}
