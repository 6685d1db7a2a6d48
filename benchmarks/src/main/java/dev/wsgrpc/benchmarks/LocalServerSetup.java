package dev.wsgrpc.benchmarks;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A setup whose server runs in this JVM on a loopback port: the direct baselines and the tunnel. Relay setups put
 * their program in front of one ({@link #port}).
 */
abstract class LocalServerSetup implements Setup {

  final boolean tls;
  Transports transports;
  private Server server;
  private int port;

  LocalServerSetup(boolean tls) {
    this.tls = tls;
  }

  /** Configures {@code builder} as every setup's server is, starts it serving {@code service}, and keeps it. */
  final void serve(Transports transports, NettyServerBuilder builder, BindableService service) throws IOException {
    this.transports = transports;
    server = transports.configure(builder).addService(service).maxInboundMessageSize(MAX_MESSAGE).build().start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /** The port of the server, for setups that put something in front of it. */
  final int port() {
    return port;
  }

  /**
   * A new channel of this setup's client to {@code port} on loopback instead of the server's own port, with
   * everything else as {@link #newChannel}: e.g. through a {@link LatencyRelay} in front of {@link #port}.
   */
  ManagedChannel newChannelTo(int port) {
    throw new UnsupportedOperationException(name() + " cannot dial another port");
  }

  @Override
  public final void close() {
    if (server != null) {
      server.shutdownNow();
      try {
        server.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
