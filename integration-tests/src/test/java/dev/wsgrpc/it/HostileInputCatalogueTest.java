package dev.wsgrpc.it;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.AuthDecision;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.TunnelAuthenticator;
import dev.wsgrpc.server.UpgradeRequest;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;

/**
 * The hostile-input catalogue against the library server, in this JVM. Unlike the jar's targets it has no Origin
 * allow-list, and its authenticator also admits a session cookie (an ambient credential, which browsers send by
 * themselves from any page), so that its cross-site answers are those of issue 12 item 7: 403 for any Origin of
 * another site than the Host.
 */
class HostileInputCatalogueTest extends HostileInputCatalogue {

  /** The bearer token, or {@code Cookie: session=SESSION}; it reads ambient credentials. */
  private static final class BearerTokenOrSessionCookie implements TunnelAuthenticator {
    private final TunnelAuthenticator bearer = BearerTokens.of(Map.of(TOKEN, "good"));

    @Override
    public AuthDecision authenticate(UpgradeRequest request) {
      return ("session=" + SESSION).equals(request.header("Cookie")) ? AuthDecision.accept("good")
          : bearer.authenticate(request);
    }

    @Override
    public boolean readsAmbientCredentials() {
      return true;
    }
  }

  private Server server;

  @Override
  ManagedChannel startServer() throws Exception {
    server = closer.add(WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
            .access(AccessPolicy.newBuilder().authenticator(new BearerTokenOrSessionCookie()).build())
            .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(5))
                    .maxInboundFramePayload(MAX_FRAME).build())
            .build())
        .addService(new EchoService())
        .build().start());
    return WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port()
        + "/grpc").header("Authorization", "Bearer " + TOKEN).build()).build();
  }

  @Override
  boolean originAllowList() {
    return false;
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
}
