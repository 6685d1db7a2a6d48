package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.JsonSchemas;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The statuses every browser protocol gives for the same event, against the library server with a real gRPC
 * service on loopback: a deadline that passes on the server (DEADLINE_EXCEEDED, not CANCELLED, on gRPC-Web,
 * grpc-websockets and wsgrpc-json), a gRPC-Web format other than protobuf, a gRPC-Web body that is not framed as
 * gRPC messages, a request message over gRPC's limit (gRPC-Web and grpc-websockets, also once the response began,
 * as wsgrpc-json then; a compressed gRPC-Web message that decompresses past it ends UNKNOWN, as grpc-java decides),
 * an oversized JSON message, and the CORS preflight's headers.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BrowserStatusTest {

  /** What every deadline test expects: grpc-java cancels the call at its 500 ms deadline. */
  private static final String DEADLINE = "deadline of 500 ms \\(grpc-timeout 500m\\) exceeded after \\d+ ms";

  private static final EchoService echo = new EchoService();
  private static Server server;
  private static String address;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder().browser(BrowserOptions.newBuilder(List.of("https://app.example"))
                .json(JsonSchemas.of(List.of(echo))).build()).build())
        .addService(echo)
        .build()
        .start();
    address = "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    echo.shutdown();
  }

  private static byte[] framed(byte[] message) {
    return ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message).array();
  }

  private static byte[] slowRequest() {
    return EchoRequest.newBuilder().setDelayMs(3000).build().toByteArray();
  }

  private HttpResponse<byte[]> grpcWeb(String contentType, byte[] body, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://" + address
        + "/wsgrpc.testing.Echo/Unary"))
        .header("Content-Type", contentType)
        .header("X-Grpc-Web", "1")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .timeout(Duration.ofSeconds(30));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void grpcWebDeadlineThatPassesOnTheServerIsDeadlineExceeded() throws Exception {
    HttpResponse<byte[]> response = grpcWeb("application/grpc-web+proto", framed(slowRequest()),
        "grpc-timeout", "500m");
    assertEquals(200, response.statusCode());
    assertEquals("4", response.headers().firstValue("grpc-status").orElse(null), response.headers().toString());
    String message = response.headers().firstValue("grpc-message").orElse("");
    assertTrue(message.matches(DEADLINE), message);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "0000000100 0a02 | expected a message of 256 bytes (its length prefix) but the body ended after 2",
      "0000000003 0a0168 00000000 | expected a 5-byte message header but the body ended after 4",
      "0100000000 | expected an uncompressed message (flags 0x00: the request has no grpc-encoding) but its flags "
          + "were 0x01",
      "0000000000 8000000000 | expected a message (flags 0x00) but was a trailers frame (flags 0x80), which only a "
          + "server sends",
      "0200000000 | expected a message with flags 0x00 (or 0x01, compressed, with a grpc-encoding) but its flags "
          + "were 0x02"})
  void aGrpcWebBodyNotFramedAsGrpcMessagesIsRefusedSayingWhatWasExpectedAndWhatArrived(String hex, String expected)
      throws Exception {
    byte[] body = java.util.HexFormat.of().parseHex(hex.replace(" ", ""));
    int before = echo.unaryCalls.get();
    HttpResponse<byte[]> response = grpcWeb("application/grpc-web+proto", body);
    assertEquals(200, response.statusCode());
    assertEquals("13", response.headers().firstValue("grpc-status").orElse(null), response.headers().toString());
    assertEquals(expected, response.headers().firstValue("grpc-message").orElse(null));
    assertEquals(before, echo.unaryCalls.get(), "nothing reached the service");
  }

  @Test
  void aGrpcWebSocketsCallWhoseMessagesAreNotFramedAsGrpcMessagesIsRefusedSayingWhatWasExpectedAndWhatArrived()
      throws Exception {
    byte[] headers = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"
        .getBytes(StandardCharsets.ISO_8859_1);
    int before = echo.unaryCalls.get();
    // A data message whose gRPC message says 256 bytes but holds 2, then the half-close.
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
        URI.create("ws://" + address + "/wsgrpc.testing.Echo/Unary"), "grpc-websockets", headers,
        new byte[] {0, 0, 0, 0, 1, 0, 0x0a, 0x02}, new byte[] {1});
    assertEquals(1000, exchange.closeCode);
    assertEquals("grpc-status: 13\r\ngrpc-message: expected a message of 256 bytes (its length prefix) but the body "
        + "ended after 2\r\n", exchange.lastHeaderFrame());
    assertEquals(before, echo.unaryCalls.get(), "nothing reached the service");
  }

  /** The server's gRPC message limit (grpc-java's default) and a message length one byte over it. */
  private static final int MAX_MESSAGE = 4 * 1024 * 1024;
  private static final String OVER_THE_LIMIT = "expected a request message of at most " + MAX_MESSAGE
      + " bytes but its length prefix said " + (MAX_MESSAGE + 1);

  @Test
  void aGrpcWebRequestMessageOverTheServersLimitIsRefusedSayingTheLimitAndItsLengthPrefix() throws Exception {
    int before = echo.unaryCalls.get();
    HttpResponse<byte[]> response = grpcWeb("application/grpc-web+proto", framed(new byte[MAX_MESSAGE + 1]));
    assertEquals(200, response.statusCode());
    assertEquals("8", response.headers().firstValue("grpc-status").orElse(null), response.headers().toString());
    assertEquals(OVER_THE_LIMIT, response.headers().firstValue("grpc-message").orElse(null));
    assertEquals(before, echo.unaryCalls.get(), "nothing reached the service");
  }

  @Test
  void aGrpcWebSocketsRequestMessageOverTheServersLimitIsRefusedOnItsLengthPrefix() throws Exception {
    byte[] headers = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"
        .getBytes(StandardCharsets.ISO_8859_1);
    int before = echo.unaryCalls.get();
    // A data message that holds only the 5-byte header of a message one byte over the limit: gRPC refuses it on that.
    byte[] data = ByteBuffer.allocate(6).put((byte) 0).put((byte) 0).putInt(MAX_MESSAGE + 1).array();
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
        URI.create("ws://" + address + "/wsgrpc.testing.Echo/Unary"), "grpc-websockets", headers, data);
    assertEquals(1000, exchange.closeCode);
    String trailers = exchange.lastHeaderFrame();
    assertTrue(trailers.contains("grpc-status: 8\r\n"), trailers);
    assertTrue(trailers.contains("grpc-message: " + OVER_THE_LIMIT + "\r\n"), trailers);
    assertEquals(before, echo.unaryCalls.get(), "nothing reached the service");
  }

  @Test
  void aCompressedGrpcWebMessageThatDecompressesPastTheLimitEndsUnknownAsGrpcJavaDecides() throws Exception {
    // Zeros compress a thousandfold: the length prefix is far below the limit, the message 5 bytes over it. grpc-java
    // learns that only in the service's marshaller and ends the call UNKNOWN (docs/SECURITY.md): should a later
    // version say RESOURCE_EXHAUSTED, the docs that describe this answer need changing.
    byte[] message = EchoRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[MAX_MESSAGE])).build()
        .toByteArray();
    ByteArrayOutputStream compressed = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(compressed)) {
      gzip.write(message);
    }
    byte[] body = framed(compressed.toByteArray());
    body[0] = 1; // compressed, with the request's grpc-encoding
    int before = echo.unaryCalls.get();
    HttpResponse<byte[]> response = grpcWeb("application/grpc-web+proto", body, "grpc-encoding", "gzip");
    assertEquals(200, response.statusCode());
    assertEquals("2", response.headers().firstValue("grpc-status").orElse(null), response.headers().toString());
    assertEquals("Application error processing RPC", response.headers().firstValue("grpc-message").orElse(null));
    assertEquals(before, echo.unaryCalls.get(), "nothing reached the service");
  }

  /** A data message of a framed Echo request, then one holding only the header of a message over the limit. */
  private static byte[][] echoThenOverTheLimit() {
    byte[] first = framed(EchoRequest.newBuilder().setPayload(ByteString.copyFromUtf8("first")).build().toByteArray());
    return new byte[][] {ByteBuffer.allocate(1 + first.length).put((byte) 0).put(first).array(),
        ByteBuffer.allocate(6).put((byte) 0).put((byte) 0).putInt(MAX_MESSAGE + 1).array()};
  }

  @Test
  void aGrpcWebSocketsMessageOverTheLimitAfterTheResponseBeganIsRefusedSayingTheLimitAndItsLengthPrefix()
      throws Exception {
    byte[] headers = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"
        .getBytes(StandardCharsets.ISO_8859_1);
    byte[][] data = echoThenOverTheLimit();
    // The service answers the first message (response headers, then its echo) before gRPC reads the second's header:
    // gRPC can then no longer answer with trailers and resets the stream.
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
        URI.create("ws://" + address + "/wsgrpc.testing.Echo/Bidi"), "grpc-websockets", headers, data[0], data[1]);
    assertEquals(1000, exchange.closeCode);
    assertTrue(exchange.messages.size() >= 3, "response headers, the echo, then trailers: " + exchange.messages);
    String trailers = exchange.lastHeaderFrame();
    assertEquals("grpc-status: 8\r\ngrpc-message: " + OVER_THE_LIMIT + "\r\n", trailers);
  }

  @Test
  void aGrpcWebMessageOverTheLimitAfterTheResponseBeganIsRefusedSayingTheLimitAndItsLengthPrefix()
      throws Exception {
    byte[][] data = echoThenOverTheLimit();
    byte[] body = ByteBuffer.allocate(data[0].length + data[1].length - 2).put(data[0], 1, data[0].length - 1)
        .put(data[1], 1, data[1].length - 1).array();
    String[] hostPort = address.split(":");
    try (Socket socket = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
      socket.setSoTimeout(30_000);
      // The body stays open after one chunk: the first message, then the header of one over the limit.
      socket.getOutputStream().write(("POST /wsgrpc.testing.Echo/Bidi HTTP/1.1\r\nHost: " + address + "\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
          + Integer.toHexString(body.length) + "\r\n" + new String(body, StandardCharsets.ISO_8859_1) + "\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      StringBuilder answer = new StringBuilder();
      java.io.InputStream in = socket.getInputStream();
      for (int b; !answer.toString().endsWith("\r\n0\r\n\r\n") && (b = in.read()) != -1; ) {
        answer.append((char) b);
      }
      String text = answer.toString();
      assertTrue(text.startsWith("HTTP/1.1 200 "), text);
      assertTrue(text.contains("first"), "the echo of the first message came first: " + text);
      assertTrue(text.contains("grpc-status: 8\r\ngrpc-message: " + OVER_THE_LIMIT + "\r\n"), text);
    }
  }

  @Test
  void aJsonMessageOverGrpcsLimitAfterTheResponseBeganIsRefusedSayingTheLimitAndItsSize() throws Exception {
    // JSON messages up to 8 MiB (more than gRPC's 4 MiB, which the docs advise against): gRPC refuses the protobuf.
    Server json = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder().browser(BrowserOptions.newBuilder(List.of("https://app.example"))
                .json(JsonSchemas.of(List.of(echo))).maxJsonMessageBytes(2 * MAX_MESSAGE).build()).build())
        .addService(echo)
        .build()
        .start();
    try {
      String big = "{\"message\": {\"payload\": \""
          + Base64.getEncoder().encodeToString(new byte[MAX_MESSAGE]) + "\"}}";
      JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(URI.create("ws://127.0.0.1:"
          + ((InetSocketAddress) json.getListenSockets().get(0)).getPort() + "/wsgrpc.testing.Echo/Bidi"),
          "wsgrpc-json", "{\"metadata\": {}}", "{\"message\": {\"payload\": \"aGk=\"}}", big);
      assertEquals(1000, exchange.closeCode);
      List<String> texts = exchange.texts();
      assertEquals(3, texts.size(), texts.toString());
      // The size of the protobuf the server made of the JSON (the client sent no length prefix): the payload, its tag
      // and its 4-byte length varint.
      assertEquals("{\"status\":{\"code\":8,\"message\":\"expected a request message of at most " + MAX_MESSAGE
          + " bytes but its protobuf had " + (MAX_MESSAGE + 5) + "\",\"details\":[]}}", texts.get(2));
    } finally {
      json.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void grpcWebSocketsDeadlineThatPassesOnTheServerIsDeadlineExceeded() throws Exception {
    byte[] headers = ("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\ngrpc-timeout: 500m\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    byte[] framed = framed(slowRequest());
    byte[] data = ByteBuffer.allocate(1 + framed.length).put((byte) 0).put(framed).array();
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
        URI.create("ws://" + address + "/wsgrpc.testing.Echo/Unary"), "grpc-websockets", headers, data,
        new byte[] {1});
    assertEquals(1000, exchange.closeCode);
    String trailers = exchange.lastHeaderFrame();
    assertTrue(trailers.matches("grpc-status: 4\r\ngrpc-message: " + DEADLINE + "\r\n"), trailers);
  }

  @Test
  void jsonDeadlineThatPassesOnTheServerIsDeadlineExceeded() throws Exception {
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
        URI.create("ws://" + address + "/wsgrpc.testing.Echo/Unary"), "wsgrpc-json",
        "{\"metadata\": {\"grpc-timeout\": \"500m\"}}", "{\"message\": {\"delayMs\": 3000}}", "{\"halfClose\": true}");
    assertEquals(1000, exchange.closeCode);
    List<String> texts = exchange.texts();
    assertEquals(1, texts.size(), texts.toString());
    assertTrue(texts.get(0).matches("\\{\"status\":\\{\"code\":4,\"message\":\"" + DEADLINE
        + "\",\"details\":\\[]}}"), texts.get(0));
  }

  @Test
  void anOversizedJsonMessageIsRefusedWithTheLimitAndTheSizeThatArrived() throws Exception {
    String big = "{\"message\": {\"payload\": \"" + Base64.getEncoder().encodeToString(new byte[5 * 1024 * 1024])
        + "\"}}";
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(
        URI.create("ws://" + address + "/wsgrpc.testing.Echo/Unary"), "wsgrpc-json", big);
    List<String> texts = exchange.texts();
    assertEquals(1, texts.size(), texts.toString());
    assertTrue(texts.get(0).matches("\\{\"status\":\\{\"code\":8,\"message\":\"expected a message of at most "
        + "4194304 bytes but it had (at least )?\\d+\",\"details\":\\[]}}"), texts.get(0));
  }

  @Test
  void grpcWebInAnotherFormatThanProtobufGets415SayingWhatWasExpectedAndNeverReachesTheService() throws Exception {
    List<LogRecord> severe = Collections.synchronizedList(new ArrayList<>());
    Handler recorder = new Handler() {
      @Override
      public void publish(LogRecord record) {
        if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
          severe.add(record);
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    Logger grpc = Logger.getLogger("io.grpc");
    grpc.addHandler(recorder);
    try {
      int before = echo.unaryCalls.get();
      HttpResponse<byte[]> response = grpcWeb("application/grpc-web+json",
          framed("{\"payload\": \"aGk=\"}".getBytes(StandardCharsets.UTF_8)));
      assertEquals(415, response.statusCode());
      assertEquals("expected application/grpc-web[+proto] or application/grpc-web-text[+proto] but was "
          + "application/grpc-web+json\n", new String(response.body(), StandardCharsets.UTF_8));
      assertEquals(before, echo.unaryCalls.get(), "nothing reached the service");
    } finally {
      grpc.removeHandler(recorder);
    }
    assertEquals(List.of(), severe.stream().map(LogRecord::getMessage).toList());
  }

  @Test
  void aCorsPreflightIsAnsweredWithoutAQuotedDate() throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + address
        + "/wsgrpc.testing.Echo/Unary"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .timeout(Duration.ofSeconds(30))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    assertEquals("https://app.example", response.headers().firstValue("access-control-allow-origin").orElse(null));
    assertEquals("POST", response.headers().firstValue("access-control-allow-methods").orElse(null));
    assertEquals("600", response.headers().firstValue("access-control-max-age").orElse(null));
    assertFalse(response.headers().firstValue("date").isPresent(), response.headers().toString());
  }
}
