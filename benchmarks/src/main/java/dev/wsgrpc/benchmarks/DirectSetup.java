package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;

/** The baselines: grpc-java straight over TCP, h2c (prior knowledge) or TLS with ALPN h2. */
final class DirectSetup extends LocalServerSetup {

  private SslContext clientTls;

  private DirectSetup(boolean tls) {
    super(tls);
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
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
    if (tls) {
      builder.sslContext(GrpcSslContexts.forServer(certs.serverCertPem(), certs.serverKeyPem()).build());
      clientTls = GrpcSslContexts.forClient().trustManager(certs.caPem()).build();
    }
    serve(transports, builder, service);
  }

  @Override
  public ManagedChannel newChannel() {
    return newChannelTo(port());
  }

  @Override
  ManagedChannel newChannelTo(int port) {
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
}
