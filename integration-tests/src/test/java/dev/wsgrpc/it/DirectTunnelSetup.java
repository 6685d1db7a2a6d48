package dev.wsgrpc.it;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** Client and tunnel server on loopback, nothing between them: ws, or wss with a freshly issued certificate. */
final class DirectTunnelSetup implements TunnelSetup {

  /** Large enough for the suite's 16 MiB messages. */
  static final int MAX_MESSAGE = 32 * 1024 * 1024;

  private final boolean tls;
  private TestCertificates certs;
  private Server server;
  private String url;

  private DirectTunnelSetup(boolean tls) {
    this.tls = tls;
  }

  static DirectTunnelSetup ws() {
    return new DirectTunnelSetup(false);
  }

  static DirectTunnelSetup wss() {
    return new DirectTunnelSetup(true);
  }

  @Override
  public String name() {
    return tls ? "wss" : "ws";
  }

  @Override
  public void start(ServerServiceDefinition... services) throws Exception {
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder();
    if (tls) {
      certs = TestCertificates.create();
      options.tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()));
    }
    NettyServerBuilder builder = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        options.build()).maxInboundMessageSize(MAX_MESSAGE);
    for (ServerServiceDefinition service : services) {
      builder.addService(service);
    }
    server = builder.build().start();
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    url = (tls ? "wss://localhost:" : "ws://127.0.0.1:") + port + "/grpc";
  }

  @Override
  public ManagedChannel newChannel() {
    WebSocketClientOptions.Builder options = WebSocketClientOptions.newBuilder(url);
    if (tls) {
      options.tls(ClientTls.trusting(certs.caPem()));
    }
    return WebSocketChannels.newChannelBuilder(options.build()).maxInboundMessageSize(MAX_MESSAGE).build();
  }

  @Override
  public String url() {
    return url;
  }

  @Override
  public void close() throws Exception {
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Override
  public String toString() {
    return name();
  }
}
