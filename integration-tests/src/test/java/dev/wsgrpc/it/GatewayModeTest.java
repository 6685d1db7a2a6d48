package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.RawTunnelClient;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Relay mode ({@code --mode relay --upstream}): each tunnel's byte stream relayed to an existing gRPC server,
 * including one no one here wrote (Python's grpcio from Debian).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GatewayModeTest {

  private final Closer closer = new Closer();
  private TunnelServerJar jar;
  private ManagedChannel channel;
  private Server upstream;

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  private int startJavaUpstream(EchoService service, TestCertificates tls) throws Exception {
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(service);
    if (tls != null) {
      builder.sslContext(GrpcSslContexts.forServer(tls.serverCertPem(), tls.serverKeyPem()).build());
    }
    upstream = closer.add(builder.build().start());
    return ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
  }

  @Test
  void tunnelsReachAPythonGrpcioServerUnaryAndStreaming() throws Exception {
    jar = PythonEchoServer.behindTheGateway(closer, null);
    channel = closer.add(WebSocketChannels.newChannel(jar.awaitUrl()));
    PythonEchoServer.assertEchoes(channel);
    jar.awaitLog("tunnel open client=/127.0.0.1:");
  }

  @Test
  void newTunnelsGoRoundRobinAndSkipAnUpstreamThatRefuses() throws Exception {
    int live = startJavaUpstream(new EchoService(), null);
    int refusing = ExternalProgram.freePort();
    jar = closer.add(TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream",
        "127.0.0.1:" + refusing + ",127.0.0.1:" + live));
    String url = jar.awaitUrl();
    for (int i = 0; i < 4; i++) {
      ManagedChannel c = WebSocketChannels.newChannel(url);
      try {
        assertEquals(7, EchoGrpc.newBlockingStub(c).withDeadlineAfter(60, TimeUnit.SECONDS)
            .unary(EchoService.payload(7)).getPayload().size());
      } finally {
        c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
    String metrics = jar.metrics(jar.port());
    // Round robin: two of the four tunnels tried the refusing upstream first.
    assertTrue(metrics.contains("wsgrpc_upstream_connect_failures_total 2.0"), metrics);
    assertTrue(metrics.contains("wsgrpc_tunnels_total 4.0"), metrics);
  }

  /**
   * Relay mode looks its upstream names up again every {@code --upstream-refresh}, as proxy mode does: a name that
   * now points elsewhere gets the new tunnels within that period. The name is the jar's own (a hosts file, which the
   * JDK reads at every lookup, and the JDK's cache off as GATEWAY.md tells operators of a short period); the two
   * replicas listen on one port of two loopback addresses. Relay mode refused the option and looked names up every
   * 30 s.
   */
  @Test
  void aNameThatNowPointsElsewhereGetsTheNewTunnelsWithinTheUpstreamRefresh(@TempDir Path dir) throws Exception {
    JavaReplica a = closer.add(new JavaReplica("java-a"));
    JavaReplica b = closer.add(new JavaReplica("java-b", new InetSocketAddress("127.0.0.2", a.port())));
    Path hosts = dir.resolve("hosts");
    UpstreamReplicas.writeList(hosts, List.of("127.0.0.1 localhost", "127.0.0.1 upstream.test"));
    jar = closer.add(TunnelServerJar.start(List.of("-Djdk.net.hosts.file=" + hosts, "-Dsun.net.inetaddr.ttl=0"),
        Map.of(), "--port", "0", "--mode", "relay", "--upstream", "upstream.test:" + a.port(),
        "--upstream-refresh", "1s"));
    String url = jar.awaitUrl();
    assertEquals(a.name, replicaOfANewTunnel(url));

    UpstreamReplicas.writeList(hosts, List.of("127.0.0.1 localhost", "127.0.0.2 upstream.test"));
    long start = System.nanoTime();
    String reached = a.name;
    while (!reached.equals(b.name) && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(60)) {
      reached = replicaOfANewTunnel(url);
    }
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
    assertEquals(b.name, reached, "no new tunnel reached the name's new address within 60 s");
    assertTrue(seconds < 20, "a new tunnel reached the name's new address after " + seconds
        + " s (refresh: 1 s; the default is 30 s)");
  }

  /** The replica that a call on a tunnel of its own reached. */
  private static String replicaOfANewTunnel(String url) throws InterruptedException {
    ManagedChannel tunnel = WebSocketChannels.newChannel(url);
    try {
      return UpstreamReplicas.replicaOf(tunnel);
    } finally {
      tunnel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void upstreamOverTlsAndNativeH2cClientsAreRelayedToo() throws Exception {
    TestCertificates certs = TestCertificates.create();
    int port = startJavaUpstream(new EchoService(), certs);
    jar = closer.add(TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", "localhost:" + port,
        "--upstream-tls", "--upstream-trust-cert", certs.caPem().getPath()));
    channel = closer.add(WebSocketChannels.newChannel(jar.awaitUrl()));
    assertEquals(11, EchoGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
        .unary(EchoService.payload(11)).getPayload().size());
    ManagedChannel h2c = NettyChannelBuilder.forAddress("127.0.0.1", jar.port()).usePlaintext().build();
    try {
      assertEquals(12, EchoGrpc.newBlockingStub(h2c).withDeadlineAfter(60, TimeUnit.SECONDS)
          .unary(EchoService.payload(12)).getPayload().size());
    } finally {
      h2c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Our client pings every 30 s (here 10 s, the least grpc-java allows), also without calls; a grpc-java upstream
   * with its defaults permits one ping per 5 min and none without calls, and answered the relayed pings with GOAWAY
   * ENHANCE_YOUR_CALM "too_many_pings" after about 30 s. The gateway answers them: an idle Watch call outlives four
   * of them in the tunnel it opened, the only one.
   */
  @Test
  void aTunnelsKeepaliveOnAnIdleCallIsAnsweredByTheGatewayNotByAnUpstreamWithDefaultSettings() throws Exception {
    io.grpc.protobuf.services.HealthStatusManager health = new io.grpc.protobuf.services.HealthStatusManager();
    upstream = closer.add(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(health.getHealthService()) // grpc-java's defaults: no permitKeepAliveTime
        .build().start());
    int port = ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
    jar = closer.add(TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", "127.0.0.1:" + port));
    channel = closer.add(WebSocketChannels.newChannelBuilder(jar.awaitUrl())
        .keepAliveTime(10, TimeUnit.SECONDS)
        .build());
    java.util.concurrent.BlockingQueue<Object> events = new java.util.concurrent.LinkedBlockingQueue<>();
    io.grpc.health.v1.HealthGrpc.newStub(channel).watch(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance(),
        dev.wsgrpc.testing.Observers.events(events));
    assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING,
        ((io.grpc.health.v1.HealthCheckResponse) events.poll(60, TimeUnit.SECONDS)).getStatus());
    // Quiet both ways but for the client's pings, four of them in the next 40 s: the call stays open.
    Object ended = events.poll(40, TimeUnit.SECONDS);
    assertNull(ended, () -> "the idle Watch call ended: " + ended);
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.NOT_SERVING);
    assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.NOT_SERVING,
        ((io.grpc.health.v1.HealthCheckResponse) events.poll(30, TimeUnit.SECONDS)).getStatus(),
        "the call still delivers");
    String metrics = jar.metrics(jar.port());
    assertTrue(metrics.contains("wsgrpc_tunnels_total 1.0"), metrics);
    assertTrue(!jar.stderr().contains("ENHANCE_YOUR_CALM"), jar.stderr());
  }

  @Test
  void unreachableUpstreamsEndTheTunnelWithTryAgainLater() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream",
        "127.0.0.1:" + ExternalProgram.freePort()));
    channel = closer.add(WebSocketChannels.newChannel(jar.awaitUrl()));
    io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS).unary(EchoService.payload(1)));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("1013 (Try Again Later): no upstream gRPC server reachable"),
        e.getStatus().toString());
    jar.awaitLog("No upstream of");
  }

  @Test
  void sigtermSendsGoAwayInsideTunnelsAndLetsCallsFinish() throws Exception {
    EchoService service = new EchoService();
    int port = startJavaUpstream(service, null);
    jar = closer.add(TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", "127.0.0.1:" + port,
        "--drain-timeout", "30s"));
    channel = closer.add(WebSocketChannels.newChannel(jar.awaitUrl()));
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    stub.unary(EchoService.payload(1)); // the tunnel is up
    CompletableFuture<EchoResponse> slow = CompletableFuture.supplyAsync(
        () -> stub.unary(EchoService.payload(3).toBuilder().setDelayMs(2_000).build()));
    jar.awaitLog("tunnel open");
    // The drain starts only once the slow call has reached the upstream.
    assertTrue(service.delayedUnaryArrived.await(60, TimeUnit.SECONDS), "the slow call reached the upstream");
    jar.terminate();
    assertEquals(3, slow.get(60, TimeUnit.SECONDS).getPayload().size(), "the call in flight finishes");
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
    assertTrue(jar.stderr().contains("Stopped: 1 tunnel(s) drained, 0 closed at the drain deadline"), jar.stderr());
  }

  /** The jar in relay mode (drain timeout 60 s) in front of a grpc-java Echo upstream, and a raw tunnel to it. */
  private RawTunnelClient rawTunnelThroughARelay() throws Exception {
    int port = startJavaUpstream(new EchoService(), null);
    jar = closer.add(TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", "127.0.0.1:" + port,
        "--drain-timeout", "60s"));
    jar.awaitUrl();
    return RawTunnelClient.connect(new InetSocketAddress("127.0.0.1", jar.port()), "/grpc", "wsgrpc.v1",
        Duration.ofSeconds(90));
  }

  /**
   * A drain in relay mode, as grpc-java's server drains: a call the client starts after the drain's first GOAWAY was
   * sent but before the client has read it (its HEADERS cross the GOAWAY on the wire) is still taken and served; the
   * second GOAWAY, after the client's ACK of the drain's PING, names it. Written from the wire up to choose that
   * order; before, the relay's one GOAWAY was followed at once by the close of a tunnel without calls, which cut such
   * a call unprocessed.
   */
  @Test
  void aCallTheClientStartsAsTheDrainBeginsIsServed() throws Exception {
    try (RawTunnelClient client = rawTunnelThroughARelay()) {
      client.sendPrefaceAndSettings();
      client.readUntil(Http2Wire.SETTINGS);
      client.send(Http2Wire.settingsAck());
      jar.awaitLog("tunnel open");
      jar.terminate();
      TunnelH2.Reader reader = new TunnelH2.Reader();
      List<String> goAways = new ArrayList<>();
      Http2Wire.Frame f;
      do {
        f = client.readFrame();
        reader.read(Http2Wire.frame(f.type, f.flags, f.streamId, f.payload));
        if (f.type == Http2Wire.GOAWAY) {
          goAways.add("last " + java.nio.ByteBuffer.wrap(f.payload).getInt(0));
        }
      } while (f.type != Http2Wire.PING);
      // The call, sent before the ACK of the PING that followed the GOAWAY.
      client.send(TunnelH2.unaryCall(1));
      client.send(reader.takePingAcks());
      try {
        while (true) {
          f = TunnelH2.readAsAClient(client, reader);
          if (f.type == Http2Wire.GOAWAY) {
            goAways.add("last " + java.nio.ByteBuffer.wrap(f.payload).getInt(0));
          }
        }
      } catch (java.io.EOFException end) {
        // the tunnel ended
      }
      assertEquals(List.of("last " + Integer.MAX_VALUE, "last 1"), goAways);
      assertEquals("0", reader.grpcStatus.get(1), "the call was served");
      assertEquals(1001, client.closeCode());
    }
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
  }

  /**
   * During a drain, a tunnel ends with its last call: a client that cancels that call (RST_STREAM) is closed at
   * once, not at the drain deadline. The client here is written from the wire up, so nothing but the gateway can
   * end the tunnel (a gRPC client would hang up by itself after GOAWAY once it has no call left).
   */
  @Test
  void aClientCancellingItsLastCallDuringADrainIsClosedAtOnceNotAtTheDrainTimeout() throws Exception {
    try (RawTunnelClient client = rawTunnelThroughARelay()) {
      client.sendPrefaceAndSettings();
      // A unary call whose request never comes: the upstream waits for it.
      client.send(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS,
          Http2Wire.grpcRequestBlock("/" + EchoGrpc.getUnaryMethod().getFullMethodName(), "localhost")));
      client.readUntil(Http2Wire.SETTINGS);
      jar.awaitLog("tunnel open");
      jar.terminate();
      assertEquals(Http2Wire.NO_ERROR, client.readUntil(Http2Wire.GOAWAY).goAwayErrorCode());
      // The drain's PING, acknowledged as a gRPC client does (else the second GOAWAY waits 10 s for it).
      Http2Wire.Frame ping = client.readUntil(Http2Wire.PING);
      client.send(Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0, ping.payload));
      assertEquals(Http2Wire.NO_ERROR, client.readUntil(Http2Wire.GOAWAY).goAwayErrorCode());
      long cancelled = System.nanoTime();
      client.send(Http2Wire.rstStream(1, Http2Wire.CANCEL));
      assertEquals(1001, client.awaitEnd());
      long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cancelled);
      assertTrue(tookMillis < 30_000, "closed " + tookMillis + " ms after the cancel; the drain timeout is 60 s");
    }
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
    assertTrue(jar.stderr().contains("Stopped: 1 tunnel(s) drained, 0 closed at the drain deadline"), jar.stderr());
  }
}
