package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

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

  private void start(RelaySettings relay) throws Exception {
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new HealthStatusManager().getHealthService())
        .build().start();
    closeables.add(() -> upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    int port = ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
    UpstreamGateway gateway = new UpstreamGateway(WebSocketServerOptions.newBuilder().nativeGrpc(true).build(),
        new Upstreams(List.of(new Upstreams.Target("127.0.0.1", port))), null, relay,
        new TunnelTracker(new PrometheusRegistry()));
    closeables.add(gateway);
    gatewayAddress = gateway.start(new InetSocketAddress("127.0.0.1", 0));
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
}
