package dev.wsgrpc.it;

import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A server built from other people's code: a plain grpc-java server (h2c on TCP, no wsgrpc) behind websockify,
 * Debian's generic WebSocket-to-TCP bridge. Proves a client's framing against the standard, not against our server.
 */
final class WebsockifyTunnelSetup implements TunnelSetup {

  private final TunnelClient client;
  private Server plainServer;
  private ExternalProgram websockify;
  private String url;

  WebsockifyTunnelSetup(TunnelClient client) {
    this.client = client;
  }

  @Override
  public String name() {
    return "websockify-h2c" + client.suffix();
  }

  @Override
  public void start(ServerServiceDefinition... services) throws Exception {
    String exe = ExternalProgram.requireInstalled("websockify", "websockify");
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .maxInboundMessageSize(DirectTunnelSetup.MAX_MESSAGE);
    for (ServerServiceDefinition service : services) {
      builder.addService(service);
    }
    plainServer = builder.build().start();
    int grpcPort = ((InetSocketAddress) plainServer.getListenSockets().get(0)).getPort();
    int wsPort = ExternalProgram.freePort();
    websockify = ExternalProgram.start("websockify", exe, "127.0.0.1:" + wsPort, "127.0.0.1:" + grpcPort)
        .awaitListening(wsPort, Duration.ofSeconds(30));
    url = "ws://127.0.0.1:" + wsPort + "/";
  }

  @Override
  public ManagedChannel newChannel() {
    // websockify 0.10 refuses clients that offer a subprotocol other than "binary": offer none.
    return client.newChannel(new TunnelClient.Target(url).noSubprotocols());
  }

  @Override
  public String url() {
    return url;
  }

  @Override
  public void close() throws Exception {
    if (websockify != null) {
      websockify.close();
    }
    if (plainServer != null) {
      plainServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Override
  public String toString() {
    return name();
  }
}
