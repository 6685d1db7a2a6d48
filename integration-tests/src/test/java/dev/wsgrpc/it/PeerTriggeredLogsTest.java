package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.internal.RateLimitedLog;
import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * What a flood of peers can make the library server log: 1000 failed TLS handshakes of every kind, or 400 native
 * gRPC streams whose headers gRPC rejects, give a handful of lines, none with a stack trace (grpc-java's and Netty's
 * own loggers included, through the JUL bridge), and every failed handshake is counted.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PeerTriggeredLogsTest {

  private static final TestCertificates CERTS = TestCertificates.create();

  /** Bad handshakes of four kinds, each sent to a new connection that the server must close. */
  static final List<byte[]> NOT_TLS = List.of(
      "GET /grpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-for-logs\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
      new byte[] {0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5}, // a handshake record that is no ClientHello
      new byte[] {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}); // an alert before anything

  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final AtomicInteger tlsFailures = new AtomicInteger();
  private final CountDownLatch allTlsFailures = new CountDownLatch(1000);
  private Server server;
  private int port;

  @BeforeEach
  void start() throws Exception {
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    lines.start();
    root.addAppender(lines);
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(CERTS.serverCertPem(), CERTS.serverKeyPem()))
        .listener(new TunnelListener() {
          @Override
          public void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {
            if (reason == RejectReason.TLS) {
              tlsFailures.incrementAndGet();
              allTlsFailures.countDown();
            }
          }
        })
        .build();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .addService(new EchoService()).build().start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterEach
  void stop() throws Exception {
    root.detachAppender(lines);
    SLF4JBridgeHandler.uninstall();
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** Sends {@code bytes} on a new connection and waits until the server closes it. */
  static void sendAndAwaitClose(int port, byte[] bytes) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(bytes);
      out.flush();
      InputStream in = socket.getInputStream();
      try {
        while (in.read() != -1) {
          // an alert, perhaps; then the close
        }
      } catch (java.net.SocketException reset) {
        // closed with unread bytes: a reset is a close too
      }
    }
  }

  /** A real TLS client that does not trust the server's certificate: the handshake fails on the client's side. */
  static void distrustingClient(int port) throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, null, null); // the JDK's trust store: the test CA is not in it
    try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      socket.startHandshake();
      throw new AssertionError("the handshake should have failed");
    } catch (SSLException expected) {
      // PKIX path building failed
    }
  }

  /** The burst, then one line per refill: what {@link RateLimitedLog}'s defaults let through in {@code nanos}. */
  static long allowedLines(long nanos) {
    long refill = RateLimitedLog.DEFAULT_PERIOD.toNanos() / RateLimitedLog.DEFAULT_BURST;
    return RateLimitedLog.DEFAULT_BURST + nanos / refill + 1;
  }

  /**
   * The lines at INFO and above logged since {@code start}: no more than the rate limit lets through in that time,
   * and none with a stack trace.
   */
  private List<ILoggingEvent> loudLines(long start) {
    List<ILoggingEvent> loud = lines.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.INFO))
        .collect(Collectors.toList());
    assertTrue(loud.size() <= allowedLines(System.nanoTime() - start), loud.size() + " lines in "
        + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) + " s:\n" + show(loud));
    for (ILoggingEvent e : loud) {
      assertNull(e.getThrowableProxy(), "a stack trace: " + e.getLoggerName() + " " + e.getFormattedMessage());
    }
    return loud;
  }

  private static String show(List<ILoggingEvent> events) {
    return events.stream().map(e -> e.getLoggerName() + " " + e.getFormattedMessage())
        .collect(Collectors.joining("\n"));
  }

  @Test
  void aThousandFailedTlsHandshakesLogAHandfulOfLinesWithoutStackTraces() throws Exception {
    long start = System.nanoTime();
    for (int i = 0; i < 1000; i++) {
      if (i % 4 == 3) {
        distrustingClient(port);
      } else {
        sendAndAwaitClose(port, NOT_TLS.get(i % 4));
      }
    }
    allTlsFailures.await(60, TimeUnit.SECONDS);
    assertEquals(1000, tlsFailures.get(), "every failed handshake is counted");
    List<ILoggingEvent> loud = loudLines(start);
    String shown = show(loud);
    for (ILoggingEvent e : loud) {
      assertTrue(!e.getFormattedMessage().contains("not-for-logs")
          && !e.getFormattedMessage().contains("6e6f742d666f722d6c6f6773"), "request bytes in the log:\n" + shown);
    }
    // And the server still serves.
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions
        .newBuilder("wss://localhost:" + port + "/grpc").tls(ClientTls.trusting(CERTS.caPem())).build()).build();
    try {
      assertEquals(4, dev.wsgrpc.testing.proto.EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .unary(EchoService.payload(4)).getPayload().size());
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Opens {@code streams} native gRPC streams on a new connection, each with a header gRPC cannot accept (a
   * {@code -bin} value that is not base64), and returns how many of them the server reset.
   */
  static int rejectedStreams(int port, int streams) throws IOException {
    byte[] block = Http2Wire.headerBlock(Map.of(":method", "POST", ":scheme", "http", ":path",
        "/dev.wsgrpc.testing.Echo/Unary", ":authority", "localhost", "content-type", "application/grpc",
        "te", "trailers", "x-b-bin", "!!!"));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(Http2Wire.PREFACE);
    out.writeBytes(Http2Wire.settings());
    for (int i = 0; i < streams; i++) {
      out.writeBytes(Http2Wire.headers(1 + 2 * i, Http2Wire.FLAG_END_HEADERS | Http2Wire.FLAG_END_STREAM, block));
    }
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(out.toByteArray());
      DataInputStream in = new DataInputStream(socket.getInputStream());
      int resets = 0;
      while (resets < streams) {
        Http2Wire.Frame frame = Http2Wire.read(in);
        if (frame.type == Http2Wire.RST_STREAM) {
          resets++;
        } else if (frame.type == Http2Wire.GOAWAY) {
          break;
        }
      }
      return resets;
    }
  }

  @Test
  void streamsWhoseHeadersGrpcRejectsLogAHandfulOfLinesWithoutStackTraces() throws Exception {
    // grpc-java logs a WARNING record with a stack trace for each such stream, before any interceptor (a token check)
    // runs: the server library holds them to the rate limit (GrpcServerLogLimit).
    RateLimitedLog.refillAll();
    Server nativeServer = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().nativeGrpc(true).build()).addService(new EchoService()).build().start();
    try {
      int nativePort = ((InetSocketAddress) nativeServer.getListenSockets().get(0)).getPort();
      long start = System.nanoTime();
      int resets = 0;
      for (int connection = 0; connection < 4; connection++) {
        resets += rejectedStreams(nativePort, 100);
      }
      assertEquals(400, resets, "every stream is reset");
      List<ILoggingEvent> loud = loudLines(start);
      assertTrue(loud.stream().anyMatch(e -> e.getLoggerName().equals("io.grpc.netty.NettyServerHandler.limited")
          && e.getLevel() == Level.INFO && e.getFormattedMessage().startsWith(
          "Stream Error: StreamException: Validation failed for header 'x-b-bin'")),
          "grpc-java's line, once, without its stack trace:\n" + show(loud));
      // And the server still serves.
      ManagedChannel channel = io.grpc.Grpc.newChannelBuilderForAddress("127.0.0.1", nativePort,
          io.grpc.InsecureChannelCredentials.create()).build();
      try {
        assertEquals(4, dev.wsgrpc.testing.proto.EchoGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(4)).getPayload().size());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      nativeServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
