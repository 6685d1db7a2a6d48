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
import dev.wsgrpc.testing.ExternalProgram;
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
 * What a flood of peers can make us log: 1000 failed TLS handshakes of every kind, 400 native gRPC streams whose
 * headers gRPC rejects, hundreds of calls whose messages cannot be deframed (natively and through a tunnel) or are not
 * protobuf, give the library server a handful of lines, none with a stack trace (grpc-java's and Netty's own loggers
 * included, through the JUL bridge), while a service's own failure still logs whole; every failed handshake is
 * counted. An upstream answering each connection with GOAWAY ENHANCE_YOUR_CALM gives the gateway's proxy mode a
 * handful of lines in printable ASCII, and a flood of local connections whose tunnels fail gives {@code forward} a
 * handful of lines.
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
    List<ILoggingEvent> loud = snapshot().stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.INFO))
        .collect(Collectors.toList());
    assertTrue(loud.size() <= allowedLines(System.nanoTime() - start), loud.size() + " lines in "
        + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) + " s:\n" + show(loud));
    for (ILoggingEvent e : loud) {
      assertNull(e.getThrowableProxy(), "a stack trace: " + e.getLoggerName() + " " + e.getFormattedMessage());
    }
    return loud;
  }

  /** The lines so far (the appender adds to its list under its own lock, from any thread). */
  private List<ILoggingEvent> snapshot() {
    synchronized (lines) {
      return List.copyOf(lines.list);
    }
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
        "/" + dev.wsgrpc.testing.proto.EchoGrpc.getUnaryMethod().getFullMethodName(), ":authority", "localhost",
        "content-type", "application/grpc", "te", "trailers", "x-b-bin", "!!!"));
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

  /**
   * Sends {@code streams} native gRPC calls to Echo/Unary on a new connection, each with one DATA frame (END_STREAM)
   * carrying {@code body(i)}, and waits until the server has ended every one (trailers or RST_STREAM).
   */
  static void callsWithBodies(int port, int streams, java.util.function.IntFunction<byte[]> body) throws IOException {
    byte[] block = Http2Wire.grpcRequestBlock(
        "/" + dev.wsgrpc.testing.proto.EchoGrpc.getUnaryMethod().getFullMethodName(), "localhost");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(Http2Wire.PREFACE);
    out.writeBytes(Http2Wire.settings());
    for (int i = 0; i < streams; i++) {
      int id = 1 + 2 * i;
      out.writeBytes(Http2Wire.headers(id, Http2Wire.FLAG_END_HEADERS, block));
      out.writeBytes(Http2Wire.frame(Http2Wire.DATA, Http2Wire.FLAG_END_STREAM, id, body.apply(i)));
    }
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(out.toByteArray());
      DataInputStream in = new DataInputStream(socket.getInputStream());
      java.util.Set<Integer> ended = new java.util.HashSet<>();
      while (ended.size() < streams) {
        Http2Wire.Frame frame = Http2Wire.read(in);
        if (frame.type == Http2Wire.RST_STREAM
            || frame.type == Http2Wire.HEADERS && (frame.flags & Http2Wire.FLAG_END_STREAM) != 0) {
          ended.add(frame.streamId);
        } else if (frame.type == Http2Wire.GOAWAY) {
          throw new AssertionError("GOAWAY after " + ended.size() + " calls ended");
        }
      }
    }
  }

  /** A gRPC message frame: the flag byte, the length, the bytes. */
  static byte[] grpcFrame(int flags, int length, byte... bytes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(flags);
    out.write(length >>> 24);
    out.write(length >>> 16);
    out.write(length >>> 8);
    out.write(length);
    out.writeBytes(bytes);
    return out.toByteArray();
  }

  private static Server nativeServer(io.grpc.ServerServiceDefinition service) throws IOException {
    return WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().nativeGrpc(true).build()).addService(service).build().start();
  }

  /**
   * The same on a server built with {@code directExecutor()} (a common setting for speed, and the gateway's): grpc-java
   * logs the record through another executor's logger, which was not limited (a SEVERE line with a stack trace per
   * call).
   */
  @Test
  void callsWhoseMessagesAreNotProtobufLogAHandfulOfLinesOnADirectExecutorServer() throws Exception {
    RateLimitedLog.refillAll();
    Server nativeServer = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().nativeGrpc(true).build()).directExecutor()
        .addService(new EchoService()).build().start();
    try {
      int nativePort = ((InetSocketAddress) nativeServer.getListenSockets().get(0)).getPort();
      long start = System.nanoTime();
      callsWithBodies(nativePort, 200, i -> grpcFrame(0x00, 3, (byte) 0xff, (byte) 0xff, (byte) 0xff));
      List<ILoggingEvent> loud = loudLines(start);
      assertTrue(loud.stream().anyMatch(e -> e.getLoggerName()
          .equals("io.grpc.internal.SerializeReentrantCallsDirectExecutor.limited")
          && e.getFormattedMessage().contains("Invalid protobuf byte sequence")),
          "grpc-java's line, without its stack trace:\n" + show(loud));
    } finally {
      nativeServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void callsWhoseMessagesCannotBeDeframedLogAHandfulOfLinesWithoutStackTraces() throws Exception {
    // grpc-java's NettyServerStream logs a WARNING record with a stack trace for each call whose message it cannot
    // deframe: reserved flag bits, the compressed flag without grpc-encoding, END_STREAM mid-message, too large.
    RateLimitedLog.refillAll();
    Server nativeServer = nativeServer(new EchoService().bindService());
    try {
      int nativePort = ((InetSocketAddress) nativeServer.getListenSockets().get(0)).getPort();
      long start = System.nanoTime();
      callsWithBodies(nativePort, 300, i -> i % 3 == 0 ? grpcFrame(0x02, 1, (byte) 0) // reserved flag bits
          : i % 3 == 1 ? grpcFrame(0x01, 1, (byte) 0) // compressed, no grpc-encoding
          : grpcFrame(0x00, 10, (byte) 0)); // END_STREAM mid-message
      // An ordinary grpc-java client sending messages over the server's limit (4 MiB), through a tunnel.
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions
          .newBuilder("wss://localhost:" + port + "/grpc").tls(ClientTls.trusting(CERTS.caPem())).build()).build();
      try {
        for (int i = 0; i < 10; i++) {
          io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
              io.grpc.StatusRuntimeException.class, () -> dev.wsgrpc.testing.proto.EchoGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(5 << 20)));
          assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
        }
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      List<ILoggingEvent> loud = loudLines(start);
      assertTrue(loud.stream().anyMatch(e -> e.getLoggerName().equals("io.grpc.netty.NettyServerStream.limited")
          && e.getFormattedMessage().startsWith("Exception processing message: ")),
          "grpc-java's line, without its stack trace:\n" + show(loud));
    } finally {
      nativeServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void callsWhoseMessagesAreNotProtobufLogAHandfulOfLinesButAServicesOwnFailureLogsWhole() throws Exception {
    // grpc-java's SerializingExecutor logs a SEVERE record with a stack trace for each call whose message a protobuf
    // service cannot parse (INTERNAL "Invalid protobuf byte sequence"); a service's own exception logs there too.
    RateLimitedLog.refillAll();
    io.grpc.Metadata.Key<String> bug =
        io.grpc.Metadata.Key.of("x-service-bug", io.grpc.Metadata.ASCII_STRING_MARSHALLER);
    io.grpc.ServerInterceptor buggy = new io.grpc.ServerInterceptor() {
      @Override
      public <Q, A> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, A> call,
          io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, A> next) {
        io.grpc.ServerCall.Listener<Q> listener = next.startCall(call, headers);
        return !headers.containsKey(bug) ? listener
            : new io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(listener) {
              @Override
              public void onHalfClose() {
                throw new IllegalStateException("a service's own bug");
              }
            };
      }
    };
    CountDownLatch bugLogged = new CountDownLatch(1);
    ch.qos.logback.core.AppenderBase<ILoggingEvent> bugWatch = new ch.qos.logback.core.AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent e) {
        if (e.getThrowableProxy() != null && e.getThrowableProxy().getMessage() != null
            && e.getThrowableProxy().getMessage().contains("a service's own bug")) {
          bugLogged.countDown();
        }
      }
    };
    bugWatch.start();
    root.addAppender(bugWatch);
    Server nativeServer = nativeServer(io.grpc.ServerInterceptors.intercept(new EchoService(), buggy));
    try {
      int nativePort = ((InetSocketAddress) nativeServer.getListenSockets().get(0)).getPort();
      long start = System.nanoTime();
      callsWithBodies(nativePort, 200, i -> grpcFrame(0x00, 3, (byte) 0xff, (byte) 0xff, (byte) 0xff));
      List<ILoggingEvent> loud = loudLines(start);
      assertTrue(loud.stream().anyMatch(e -> e.getLoggerName().equals("io.grpc.internal.SerializingExecutor.limited")
          && e.getFormattedMessage().contains("Invalid protobuf byte sequence")),
          "grpc-java's line, without its stack trace:\n" + show(loud));
      // A service's own failure is no peer's doing: it still logs whole.
      ManagedChannel channel = io.grpc.Grpc.newChannelBuilderForAddress("127.0.0.1", nativePort,
          io.grpc.InsecureChannelCredentials.create()).build();
      try {
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(bug, "1");
        io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
            io.grpc.StatusRuntimeException.class, () -> dev.wsgrpc.testing.proto.EchoGrpc.newBlockingStub(channel)
                .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(1)));
        assertEquals(io.grpc.Status.Code.UNKNOWN, e.getStatus().getCode(), e.getStatus().toString());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      assertTrue(bugLogged.await(30, TimeUnit.SECONDS), "the service's failure, with its stack trace:\n"
          + show(snapshot()));
    } finally {
      root.detachAppender(bugWatch);
      nativeServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void anUpstreamAnsweringGoAwayEnhanceYourCalmMakesProxyModeLogAHandfulOfPrintableLines() throws Exception {
    // grpc-java's NettyClientHandler logged a WARNING with the GOAWAY's raw debug data for each upstream connection,
    // and proxy mode's health check reconnects many times a second: an upstream could flood the log and forge lines.
    java.nio.file.Path config = java.nio.file.Files.createTempFile("logback-io-grpc-info", ".xml");
    config.toFile().deleteOnExit();
    java.nio.file.Files.writeString(config, "<configuration><appender name=\"E\" "
        + "class=\"ch.qos.logback.core.ConsoleAppender\"><target>System.err</target><encoder>"
        + "<pattern>%-5level %logger - %msg%n</pattern></encoder></appender>"
        + "<logger name=\"io.grpc\" level=\"INFO\"/><root level=\"INFO\"><appender-ref ref=\"E\"/></root>"
        + "</configuration>");
    byte[] debug = "calm\n12:00:00.000 ERROR forged line\u001b[2J".getBytes(StandardCharsets.UTF_8);
    AtomicInteger closed = new AtomicInteger();
    CountDownLatch manyClosed = new CountDownLatch(40);
    try (java.net.ServerSocket upstream = new java.net.ServerSocket(0, 50,
        java.net.InetAddress.getByName("127.0.0.1"))) {
      Thread acceptor = new Thread(() -> {
        while (!upstream.isClosed()) {
          try (Socket s = upstream.accept()) {
            s.setSoTimeout(30_000);
            ByteArrayOutputStream goAway = new ByteArrayOutputStream();
            goAway.writeBytes(new byte[] {0, 0, 0, 0, 0, 0, 0, (byte) Http2Wire.ENHANCE_YOUR_CALM});
            goAway.writeBytes(debug);
            DataInputStream in = new DataInputStream(s.getInputStream());
            in.readFully(new byte[Http2Wire.PREFACE.length]);
            Http2Wire.read(in); // the client's SETTINGS
            s.getOutputStream().write(Http2Wire.concat(Http2Wire.settings(),
                Http2Wire.frame(Http2Wire.GOAWAY, 0, 0, goAway.toByteArray())));
            s.shutdownOutput(); // the client closes the connection once it has read all, GOAWAY first
            while (in.read() != -1) {
              // what else the client sends, until it closes
            }
            closed.incrementAndGet();
            manyClosed.countDown();
          } catch (IOException e) {
            // closed at the end of the test, or a connection reset
          }
        }
      }, "enhance-your-calm-upstream");
      acceptor.setDaemon(true);
      acceptor.start();
      long start = System.nanoTime();
      try (TunnelServerJar jar = TunnelServerJar.start(
          Map.of("JAVA_TOOL_OPTIONS", "-Dlogback.configurationFile=" + config),
          "--port", "0", "--mode", "proxy", "--upstream", "127.0.0.1:" + upstream.getLocalPort())) {
        // The upstream channels connect on the first calls; then their health checks reconnect on their own.
        ManagedChannel channel = WebSocketChannels.newChannel(jar.awaitUrl());
        try {
          for (int i = 0; i < 200 && manyClosed.getCount() > 0; i++) {
            org.junit.jupiter.api.Assertions.assertThrows(io.grpc.StatusRuntimeException.class,
                () -> dev.wsgrpc.testing.proto.EchoGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS).unary(EchoService.payload(1)));
          }
        } finally {
          channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
        assertTrue(manyClosed.await(60, TimeUnit.SECONDS), "upstream connections closed: " + closed.get()
            + "\n" + jar.stderr());
        jar.awaitLog("io.grpc.netty.NettyClientHandler.limited - Received GOAWAY with ENHANCE_YOUR_CALM. "
            + "Debug data: calm?12:00:00.000 ERROR forged line?[2J");
        String stderr = jar.stderr();
        long shown = stderr.lines().filter(l -> l.contains("ENHANCE_YOUR_CALM")).count();
        assertTrue(shown <= allowedLines(System.nanoTime() - start), shown + " lines for " + closed.get()
            + " GOAWAYs:\n" + stderr);
        assertTrue(stderr.indexOf('\u001b') < 0 && !stderr.contains("\n12:00:00.000 ERROR forged"),
            "the upstream's debug data as it sent it:\n" + stderr);
      }
    }
  }

  @Test
  void forwardPrintsAHandfulOfLinesForAFloodOfLocalConnectionsWhoseTunnelsFail() throws Exception {
    int listen = ExternalProgram.freePort();
    int nowhere = ExternalProgram.freePort(); // nothing listens: each tunnel fails at tcp
    try (ExternalProgram forward = CliJar.start(listen, "forward", "--listen", "127.0.0.1:" + listen, "--to",
        "ws://127.0.0.1:" + nowhere + "/grpc", "--use-system-proxy", "false")) {
      long start = System.nanoTime();
      for (int i = 0; i < 60; i++) {
        try (Socket s = new Socket("127.0.0.1", listen)) {
          s.setSoTimeout(30_000);
          assertEquals(-1, s.getInputStream().read(), "the local connection is closed");
        }
      }
      // Each line is written before its connection is closed.
      String output = forward.output();
      long failed = output.lines().filter(l -> l.contains(": tunnel failed at ")).count();
      long refill = TimeUnit.MINUTES.toNanos(1) / 10;
      assertTrue(failed >= 1 && failed <= 10 + (System.nanoTime() - start) / refill + 1,
          failed + " lines for 60 failed tunnels:\n" + output);
    }
  }
}
