package dev.wsgrpc.it;

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
  private final TunnelClient client;
  private TestCertificates certs;
  private Server server;
  private String url;

  private DirectTunnelSetup(boolean tls, TunnelClient client) {
    this.tls = tls;
    this.client = client;
  }

  static DirectTunnelSetup ws() {
    return ws(TunnelClient.NETTY);
  }

  static DirectTunnelSetup wss() {
    return wss(TunnelClient.NETTY);
  }

  /** ws, with channels from {@code client}. */
  static DirectTunnelSetup ws(TunnelClient client) {
    return new DirectTunnelSetup(false, client);
  }

  /** wss, with channels from {@code client}. */
  static DirectTunnelSetup wss(TunnelClient client) {
    return new DirectTunnelSetup(true, client);
  }

  @Override
  public String name() {
    return (tls ? "wss" : "ws") + client.suffix();
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
    return client.newChannel(target());
  }

  /** Where the server is, for a channel of any client. */
  TunnelClient.Target target() {
    return new TunnelClient.Target(url).trust(tls ? certs.caPem() : null);
  }

  Server server() {
    return server;
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
