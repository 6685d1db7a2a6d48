package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.FaultInjectingRelay;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A gRPC-Web request whose body stops arriving is ended after {@link BrowserOptions#requestBodyTimeout()}: HTTP/1.1
 * has no ping, so without it a client that vanished mid-body would hold its connection and its tunnel slot until TCP
 * noticed. Real sockets on loopback, a real gRPC server, a 1 s timeout; TLS through a slow relay where bytes must count
 * as they arrive rather than once TLS decrypted them.
 */
class GrpcWebRequestBodyTimeoutTest {

  private static final Duration BODY_TIMEOUT = Duration.ofSeconds(1);

  private final EchoService echo = new EchoService();
  /** Counts down when gRPC tells the service its call was cancelled. */
  private final CountDownLatch cancelled = new CountDownLatch(1);
  private Server server;
  private int port;

  private void start() throws Exception {
    start(null);
  }

  /** Starts the server, over TLS with {@code tls}'s certificate unless it is null. */
  private void start(TestCertificates tls) throws Exception {
    ServerInterceptor cancellations = new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
          ServerCallHandler<Q, A> next) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(next.startCall(call, headers)) {
          @Override
          public void onCancel() {
            cancelled.countDown();
            super.onCancel();
          }
        };
      }
    };
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.forOrigins("*").toBuilder().requestBodyTimeout(BODY_TIMEOUT).build());
    if (tls != null) {
      options.tls(ServerTls.pemFiles(tls.serverCertPem(), tls.serverKeyPem()));
    }
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options.build())
        .addService(ServerInterceptors.intercept(echo, cancellations))
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

  private static String head(String contentType, int contentLength) {
    return "POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + contentType
        + "\r\nX-Grpc-Web: 1\r\nContent-Length: " + contentLength + "\r\n\r\n";
  }

  /** The head of a binary gRPC-Web request after which the server closes the connection. */
  private static byte[] lastRequestHead(int contentLength) {
    return ("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: " + contentLength
        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"application/grpc-web+proto", "application/grpc-web-text"})
  void aBodyThatStopsArrivingIsCancelledAnswered408AndTheConnectionCloses(String contentType) throws Exception {
    start();
    byte[] body = BrowserCallIdentityTest.unaryBody("never finished");
    if (contentType.contains("text")) {
      body = Base64.getEncoder().encode(body);
    }
    try (RawHttp.KeptAlive connection = new RawHttp.KeptAlive(port)) {
      long started = System.nanoTime();
      // The head and part of the body, then nothing: the client stalled or vanished without a FIN.
      RawHttp.Answer answer = connection.send(head(contentType, body.length), java.util.Arrays.copyOf(body, 8));
      assertEquals(408, answer.status, answer.headers.toString());
      assertEquals("expected more of the request body within 1000 ms but none arrived\n", answer.bodyText());
      assertEquals("close", answer.headers.get("connection"));
      assertTrue(System.nanoTime() - started >= BODY_TIMEOUT.toNanos(), "not before the timeout");
      assertTrue(connection.closedByServer());
    }
    assertTrue(cancelled.await(30, TimeUnit.SECONDS), "the service saw its call cancelled");
  }

  @Test
  void aBodyThatArrivesSlowlyButSteadilyIsNotCut() throws Exception {
    start();
    byte[] body = BrowserCallIdentityTest.unaryBody("steady, byte by byte");
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(lastRequestHead(body.length));
      out.flush();
      // A byte every 100 ms (27 bytes: over 2.5 s in all, more than twice the timeout), a tenth of the timeout
      // apart, so a busy machine that wakes the client late does not make a silence of it. The pause paces the
      // client; no assertion waits on it.
      for (byte b : body) {
        out.write(b);
        out.flush();
        TimeUnit.MILLISECONDS.sleep(100);
      }
      InputStream in = socket.getInputStream();
      String answer = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
      assertTrue(answer.contains("steady, byte by byte") && answer.contains("grpc-status: 0\r\n"), answer);
    }
    assertEquals(1, cancelled.getCount(), "the call completed without a cancellation");
  }

  @Test
  void aBodyInATlsRecordThatArrivesSlowlyButSteadilyIsNotCut() throws Exception {
    TestCertificates certs = TestCertificates.create();
    start(certs);
    byte[] body = BrowserCallIdentityTest.unaryBody("x".repeat(12_000));
    try (FaultInjectingRelay slowLink = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port))) {
      // 256 bytes every 60 ms: the body's TLS record (about 12 KiB, one write) takes some 2.8 s to arrive, nearly
      // three times the timeout, and none of it is decrypted before its last byte; its bytes arrive all along.
      slowLink.slowUplink(256, 60);
      try (Socket socket = certs.jdkClientContext().getSocketFactory().createSocket("127.0.0.1", slowLink.port())) {
        socket.setSoTimeout(30_000);
        OutputStream out = socket.getOutputStream();
        out.write(lastRequestHead(body.length));
        out.flush();
        out.write(body);
        out.flush();
        String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
        assertTrue(answer.contains("grpc-status: 0\r\n"), answer);
      }
    }
    assertEquals(1, cancelled.getCount(), "the call completed without a cancellation");
  }
}
