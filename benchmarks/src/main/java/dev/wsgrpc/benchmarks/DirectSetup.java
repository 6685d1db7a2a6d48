package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** The baselines: grpc-java straight over TCP, h2c (prior knowledge) or TLS with ALPN h2. */
final class DirectSetup implements Setup {

  private final boolean tls;
  private Transports transports;
  private Server server;
  private SslContext clientTls;
  private int port;

  private DirectSetup(boolean tls) {
    this.tls = tls;
  }

  static DirectSetup h2c() {
    return new DirectSetup(false);
  }

  static DirectSetup h2() {
    return new DirectSetup(true);
  }

  @Override
  public String name() {
    return tls ? "h2" : "h2c";
  }

  @Override
  public String description() {
    return tls ? "direct gRPC over TLS (ALPN h2), JDK TLS provider" : "direct gRPC over h2c (plain TCP)";
  }

  @Override
  public String baseline() {
    return null;
  }

  @Override
  public void start(Transports transports, BindableService service, TestCertificates certs) throws Exception {
    this.transports = transports;
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
    if (tls) {
      builder.sslContext(GrpcSslContexts.forServer(certs.serverCertPem(), certs.serverKeyPem()).build());
      clientTls = GrpcSslContexts.forClient().trustManager(certs.caPem()).build();
    }
    server = transports.configure(builder).addService(service).maxInboundMessageSize(MAX_MESSAGE).build().start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /** The port of the plain server, for setups that put something in front of it. */
  int port() {
    return port;
  }

  @Override
  public ManagedChannel newChannel() {
    if (!tls) {
      return h2cChannel(transports, port);
    }
    return transports.configure(NettyChannelBuilder.forAddress("localhost", port).maxInboundMessageSize(MAX_MESSAGE)
        .sslContext(clientTls)).build();
  }

  /** Direct gRPC over h2c to {@code port} on loopback, as the baseline dials it. */
  static ManagedChannel h2cChannel(Transports transports, int port) {
    return transports.configure(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(MAX_MESSAGE)).build();
  }

  @Override
  public void close() {
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
