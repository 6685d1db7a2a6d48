package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** gRPC-Web from a plain HTTP/1.1 client (the JDK's), for what the browser clients do not send. */
class BrowserHttpTest {

  private final EchoService echo = new EchoService();
  private Server server;
  private int port;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder().browser(BrowserOptions.forOrigins("*")).build())
        .addService(echo)
        .build()
        .start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    echo.shutdown();
  }

  private HttpResponse<byte[]> post(String path, String contentType, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .header("Content-Type", contentType)
        .header("X-Grpc-Web", "1")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .timeout(java.time.Duration.ofSeconds(30))
        .build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /**
   * A {@code -text} body, decoded as gRPC-Web clients do: padding may end any 4-character group, not only the last
   * (the server pads each piece it sends), which a whole-body decoder such as the JDK's refuses.
   */
  private static byte[] decodeGroupByGroup(byte[] text) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < text.length; i += 4) {
      out.writeBytes(Base64.getDecoder().decode(java.util.Arrays.copyOfRange(text, i, Math.min(text.length, i + 4))));
    }
    return out.toByteArray();
  }

  private static byte[] framed(byte[] message) {
    return ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message).array();
  }

  @Test
  void grpcWebTextCarriesTheCallAndItsTrailersInBase64() throws Exception {
    EchoRequest request = EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8("text!"))
        .build();
    HttpResponse<byte[]> response = post("/wsgrpc.testing.Echo/Unary", "application/grpc-web-text",
        Base64.getEncoder().encode(framed(request.toByteArray())));
    assertEquals(200, response.statusCode());
    assertEquals("application/grpc-web-text+proto", response.headers().firstValue("content-type").orElse(null));
    ByteBuffer body = ByteBuffer.wrap(decodeGroupByGroup(response.body()));
    assertEquals(0, body.get());
    byte[] message = new byte[body.getInt()];
    body.get(message);
    assertEquals("text!", EchoResponse.parseFrom(message).getPayload().toStringUtf8());
    assertEquals((byte) 0x80, body.get());
    byte[] trailers = new byte[body.getInt()];
    body.get(trailers);
    assertEquals("grpc-status: 0\r\n", new String(trailers, java.nio.charset.StandardCharsets.US_ASCII));
    assertEquals(0, body.remaining());
  }

  @Test
  void anUnknownMethodGetsUnimplementedInTheHeadersNeverAnHtmlPage() throws Exception {
    HttpResponse<byte[]> response = post("/no.Such/Method", "application/grpc-web+proto", framed(new byte[0]));
    assertEquals(200, response.statusCode());
    assertEquals("12", response.headers().firstValue("grpc-status").orElse(null));
    assertEquals("application/grpc-web+proto", response.headers().firstValue("content-type").orElse(null));
    assertEquals(0, response.body().length);
  }

  @Test
  void callsFollowEachOtherOnOneKeptAliveConnection() throws Exception {
    for (int i = 0; i < 5; i++) {
      EchoRequest request = EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8("n" + i))
          .build();
      HttpResponse<byte[]> response = post("/wsgrpc.testing.Echo/Unary", "application/grpc-web+proto",
          framed(request.toByteArray()));
      assertEquals(200, response.statusCode());
      assertTrue(new String(response.body(), java.nio.charset.StandardCharsets.ISO_8859_1).contains("n" + i));
    }
  }

  @Test
  void aRequestWithTwoAuthorizationOrOriginHeadersIsRefusedWhetherFirstOrFollowing() throws Exception {
    // A proxy may check one value and the server read the other: gRPC-Web requests are held to the upgrade's rule.
    byte[] body = framed(EchoRequest.getDefaultInstance().toByteArray());
    HttpResponse<byte[]> first = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
        + "/wsgrpc.testing.Echo/Unary")).header("Content-Type", "application/grpc-web+proto")
        .header("Authorization", "Bearer a").header("Authorization", "Bearer b")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(java.time.Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals("13", first.headers().firstValue("grpc-status").orElse(null));
    assertEquals("expected at most one Authorization header but was 2",
        first.headers().firstValue("grpc-message").orElse(null));
    assertEquals(0, echo.unaryCalls.get(), "nothing reached the service");

    assertEquals(200, post("/wsgrpc.testing.Echo/Unary", "application/grpc-web+proto", body).statusCode());
    HttpResponse<byte[]> following = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
        + "/wsgrpc.testing.Echo/Unary")).header("Content-Type", "application/grpc-web+proto")
        .header("Origin", "https://app.example").header("Origin", "https://other.example")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(java.time.Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals("13", following.headers().firstValue("grpc-status").orElse(null));
    assertEquals("expected at most one Origin header but was 2",
        following.headers().firstValue("grpc-message").orElse(null));
    assertEquals(1, echo.unaryCalls.get(), "only the call between them");
  }

  /**
   * Sends {@code undecodable}, a request the server's HTTP/1.1 decoder fails on, first as the first request of a
   * connection, then after a call on a kept-alive connection: both get the same answer (status, header fields, CORS
   * among them, and body), and both connections close after it. Returns the answer that followed the call.
   */
  private RawHttp.Answer sameAnswerFirstOrFollowing(String undecodable) throws Exception {
    RawHttp.Answer first;
    try (RawHttp.KeptAlive fresh = new RawHttp.KeptAlive(port)) {
      first = fresh.send(undecodable, new byte[0]);
      assertTrue(closedByServer(fresh), "the first request's answer ends the connection");
    }
    byte[] body = framed(EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8("kept"))
        .build().toByteArray());
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer call = pooled.send("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nOrigin: https://app.example\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n", body);
      assertEquals(200, call.status);
      assertTrue(call.bodyText().contains("kept") && call.bodyText().contains("grpc-status: 0\r\n"),
          call.bodyText());
      RawHttp.Answer following = pooled.send(undecodable, new byte[0]);
      assertEquals(first.status, following.status, new String(following.body, StandardCharsets.UTF_8));
      assertEquals(first.headers, following.headers);
      assertEquals(new String(first.body, StandardCharsets.UTF_8), new String(following.body, StandardCharsets.UTF_8));
      assertEquals("close", following.headers.get("connection"));
      assertEquals("text/plain; charset=utf-8", following.headers.get("content-type"));
      assertTrue(closedByServer(pooled), "the following request's answer ends the connection too");
      assertEquals(1, echo.unaryCalls.get(), "only the call before it reached the service");
      return following;
    }
  }

  /**
   * Whether the server closed the connection: the end of the stream, or a reset (the server closes at once after
   * such an answer, as after a first request's, and a reset is what closing a socket with unread bytes sends).
   */
  private static boolean closedByServer(RawHttp.KeptAlive connection) throws Exception {
    try {
      return connection.closedByServer();
    } catch (java.net.SocketException reset) {
      return true;
    }
  }

  @Test
  void aFollowingRequestWithHeadersOverTheLimitGets431AsAFirstOneDoes() throws Exception {
    StringBuilder pad = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      pad.append("X-Pad-").append(i).append(": aaaaaaaaaa\r\n"); // about 30 KiB against the 16 KiB limit
    }
    RawHttp.Answer answer = sameAnswerFirstOrFollowing("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\n"
        + "Host: 127.0.0.1\r\nContent-Type: application/grpc-web+proto\r\nOrigin: https://app.example\r\n" + pad
        + "Content-Length: 5\r\n\r\n");
    assertEquals(431, answer.status);
    assertEquals("expected request headers of at most 16384 bytes\n", new String(answer.body, StandardCharsets.UTF_8));
    assertEquals("*", answer.headers.get("access-control-allow-origin"), "a page may read why, as for a first request");
  }

  @Test
  void aFollowingRequestWithAMalformedRequestLineGets400AsAFirstOneDoes() throws Exception {
    RawHttp.Answer answer = sameAnswerFirstOrFollowing("HELLO\r\nHost: 127.0.0.1\r\n\r\n");
    assertEquals(400, answer.status);
    assertEquals("expected a request line such as 'GET /grpc HTTP/1.1' but it was malformed\n",
        new String(answer.body, StandardCharsets.UTF_8));
  }

  @Test
  void aFollowingRequestWithARequestLineOverTheLimitGets414AsAFirstOneDoes() throws Exception {
    RawHttp.Answer answer = sameAnswerFirstOrFollowing("POST /wsgrpc.testing.Echo/Unary?q=" + "a".repeat(5000)
        + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/grpc-web+proto\r\n\r\n");
    assertEquals(414, answer.status);
    assertEquals("expected a request line of at most 4096 bytes\n", new String(answer.body, StandardCharsets.UTF_8));
  }

  @Test
  void metadataOverGrpcsHeaderListLimitGetsResourceExhaustedNotSilence() throws Exception {
    byte[] body = framed(EchoRequest.getDefaultInstance().toByteArray());
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer answer = connection.send("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nX-Big: " + "a".repeat(9000) + "\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n", body);
      assertEquals(200, answer.status);
      assertEquals("8", answer.headers.get("grpc-status"));
      assertTrue(answer.headers.get("grpc-message").startsWith("expected metadata of at most 8192 bytes but it had "),
          answer.headers.get("grpc-message"));
      assertTrue(closedByServer(connection));
    }
    assertEquals(0, echo.unaryCalls.get());
  }

  @Test
  void aCallGrpcRefusesWithAnHttpStatusGetsAStatusNotSilence() throws Exception {
    // An absolute-form target reaches gRPC as a :path it refuses with HTTP 404 before any service sees the call.
    byte[] body = framed(EchoRequest.getDefaultInstance().toByteArray());
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer answer = connection.send("POST http://127.0.0.1/wsgrpc.testing.Echo/Unary HTTP/1.1\r\n"
          + "Host: 127.0.0.1\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n", body);
      assertEquals(200, answer.status);
      assertTrue(answer.headers.containsKey("grpc-status"), answer.headers.toString());
      assertTrue(answer.headers.get("grpc-message").startsWith("the server answered HTTP "),
          answer.headers.toString());
    }
    assertEquals(0, echo.unaryCalls.get());
  }

  @Test
  void aTransferEncodingOtherThanChunkedGets400FirstOrFollowing() throws Exception {
    byte[] body = framed(EchoRequest.getDefaultInstance().toByteArray());
    String identity = "POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nTransfer-Encoding: identity\r\n\r\n";
    try (RawHttp.KeptAlive fresh = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer first = fresh.send(identity, body);
      assertEquals(400, first.status);
      assertEquals("expected no Transfer-Encoding or 'chunked' but was identity\n",
          new String(first.body, StandardCharsets.UTF_8));
      assertTrue(closedByServer(fresh));
    }
    try (RawHttp.KeptAlive pooled = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer call = pooled.send("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n", body);
      assertEquals(200, call.status);
      RawHttp.Answer following = pooled.send(identity, body);
      assertEquals(400, following.status);
      assertEquals("expected no Transfer-Encoding or 'chunked' but was identity\n",
          new String(following.body, StandardCharsets.UTF_8));
      assertTrue(closedByServer(pooled));
    }
    assertEquals(1, echo.unaryCalls.get(), "only the call before it reached the service");
  }

  @Test
  void aBodyWithABrokenChunkSizeGets400AndNeverRunsTheCall() throws Exception {
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer answer = connection.send("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
          "5\r\n\u0000\u0000\u0000\u0000\u0000\r\nzz\r\n".getBytes(StandardCharsets.ISO_8859_1));
      assertEquals(400, answer.status);
      assertEquals("expected a body in chunked encoding (a hexadecimal chunk size, then CRLF) but it was malformed\n",
          new String(answer.body, StandardCharsets.UTF_8));
      assertTrue(closedByServer(connection));
    }
    assertEquals(0, echo.unaryCalls.get(), "the call was cancelled, never run");
  }

  private static final String UNARY_HEAD = "POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n";

  private static byte[] unaryBody(String text) {
    return framed(EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8(text)).build()
        .toByteArray());
  }

  @Test
  void aRequestPipelinedBehindACallHasTheCallAnsweredThenTheConnectionCloses() throws Exception {
    byte[] first = unaryBody("first");
    byte[] second = unaryBody("second");
    java.io.ByteArrayOutputStream both = new java.io.ByteArrayOutputStream();
    both.write(first);
    both.write((UNARY_HEAD + "Content-Length: " + second.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    both.write(second);
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer answer = connection.send(UNARY_HEAD + "Content-Length: " + first.length + "\r\n\r\n",
          both.toByteArray());
      assertEquals(200, answer.status);
      assertTrue(answer.bodyText().contains("first") && answer.bodyText().contains("grpc-status: 0"),
          answer.bodyText());
      assertEquals("close", answer.headers.get("connection"));
      assertTrue(closedByServer(connection), "the pipelined request is left for the client to send again");
    }
    assertEquals(1, echo.unaryCalls.get());
  }

  @Test
  void aPreflightPipelinedBehindACallIsNotAnsweredBeforeTheCall() throws Exception {
    byte[] body = unaryBody("first");
    java.io.ByteArrayOutputStream both = new java.io.ByteArrayOutputStream();
    both.write(body);
    both.write(("OPTIONS /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example\r\n"
        + "Access-Control-Request-Method: POST\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      RawHttp.Answer answer = connection.send(UNARY_HEAD + "Content-Length: " + body.length + "\r\n\r\n",
          both.toByteArray());
      assertEquals(200, answer.status);
      assertTrue(answer.bodyText().contains("first") && answer.bodyText().contains("grpc-status: 0"),
          "the call's answer comes first: " + answer.headers);
      assertTrue(closedByServer(connection));
    }
  }

  @Test
  void aClientThatSendsPreflightsWithoutReadingTheAnswersIsClosed() throws Exception {
    assertClosedWhenFloodedWithPreflights(false);
  }

  @Test
  void aClientThatSendsPreflightsWithoutReadingTheAnswersAfterACallIsClosed() throws Exception {
    assertClosedWhenFloodedWithPreflights(true);
  }

  /**
   * A client sends CORS preflights and reads none of the answers, on a server whose handshake and keep-alive
   * timeouts are far away: the server closes the connection long before 128 MB of them (the kernel's buffers, the
   * client's small, the server's up to tcp_rmem's and tcp_wmem's maximum, and the channel's high water mark of
   * answers), and goes on serving others.
   */
  private void assertClosedWhenFloodedWithPreflights(boolean callFirst) throws Exception {
    Server patient = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .browser(BrowserOptions.newBuilder(java.util.List.of("*"))
                    .keepAliveTimeout(java.time.Duration.ofMinutes(5)).build())
                .settings(dev.wsgrpc.core.TunnelSettings.newBuilder()
                    .handshakeTimeout(java.time.Duration.ofMinutes(5)).build())
                .build())
        .addService(echo)
        .build()
        .start();
    try {
      int patientPort = ((InetSocketAddress) patient.getListenSockets().get(0)).getPort();
      byte[] preflights = ("OPTIONS /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n").repeat(1000)
          .getBytes(StandardCharsets.ISO_8859_1);
      long sent = 0;
      try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(patientPort, 16 * 1024)) {
        if (callFirst) {
          byte[] body = unaryBody("before the preflights");
          assertEquals(200, connection.send(UNARY_HEAD + "Content-Length: " + body.length + "\r\n\r\n", body)
              .status);
        }
        while (sent < 128 << 20) {
          connection.sendOnly(preflights);
          sent += preflights.length;
        }
      } catch (java.io.IOException closed) {
        // the server closed the connection: the next write found it reset
      }
      assertTrue(sent < 128 << 20, "the server went on reading preflights whose answers nobody read: " + sent);
      try (RawHttp.KeptAlive other = new RawHttp.KeptAlive(patientPort)) {
        byte[] body = unaryBody("another client");
        RawHttp.Answer answer = other.send(UNARY_HEAD + "Content-Length: " + body.length + "\r\n\r\n", body);
        assertTrue(answer.bodyText().contains("another client"), answer.bodyText());
      }
    } finally {
      patient.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRequestThatExpects100ContinueGetsItBeforeItSendsTheBody() throws Exception {
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      byte[] body = unaryBody("after 100");
      RawHttp.Answer answer = connection.send(UNARY_HEAD + "Expect: 100-continue\r\nContent-Length: " + body.length
          + "\r\n\r\n", new byte[0]);
      assertEquals(100, answer.status);
      answer = connection.send("", body);
      assertEquals(200, answer.status);
      assertTrue(answer.bodyText().contains("after 100") && answer.bodyText().contains("grpc-status: 0"),
          answer.bodyText());
    }
  }

  @Test
  void tunnelsStillWorkOnTheSamePortWithBrowserProtocolsOn() {
    ManagedChannel channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    try {
      EchoResponse response = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .unary(EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8("tunnel")).build());
      assertArrayEquals("tunnel".getBytes(java.nio.charset.StandardCharsets.UTF_8),
          response.getPayload().toByteArray());
    } finally {
      channel.shutdownNow();
    }
  }
}
