package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A gRPC-Web client that stops reading its answer has its connection closed after {@link BrowserOptions#sendTimeout()}
 * and its call cancelled: gRPC's flow control stops the call but holds it, and the connection, for ever, and HTTP/1.1
 * has no ping. Real sockets on loopback with a 4 KiB receive buffer, so that most of a server stream waits in the
 * server; a real gRPC server.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcWebSendTimeoutTest {

  private static final int MESSAGE_BYTES = 16 * 1024;

  private final EchoService echo = new EchoService();
  private Server server;
  private int port;

  private void start(Duration sendTimeout) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), WebSocketServerOptions
            .newBuilder()
            .browser(BrowserOptions.forOrigins("*").toBuilder().sendTimeout(sendTimeout).build())
            .build())
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

  /**
   * A connection to {@code port} with a small receive buffer (the window it offers) that has sent a gRPC-Web call of a
   * server stream of {@code messages} messages of 16 KiB, with {@code headers} ("Name: value\r\n" lines) added.
   */
  static Socket serverStreamCall(int port, int messages, String headers) throws IOException {
    Socket socket = new Socket();
    socket.setReceiveBufferSize(4096); // before connecting: it is the window the client offers
    socket.connect(new InetSocketAddress("127.0.0.1", port));
    socket.setSoTimeout(60_000);
    byte[] message = EchoRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[MESSAGE_BYTES]))
        .setCount(messages).build().toByteArray();
    byte[] body = ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message).array();
    socket.getOutputStream().write(("POST /wsgrpc.testing.Echo/ServerStream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + headers + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: "
        + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().write(body);
    socket.getOutputStream().flush();
    return socket;
  }

  @Test
  void aClientThatStopsReadingIsClosedAndItsCallCancelled() throws Exception {
    start(Duration.ofSeconds(1));
    int messages = 256; // 4 MiB: far more than the socket buffers hold
    try (Socket socket = serverStreamCall(port, messages, "Connection: close\r\n")) {
      // Nothing is read: the server's writes stop leaving.
      assertTrue(echo.cancelled.await(60, TimeUnit.SECONDS), "the service saw its call cancelled");
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      try {
        socket.getInputStream().transferTo(received); // what the socket buffers held, then the end
      } catch (SocketException reset) {
        // also an end
      }
      assertTrue(received.size() < messages * MESSAGE_BYTES, "the stream was cut: " + received.size() + " bytes");
    }
  }

  @Test
  void aClientThatReadsSlowlyButSteadilyGetsTheWholeStream() throws Exception {
    start(Duration.ofSeconds(2));
    int messages = 64; // 1 MiB, read 16 KiB every 100 ms: over 6 s, three times the timeout
    try (Socket socket = serverStreamCall(port, messages, "Connection: close\r\n")) {
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      byte[] chunk = new byte[16 * 1024];
      int read;
      while ((read = in.readNBytes(chunk, 0, chunk.length)) > 0) {
        received.write(chunk, 0, read);
        // Paces the client, a twentieth of the timeout apart; no assertion waits on it.
        TimeUnit.MILLISECONDS.sleep(100);
      }
      String answer = received.toString(StandardCharsets.ISO_8859_1);
      assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer.substring(0, Math.min(200, answer.length())));
      assertTrue(answer.contains("grpc-status: 0\r\n"), "the stream ended with its status");
      assertTrue(received.size() > messages * MESSAGE_BYTES, received.size() + " bytes");
    }
    assertEquals(1, echo.cancelled.getCount(), "the call completed without a cancellation");
  }
}
