package dev.wsgrpc.gateway;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.RawTunnelClient;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Relay mode on loopback sockets: a grpc-java upstream, the gateway's {@link UpstreamGateway}, hostile clients
 * written from the wire up ({@link RawTunnelClient}) and a good client calling over native h2c through the gateway
 * meanwhile.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RelayModeTest {

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private InetSocketAddress gatewayAddress;

  @AfterEach
  void stop() throws Exception {
    Collections.reverse(closeables);
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private UpstreamGateway gateway;

  /** An upstream written from the wire up: accepts one connection, reads and drops what comes, sends what it is told. */
  private static final class RawUpstream implements AutoCloseable {
    final java.net.ServerSocket listener = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
    Socket socket;

    RawUpstream() throws java.io.IOException {
    }

    int port() {
      return listener.getLocalPort();
    }

    /** Waits for the gateway's connection, then sends SETTINGS as every HTTP/2 server starts. */
    void accept() throws java.io.IOException {
      listener.setSoTimeout(60_000);
      socket = listener.accept();
      java.io.InputStream in = socket.getInputStream();
      Thread reader = new Thread(() -> {
        byte[] b = new byte[8192];
        try {
          while (in.read(b) >= 0) {
            // dropped
          }
        } catch (java.io.IOException e) {
          // closed
        }
      }, "raw-upstream-reader");
      reader.setDaemon(true);
      reader.start();
      send(Http2Wire.settings());
    }

    void send(byte[] bytes) throws java.io.IOException {
      socket.getOutputStream().write(bytes);
      socket.getOutputStream().flush();
    }

    @Override
    public void close() throws java.io.IOException {
      listener.close();
      if (socket != null) {
        socket.close();
      }
    }
  }

  private final TunnelTracker tracker = new TunnelTracker(new PrometheusRegistry(), true);

  private void startGateway(int upstreamPort, RelaySettings relay) throws Exception {
    startGateway(List.of(new Upstreams.Target("127.0.0.1", upstreamPort)), null, relay);
  }

  private void startGateway(List<Upstreams.Target> upstreams, io.netty.handler.ssl.SslContext tls,
      RelaySettings relay) throws Exception {
    startGateway(new Upstreams(upstreams), tls, relay);
  }

  private void startGateway(Upstreams upstreams, io.netty.handler.ssl.SslContext tls, RelaySettings relay)
      throws Exception {
    startGateway(WebSocketServerOptions.newBuilder().nativeGrpc(true).build(), upstreams, tls, relay);
  }

  private void startGateway(WebSocketServerOptions options, Upstreams upstreams, io.netty.handler.ssl.SslContext tls,
      RelaySettings relay) throws Exception {
    gateway = new UpstreamGateway(options, upstreams, tls, relay, tracker);
    closeables.add(gateway);
    gatewayAddress = gateway.start(new InetSocketAddress("127.0.0.1", 0));
  }

  private void start(RelaySettings relay) throws Exception {
    startGateway(healthServer(null), relay);
  }

  /** A grpc-java upstream serving grpc.health.v1 (over TLS with {@code tls}); returns its port. */
  private int healthServer(dev.wsgrpc.testing.TestCertificates tls) throws Exception {
    return healthServer(new InetSocketAddress("127.0.0.1", 0), tls);
  }

  private int healthServer(InetSocketAddress bind, dev.wsgrpc.testing.TestCertificates tls) throws Exception {
    NettyServerBuilder builder = NettyServerBuilder.forAddress(bind)
        .addService(new HealthStatusManager().getHealthService())
        // For the gateway's own pings every second (aBlackHoledUpstream...); clients' pings never reach it.
        .permitKeepAliveTime(1, TimeUnit.SECONDS);
    if (tls != null) {
      builder.sslContext(io.grpc.netty.GrpcSslContexts.forServer(tls.serverCertPem(), tls.serverKeyPem()).build());
    }
    Server upstream = builder.build().start();
    closeables.add(() -> upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
  }

  /** A good client: native h2c through the gateway, calling the upstream's health service. */
  private HealthGrpc.HealthBlockingStub goodClient() {
    ManagedChannel channel = NettyChannelBuilder.forAddress(gatewayAddress).usePlaintext().build();
    closeables.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return HealthGrpc.newBlockingStub(channel);
  }

  private static void assertServing(HealthGrpc.HealthBlockingStub stub) {
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, stub.withDeadlineAfter(30, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus());
  }

  private RawTunnelClient rawTunnel() throws Exception {
    RawTunnelClient client = RawTunnelClient.connect(gatewayAddress, WebSocketTunnel.DEFAULT_PATH,
        WebSocketTunnel.SUBPROTOCOL, Duration.ofSeconds(60));
    closeables.add(client);
    client.sendPrefaceAndSettings();
    return client;
  }

  @Test
  void connectionsPastTheHandshakeLimitOfTheirAddressAreRefusedAndClosedSoon() throws Exception {
    startGateway(WebSocketServerOptions.newBuilder().nativeGrpc(true)
        .settings(dev.wsgrpc.core.TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMinutes(2)).build())
        .access(dev.wsgrpc.server.AccessPolicy.newBuilder().maxHandshakesPerClient(1).build()).build(),
        new Upstreams(List.of(new Upstreams.Target("127.0.0.1", healthServer(null)))), null, RelaySettings.DEFAULT);
    String upgrade = "GET " + WebSocketTunnel.DEFAULT_PATH + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Protocol: " + WebSocketTunnel.SUBPROTOCOL + "\r\n\r\n";
    List<Socket> silent = new ArrayList<>();
    try {
      String answer = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      // Accepts run on several event loops: a probe counted before the silent connection is admitted, so one more.
      while (answer == null) {
        assertTrue(System.nanoTime() < deadline, "every upgrade was admitted");
        Socket quiet = new Socket("127.0.0.1", gatewayAddress.getPort());
        silent.add(quiet);
        try (Socket probe = new Socket("127.0.0.1", gatewayAddress.getPort())) {
          probe.setSoTimeout(30_000);
          probe.getOutputStream().write(upgrade.getBytes(ISO_8859_1));
          String status = new String(probe.getInputStream().readNBytes(12), ISO_8859_1);
          if (!status.equals("HTTP/1.1 101")) {
            answer = status + new String(probe.getInputStream().readAllBytes(),
                ISO_8859_1);
          }
        }
      }
      assertTrue(answer.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), answer);
      assertTrue(answer.endsWith("too many connections from your address are still in their handshake; retry later\n"),
          answer);
      try (Socket over = new Socket("127.0.0.1", gatewayAddress.getPort())) {
        over.setSoTimeout(60_000);
        assertEquals(-1, over.getInputStream().read(), "closed long before the handshake timeout (2 minutes)");
      }
    } finally {
      for (Socket s : silent) {
        s.close();
      }
    }
    // The address gets in again once they are gone: the gateway hears of their closes on its own event loops, so a
    // connection may still find the limit reached; its call is refused, and the next connection's gets through.
    HealthGrpc.HealthBlockingStub good = goodClient().withWaitForReady();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        assertServing(good);
        break;
      } catch (io.grpc.StatusRuntimeException e) {
        assertTrue(System.nanoTime() < deadline && e.getStatus().getDescription() != null
            && e.getStatus().getDescription().contains("still in their handshake"), e.toString());
      }
    }
  }

  @Test
  void bothSocketsOfARelayedConnectionReadUpTo256KiBAtATime() throws Exception {
    start(RelaySettings.DEFAULT);
    assertServing(goodClient());
    assertEquals(1, gateway.connections().size());
    io.netty.channel.Channel client = gateway.connections().iterator().next();
    io.netty.channel.Channel upstream = client.eventLoop()
        .submit(() -> client.pipeline().get(UpstreamRelayHandler.class).upstream()).get(10, TimeUnit.SECONDS);
    for (io.netty.channel.Channel ch : List.of(client, upstream)) {
      assertSame(UpstreamGateway.RELAY_READS, ch.config().getRecvByteBufAllocator(), ch.toString());
    }
    // Fed full reads, the allocator's guess grows past Netty's default maximum of 64 KiB, up to 256 KiB.
    io.netty.channel.RecvByteBufAllocator.ExtendedHandle handle =
        (io.netty.channel.RecvByteBufAllocator.ExtendedHandle) UpstreamGateway.RELAY_READS.newHandle();
    for (int i = 0; i < 20; i++) {
      handle.reset(client.config());
      handle.attemptedBytesRead(handle.guess());
      handle.lastBytesRead(handle.guess());
      handle.readComplete();
    }
    assertEquals(256 * 1024, handle.guess());
    // One read per readiness event: at most 256 KiB read before the relay writes it on.
    handle.reset(client.config());
    handle.attemptedBytesRead(handle.guess());
    handle.lastBytesRead(handle.guess());
    handle.incMessagesRead(1);
    assertFalse(handle.continueReading());
  }

  @Test
  void rapidResetInATunnelGetsGoAwayEnhanceYourCalmWhileAGoodClientKeepsCalling() throws Exception {
    start(RelaySettings.DEFAULT);
    HealthGrpc.HealthBlockingStub good = goodClient();
    assertServing(good);
    RawTunnelClient attacker = rawTunnel();
    attacker.readUntil(Http2Wire.SETTINGS); // the upstream's, relayed: the tunnel is up
    byte[] block = Http2Wire.grpcRequestBlock("/grpc.health.v1.Health/Check", "localhost");
    int stream = 1;
    for (int batch = 0; batch < 30; batch++) {
      byte[][] frames = new byte[20][];
      for (int i = 0; i < 20; i += 2) {
        frames[i] = Http2Wire.headers(stream, Http2Wire.FLAG_END_HEADERS, block);
        frames[i + 1] = Http2Wire.rstStream(stream, Http2Wire.CANCEL);
        stream += 2;
      }
      try {
        attacker.send(Http2Wire.concat(frames));
      } catch (java.io.IOException e) {
        break; // the gateway has hung up
      }
    }
    Http2Wire.Frame goAway = attacker.readUntil(Http2Wire.GOAWAY);
    assertEquals(Http2Wire.ENHANCE_YOUR_CALM, goAway.goAwayErrorCode());
    assertEquals("too_many_rst_streams", goAway.goAwayDebugData());
    assertEquals(1008, attacker.awaitEnd());
    assertEquals("more than 200 RST_STREAM frames in 10 s", attacker.closeReason());
    assertServing(good);
  }

  /**
   * A header block split into HEADERS and CONTINUATION must reach the client in one piece (RFC 9113, 6.10): a
   * GOAWAY between them is a connection error that fails every call in the tunnel.
   */
  @Test
  void theDrainsGoAwayNeverLandsInsideAHeaderBlock() throws Exception {
    RawUpstream upstream = new RawUpstream();
    closeables.add(upstream);
    startGateway(upstream.port(), RelaySettings.DEFAULT);
    RawTunnelClient client = rawTunnel();
    client.send(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS,
        Http2Wire.grpcRequestBlock("/grpc.health.v1.Health/Watch", "localhost")));
    upstream.accept();
    client.readUntil(Http2Wire.SETTINGS);
    byte[] block = Http2Wire.headerBlock(java.util.Map.of(":status", "200", "content-type", "application/grpc"));
    upstream.send(Http2Wire.headers(1, 0, java.util.Arrays.copyOfRange(block, 0, 10)));
    assertEquals(Http2Wire.HEADERS, client.readFrame().type);
    gateway.beginDrain().get(30, TimeUnit.SECONDS);
    upstream.send(Http2Wire.frame(Http2Wire.CONTINUATION, Http2Wire.FLAG_END_HEADERS, 1,
        java.util.Arrays.copyOfRange(block, 10, block.length)));
    Http2Wire.Frame next = client.readFrame();
    assertEquals(Http2Wire.CONTINUATION, next.type, "expected the header block's CONTINUATION but was " + next);
    Http2Wire.Frame goAway = client.readFrame();
    assertEquals(Http2Wire.GOAWAY, goAway.type, goAway.toString());
    assertEquals(Http2Wire.NO_ERROR, goAway.goAwayErrorCode());
    // The call ends (trailers), and with it the drained tunnel: close 1001.
    upstream.send(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS | Http2Wire.FLAG_END_STREAM,
        Http2Wire.headerBlock(java.util.Map.of("grpc-status", "0"))));
    assertEquals(1001, client.awaitEnd());
  }

  /**
   * An upstream address whose connects get no answer, ahead of a good one: the tunnel reaches the good one after the
   * attempt delay (250 ms), well within a client's wait for the server's SETTINGS (15 s), where it waited out the
   * connect timeout (10 s) first (the call's 8 s deadline passed); the attempt given up is not counted as a failure.
   */
  @Test
  void anUnansweredUpstreamAddressAheadOfAGoodOneCostsTheAttemptDelayNotTheConnectTimeout() throws Exception {
    dev.wsgrpc.testing.UnansweredPort unanswered = new dev.wsgrpc.testing.UnansweredPort();
    closeables.add(unanswered);
    int good = healthServer(null);
    startGateway(List.of(new Upstreams.Target("127.0.0.1", unanswered.port()), new Upstreams.Target("127.0.0.1", good)),
        null, RelaySettings.DEFAULT);
    HealthCheckResponse.ServingStatus status = goodClient().withDeadlineAfter(8, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, status);
    assertEquals(0, tracker.upstreamConnectFailures());
  }

  /**
   * A backend that moved: its name now names another address, and the old one refuses. The refused tunnel has the
   * name looked up again and is relayed to the new address, and so is the next tunnel, without another refusal. The
   * names are the test's own (looked up again only when asked, the period never comes). The tunnel ended with 1013
   * "no upstream gRPC server reachable", and new tunnels with it until the next periodic lookup (30 s by default).
   */
  @Test
  void aTunnelRefusedAtTheAddressItsNameHadReachesTheAddressTheNameHasNow() throws Exception {
    int port = healthServer(new InetSocketAddress("127.0.0.2", 0), null); // the new address; 127.0.0.1 refuses
    java.util.Map<String, java.net.InetAddress> dns = new java.util.concurrent.ConcurrentHashMap<>();
    dns.put("upstream.test", java.net.InetAddress.getByName("127.0.0.1"));
    startGateway(new Upstreams(List.of(new Upstreams.Target("upstream.test", port)), Duration.ofDays(1),
        host -> new java.net.InetAddress[] {dns.get(host)}), null, RelaySettings.DEFAULT);
    dns.put("upstream.test", java.net.InetAddress.getByName("127.0.0.2"));

    RawTunnelClient moved = rawTunnel();
    try {
      assertEquals(Http2Wire.SETTINGS, moved.readFrame().type, "the upstream's SETTINGS, relayed");
    } catch (java.io.EOFException e) {
      throw new AssertionError("the tunnel ended: " + moved.closeCode() + " " + moved.closeReason(), e);
    }
    assertEquals(1, tracker.upstreamConnectFailures(), "refused at 127.0.0.1");
    assertServing(goodClient());
    assertEquals(1, tracker.upstreamConnectFailures(), "the next tunnel went to 127.0.0.2 at once");
  }

  /**
   * A refused upstream is named with the system's reason only: on epoll (the jar's transport on Linux) the line said
   * "finishConnect(..) failed with error(-111): Connection refused: /127.0.0.1:PORT", Netty's system call first and
   * the address the line names already last (on NIO the address too).
   */
  @Test
  void aRefusedUpstreamIsNamedWithTheSystemsReasonOnly() throws Exception {
    ch.qos.logback.classic.Logger log =
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("dev.wsgrpc.gateway.Tunnels");
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
        new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    log.addAppender(lines);
    closeables.add(() -> log.detachAppender(lines));
    int dead = dev.wsgrpc.testing.ExternalProgram.freePort();
    int live = healthServer(null);
    startGateway(List.of(new Upstreams.Target("127.0.0.1", dead), new Upstreams.Target("127.0.0.1", live)), null,
        RelaySettings.DEFAULT);
    assertServing(goodClient()); // the first tunnel tries the dead one first
    assertEquals(List.of("Cannot connect to upstream 127.0.0.1/127.0.0.1:" + dead
        + ": Connection refused; trying the next one"), lines.list.stream()
        .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
        .filter(line -> line.startsWith("Cannot connect")).collect(java.util.stream.Collectors.toList()));
  }

  /**
   * With DNS down as well as the upstream, the lookup after a refusal can take as long as the system's resolver
   * does (here: until the test ends). The tunnel's search for an upstream takes at most the handshake timeout, then
   * it ends with 1013, saying why; it waited with no bound of the gateway's, holding its place.
   */
  @Test
  void aTunnelWaitsForTheLookupAfterARefusalAtMostTheHandshakeTimeout() throws Exception {
    int refusing;
    try (java.net.ServerSocket closed = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      refusing = closed.getLocalPort();
    }
    java.util.concurrent.CountDownLatch dnsBack = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    Upstreams upstreams = new Upstreams(List.of(new Upstreams.Target("upstream.test", refusing)), Duration.ofDays(1),
        host -> {
          try {
            if (lookups.incrementAndGet() > 1 && !dnsBack.await(300, TimeUnit.SECONDS)) {
              throw new java.net.UnknownHostException(host + ": no answer");
            }
          } catch (InterruptedException e) {
            throw new java.net.UnknownHostException(host + ": interrupted");
          }
          return new java.net.InetAddress[] {java.net.InetAddress.getLoopbackAddress()};
        });
    startGateway(upstreams, null, RelaySettings.newBuilder().handshakeTimeout(
        dev.wsgrpc.core.TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(1)).build()).build());
    closeables.add(dnsBack::countDown); // closed first: the lookup ends before the gateway does

    RawTunnelClient client = rawTunnel();
    assertEquals(1013, client.awaitEnd());
    assertEquals("no upstream gRPC server reachable within 1000 ms", client.closeReason());
    assertEquals(1, tracker.upstreamConnectFailures());
    assertTrue(lookups.get() > 1, "the lookup after the refusal began");
  }

  /**
   * Every upstream address goes unanswered (a black-holed host): each attempt would wait the connect timeout (10 s),
   * and then the lookup after the failures, while the client waits for the upstream's SETTINGS only its ping timeout
   * (15 s by default). The search ends at the handshake timeout instead, with 1013 saying why, before the client
   * would give up on its own.
   */
  @Test
  void aTunnelWhoseUpstreamsAllGoUnansweredEndsWith1013AtTheHandshakeTimeout() throws Exception {
    dev.wsgrpc.testing.UnansweredPort first = new dev.wsgrpc.testing.UnansweredPort();
    closeables.add(first);
    dev.wsgrpc.testing.UnansweredPort second = new dev.wsgrpc.testing.UnansweredPort();
    closeables.add(second);
    startGateway(List.of(new Upstreams.Target("127.0.0.1", first.port()), new Upstreams.Target("127.0.0.1",
            second.port())), null, RelaySettings.newBuilder().handshakeTimeout(
        dev.wsgrpc.core.TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(1)).build()).build());

    RawTunnelClient client = rawTunnel();
    assertEquals(1013, client.awaitEnd());
    assertEquals("no upstream gRPC server reachable within 1000 ms", client.closeReason());
    assertEquals(0, tracker.upstreamConnectFailures(), "the attempts given up are not failures of the upstreams");
  }

  /** The gateway's TLS to upstreams, as the jar builds it (ALPN h2), trusting {@code certs}' CA. */
  private static io.netty.handler.ssl.SslContext upstreamTls(dev.wsgrpc.testing.TestCertificates certs)
      throws Exception {
    return io.netty.handler.ssl.SslContextBuilder.forClient()
        .trustManager(certs.caPem())
        .applicationProtocolConfig(new io.netty.handler.ssl.ApplicationProtocolConfig(
            io.netty.handler.ssl.ApplicationProtocolConfig.Protocol.ALPN,
            io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
        .build();
  }

  /** An upstream whose TLS handshake fails is a failed connect: counted, and the next upstream is tried. */
  @Test
  void anUpstreamWhoseTlsHandshakeFailsIsSkippedLikeARefusal() throws Exception {
    dev.wsgrpc.testing.TestCertificates trusted = dev.wsgrpc.testing.TestCertificates.create();
    dev.wsgrpc.testing.TestCertificates stranger = dev.wsgrpc.testing.TestCertificates.create();
    int bad = healthServer(stranger);
    int good = healthServer(trusted);
    io.netty.handler.ssl.SslContext tls = upstreamTls(trusted);
    startGateway(List.of(new Upstreams.Target("127.0.0.1", bad), new Upstreams.Target("127.0.0.1", good)), tls,
        RelaySettings.DEFAULT);
    assertServing(goodClient());
    assertEquals(1, tracker.upstreamConnectFailures(), "the stranger's certificate failed the first attempt");
  }

  /**
   * An upstream whose TLS agrees on no ALPN {@code h2} (an HTTP/1.1 endpoint on the upstream's address) is a failed
   * connect too: counted, and the next upstream is tried. It became the tunnel's upstream, and its HTTP/1.1 answer
   * reached the client as HTTP/2.
   */
  @Test
  void anUpstreamWhoseTlsAgreesOnNoAlpnH2IsSkippedLikeARefusal() throws Exception {
    dev.wsgrpc.testing.TestCertificates trusted = dev.wsgrpc.testing.TestCertificates.create();
    io.netty.handler.ssl.SslContext noAlpn = io.netty.handler.ssl.SslContextBuilder
        .forServer(trusted.serverCertPem(), trusted.serverKeyPem()).build();
    io.netty.channel.EventLoopGroup loop = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
        io.netty.channel.nio.NioIoHandler.newFactory());
    closeables.add(() -> loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
    io.netty.channel.Channel http11 = new io.netty.bootstrap.ServerBootstrap()
        .group(loop)
        .channel(io.netty.channel.socket.nio.NioServerSocketChannel.class)
        .childHandler(new io.netty.channel.ChannelInitializer<io.netty.channel.Channel>() {
          @Override
          protected void initChannel(io.netty.channel.Channel ch) {
            io.netty.handler.ssl.SslHandler ssl = noAlpn.newHandler(ch.alloc());
            ch.pipeline().addLast(ssl);
            ssl.handshakeFuture().addListener(f -> ch.writeAndFlush(io.netty.buffer.Unpooled.copiedBuffer(
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", java.nio.charset.StandardCharsets.US_ASCII)));
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    closeables.add(() -> http11.close().syncUninterruptibly());
    int good = healthServer(trusted);
    io.netty.handler.ssl.SslContext tls = upstreamTls(trusted);
    startGateway(List.of(new Upstreams.Target("127.0.0.1", ((InetSocketAddress) http11.localAddress()).getPort()),
        new Upstreams.Target("127.0.0.1", good)), tls, RelaySettings.DEFAULT);
    assertServing(goodClient());
    assertEquals(1, tracker.upstreamConnectFailures(), "the HTTP/1.1 endpoint failed the first attempt");
  }

  /**
   * A black-holed upstream (bytes vanish, nothing is reset) is noticed by the gateway's PING, and the client's
   * healthy tunnel ends with 1013 (Try Again Later), saying why.
   */
  @Test
  void aBlackHoledUpstreamEndsTheTunnelWithTryAgainLater() throws Exception {
    int port = healthServer(null);
    try (dev.wsgrpc.testing.FaultInjectingRelay path =
        new dev.wsgrpc.testing.FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port))) {
      startGateway(path.port(), RelaySettings.newBuilder()
          .upstreamKeepAlive(Duration.ofSeconds(1), Duration.ofSeconds(1)).build());
      RawTunnelClient client = rawTunnel();
      client.readUntil(Http2Wire.SETTINGS);
      // A Watch call: the upstream answers once and then stays quiet, the call open.
      client.send(Http2Wire.concat(
          Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS,
              Http2Wire.grpcRequestBlock("/grpc.health.v1.Health/Watch", "localhost")),
          Http2Wire.frame(Http2Wire.DATA, Http2Wire.FLAG_END_STREAM, 1, new byte[5])));
      client.readUntil(Http2Wire.DATA);
      path.stallCurrentConnections();
      long stalled = System.nanoTime();
      assertEquals(1013, client.awaitEnd());
      assertEquals("the upstream gRPC server stopped answering (no reply to an HTTP/2 PING within 1000 ms)",
          client.closeReason());
      long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stalled);
      assertTrue(tookMillis < 30_000, "noticed after " + tookMillis + " ms");
      assertEquals(1, tracker.upstreamsSilent());
    }
  }
}
