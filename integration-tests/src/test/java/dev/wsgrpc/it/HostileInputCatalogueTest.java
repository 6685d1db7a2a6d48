package dev.wsgrpc.it;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The hostile-input catalogue against the library server, in this JVM. */
class HostileInputCatalogueTest extends HostileInputCatalogue {

  private Server server;

  @Override
  ManagedChannel startServer() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
            .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of(TOKEN, "good")))
                    .allowedOrigins(List.of(ORIGIN)).build())
            .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(5))
                    .maxInboundFramePayload(MAX_FRAME).build())
            .build())
        .addService(new EchoService())
        .build().start();
    return WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port()
        + "/grpc").header("Authorization", "Bearer " + TOKEN).build()).build();
  }

  @Override
  int port() {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @Override
  TunnelServerJar.Memory memory() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    Runtime r = Runtime.getRuntime();
    return new TunnelServerJar.Memory(r.totalMemory() - r.freeMemory(), PlatformDependent.usedDirectMemory(),
        PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory());
  }

  @Override
  void stopServer() throws Exception {
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }
}
