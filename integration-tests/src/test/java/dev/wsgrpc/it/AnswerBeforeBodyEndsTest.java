package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A server that answers before the request's body has arrived (a refusal, a message over the limit) lets the client
 * finish sending it and read the answer. Closing at once, with the client's bytes unread, would make the kernel send
 * a reset that can overtake the answer: a browser still uploading then reports "Failed to fetch" instead of the
 * status. Real sockets, plain and TLS; the client uploads the whole body before it reads, as a browser does.
 */
class AnswerBeforeBodyEndsTest {

  /** Over gRPC's 4 MiB message limit, under the 16 MiB the server drains after an early answer. */
  private static final int BODY_BYTES = 5 << 20;

  private static TestCertificates certs;
  private final EchoService echo = new EchoService();
  private Server server;
  private int port;

  @BeforeAll
  static void certificates() {
    certs = TestCertificates.create();
  }

  @AfterAll
  static void done() {
    certs = null;
  }

  private void start(boolean tls) throws Exception {
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.forOrigins("*"));
    if (tls) {
      options.tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()));
    }
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options.build())
        .addService(echo)
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

  @ParameterizedTest(name = "tls={0}")
  @ValueSource(booleans = {false, true})
  void aMessageOverTheLimitIsAnsweredResourceExhaustedWhileTheClientStillUploads(boolean tls) throws Exception {
    start(tls);
    // One gRPC-Web message whose length prefix says 5 MiB: gRPC refuses it on the prefix, long before the rest.
    ByteBuffer body = ByteBuffer.allocate(BODY_BYTES);
    body.put((byte) 0).putInt(BODY_BYTES - 5);
    String answer = uploadThenRead(tls, "POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: localhost\r\n"
        + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: " + BODY_BYTES + "\r\n\r\n",
        body.array());
    assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
    assertTrue(answer.contains("grpc-status: 8\r\n"), answer);
    assertTrue(answer.contains("connection: close\r\n"), answer);
  }

  @ParameterizedTest(name = "tls={0}")
  @ValueSource(booleans = {false, true})
  void aRefusedUploadIsAnsweredWhileTheClientStillUploads(boolean tls) throws Exception {
    start(tls);
    String answer = uploadThenRead(tls, "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
        + "Content-Length: " + BODY_BYTES + "\r\n\r\n", new byte[BODY_BYTES]);
    assertTrue(answer.startsWith("HTTP/1.1 404 Not Found\r\n"), answer);
    assertTrue(answer.endsWith("no WebSocket endpoint at /upload (a gRPC-Web call expected Content-Type "
        + "application/grpc-web but was 'text/plain')\n"), answer);
  }

  /**
   * Sends {@code head} and {@code body} (the server answers early, while the upload goes on), then reads the answer
   * to its end. Fails with a reset ("Connection reset", "Broken pipe") if the server closed on unread bytes.
   */
  private String uploadThenRead(boolean tls, String head, byte[] body) throws Exception {
    try (Socket socket = tls ? certs.jdkClientContext().getSocketFactory().createSocket("127.0.0.1", port)
        : new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      for (int sent = 0; sent < body.length; sent += 64 * 1024) {
        out.write(body, sent, Math.min(64 * 1024, body.length - sent));
      }
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      byte[] buffer = new byte[4096];
      for (int n; (n = in.read(buffer)) != -1; ) {
        answer.write(buffer, 0, n);
      }
      return answer.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
