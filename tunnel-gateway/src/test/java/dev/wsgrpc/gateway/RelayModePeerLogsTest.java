package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.RateLimitedLog;
import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.netty.channel.Channel;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * What a flood of peers can make relay mode with TLS log: connections reset in the middle of the TLS handshake, or
 * right after it, give a handful of rate-limited lines without stack traces, as the library server's
 * (PeerTriggeredLogsTest in integration-tests), and every failed handshake is counted.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RelayModePeerLogsTest {

  private static final TestCertificates CERTS = TestCertificates.create();

  /** The start of a TLS record carrying a ClientHello: the peer resets before the rest. */
  private static final byte[] PARTIAL_CLIENT_HELLO = {0x16, 0x03, 0x01, 0x00, 0x40, 0x01};

  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final AtomicInteger tlsFailures = new AtomicInteger();
  private CountDownLatch allTlsFailures;
  private UpstreamGateway gateway;
  private InetSocketAddress gatewayAddress;

  @BeforeEach
  void start() throws Exception {
    RateLimitedLog.refillAll(); // earlier tests in this JVM may have used up the burst; the bound below allows it
    lines.start();
    root.addAppender(lines);
  }

  @AfterEach
  void stop() throws Exception {
    root.detachAppender(lines);
    Collections.reverse(closeables);
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  /** Relay mode with TLS (ALPN h2 and http/1.1, as with --native-grpc) in front of a grpc-java health server. */
  private void startGateway(int expectedTlsFailures) throws Exception {
    allTlsFailures = new CountDownLatch(expectedTlsFailures);
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new HealthStatusManager().getHealthService()).build().start();
    closeables.add(() -> upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    int upstreamPort = ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
        .nativeGrpc(true)
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
    gateway = new UpstreamGateway(options, new Upstreams(List.of(new Upstreams.Target("127.0.0.1", upstreamPort))),
        null, RelaySettings.DEFAULT, new TunnelTracker(new PrometheusRegistry(), true));
    closeables.add(gateway);
    gatewayAddress = gateway.start(new InetSocketAddress("127.0.0.1", 0));
  }

  /** Resets the connection (RST rather than FIN) as it closes it. */
  private static void reset(Socket socket) throws Exception {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  /** The burst, then one line per refill: what {@link RateLimitedLog}'s defaults let through in {@code nanos}. */
  private static long allowedLines(long nanos) {
    long refill = RateLimitedLog.DEFAULT_PERIOD.toNanos() / RateLimitedLog.DEFAULT_BURST;
    return RateLimitedLog.DEFAULT_BURST + nanos / refill + 1;
  }

  /** The lines at INFO and above since {@code start}: within the rate limit, none with a stack trace. */
  private void assertFewLinesWithoutStackTraces(long start) {
    List<ILoggingEvent> loud;
    synchronized (lines.list) {
      loud = lines.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.INFO)).collect(Collectors.toList());
    }
    long nanos = System.nanoTime() - start;
    String shown = loud.stream().map(e -> e.getLevel() + " " + e.getLoggerName() + " " + e.getFormattedMessage())
        .collect(Collectors.joining("\n"));
    assertTrue(loud.size() <= allowedLines(nanos),
        loud.size() + " lines in " + TimeUnit.NANOSECONDS.toSeconds(nanos) + " s:\n" + shown);
    for (ILoggingEvent e : loud) {
      assertNull(e.getThrowableProxy(), "a stack trace: " + e.getLoggerName() + " " + e.getFormattedMessage());
    }
  }

  /** A native gRPC call over TLS through the gateway: it still serves. */
  private void assertServing() throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forAddress(gatewayAddress).overrideAuthority("localhost")
        .sslContext(GrpcSslContexts.forClient().trustManager(CERTS.caPem()).build()).build();
    try {
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()).getStatus());
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void connectionsResetMidHandshakeLogAHandfulOfLinesAndAreCounted() throws Exception {
    int connections = 200;
    startGateway(connections);
    long start = System.nanoTime();
    for (int i = 0; i < connections; i++) {
      try (Socket socket = new Socket(gatewayAddress.getAddress(), gatewayAddress.getPort())) {
        OutputStream out = socket.getOutputStream();
        out.write(PARTIAL_CLIENT_HELLO);
        out.flush();
        reset(socket);
      }
    }
    // Counted once each; the lines of a connection, if any, come before its count (the count is at its close).
    assertTrue(allTlsFailures.await(60, TimeUnit.SECONDS), tlsFailures.get() + " of " + connections + " counted");
    assertFewLinesWithoutStackTraces(start);
    assertEquals(connections, tlsFailures.get(), "every failed handshake is counted, once");
    assertServing();
  }

  /**
   * A client that completed the handshake and resets once the gateway has answered over TLS: a tunnel (ALPN
   * http/1.1) after the 101, in the middle of a WebSocket frame header, or a native connection (ALPN h2) after the
   * upstream's SETTINGS arrived through the relay. Returns the gateway's side of the connection.
   */
  private Channel resetAfterTheHandshake(SSLContext tls, Set<Channel> seen, boolean h2) throws Exception {
    Socket raw = new Socket(gatewayAddress.getAddress(), gatewayAddress.getPort());
    try {
      // Reset through the TCP socket: closing the TLS one would send close_notify first, and a reset after it is
      // expected (SslHandler only logs it at DEBUG).
      SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(raw, "localhost", gatewayAddress.getPort(),
          false);
      SSLParameters params = socket.getSSLParameters();
      params.setApplicationProtocols(new String[] {h2 ? "h2" : "http/1.1"});
      socket.setSSLParameters(params);
      socket.setSoTimeout(30_000);
      socket.startHandshake();
      OutputStream out = socket.getOutputStream();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      if (h2) {
        out.write(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings()));
        out.flush();
        assertEquals(Http2Wire.SETTINGS, Http2Wire.read(in).type, "the upstream's SETTINGS, relayed");
      } else {
        out.write(("GET " + WebSocketTunnel.DEFAULT_PATH + " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
            + "Sec-WebSocket-Protocol: " + WebSocketTunnel.SUBPROTOCOL + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        StringBuilder head = new StringBuilder();
        while (head.indexOf("\r\n\r\n") < 0) {
          int b = in.read();
          assertTrue(b >= 0, "the upgrade's answer: " + head);
          head.append((char) b);
        }
        assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
        out.write(new byte[] {(byte) 0x82, (byte) 0xfe, 0x10}); // a masked binary frame, cut in its length
        out.flush();
      }
      // The gateway's side was among its connections before the handshake began.
      Channel server = null;
      for (Channel ch : gateway.connections()) {
        if (seen.add(ch)) {
          server = ch;
        }
      }
      assertNotNull(server, "the gateway's side of the connection");
      return server;
    } finally {
      reset(raw);
    }
  }

  @Test
  void connectionsResetAfterTheHandshakeLogAHandfulOfLines() throws Exception {
    startGateway(0);
    SSLContext tls = CERTS.jdkClientContext();
    long start = System.nanoTime();
    Set<Channel> seen = new HashSet<>();
    for (int i = 0; i < 100; i++) {
      Channel server = resetAfterTheHandshake(tls, seen, i % 2 == 1);
      assertTrue(server.closeFuture().await(30, TimeUnit.SECONDS), "the gateway closes its side");
    }
    assertFewLinesWithoutStackTraces(start);
    assertEquals(0, tlsFailures.get(), "no handshake failed");
    assertServing();
  }
}
