package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.GrpcLogLimit;
import io.grpc.ChannelLogger;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsciiString;

/**
 * Builds each connection's setup chain: wait until active, then TLS (wss only), then the upgrade, then gRPC's
 * HTTP/2 handler. {@link #handshake} is the one client handshake, which the command-line tool's
 * {@link InternalWebSocketClient.Dialer} runs too; docs/ARCHITECTURE.md lists the classes that touch grpc-netty's
 * {@code @Internal} negotiation API.
 */
final class WebSocketClientNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {

  private static final AsciiString HTTP = AsciiString.of("http");
  private static final AsciiString HTTPS = AsciiString.of("https");

  private final WebSocketClientOptions options;
  private final SslContext sslContext;

  WebSocketClientNegotiator(WebSocketClientOptions options, SslContext sslContext) {
    this.options = options;
    this.sslContext = sslContext;
  }

  @Override
  public AsciiString scheme() {
    return options.isSecure() ? HTTPS : HTTP;
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    return handshake(options, sslContext, InternalProtocolNegotiators.grpcNegotiationHandler(grpcHandler),
        HandshakeProgress.NONE, grpcHandler.getNegotiationLogger(), true);
  }

  /**
   * The client handshake, the one chain of setup steps that channels and the command-line tool
   * ({@link InternalWebSocketClient.Dialer}) both run: wait until active, TLS (wss only), the upgrade, then
   * {@code next}, which receives grpc's negotiation event once the connection carries frames.
   *
   * @param grpc whether gRPC reads the tunnel (a channel): then the server's first bytes must be HTTP/2's SETTINGS
   */
  static ChannelHandler handshake(WebSocketClientOptions options, SslContext sslContext, ChannelHandler next,
      HandshakeProgress progress, ChannelLogger logger, boolean grpc) {
    HandshakeDeadline deadline = new HandshakeDeadline(options.settings().handshakeTimeout().toMillis(),
        options.safeUrl());
    ChannelHandler upgrade = new ClientUpgradeHandler(next, options, deadline, progress, logger, grpc);
    ChannelHandler afterActive = options.isSecure()
        ? new ClientTlsHandler(upgrade, sslContext, options, deadline, progress, logger)
        : upgrade;
    return InternalProtocolNegotiators.waitUntilActiveHandler(afterActive, logger);
  }

  @Override
  public void close() {}

  /** Hands grpc-netty a negotiator per transport. */
  static final class Factory implements InternalProtocolNegotiator.ClientFactory {
    private final WebSocketClientOptions options;
    private final SslContext sslContext;

    Factory(WebSocketClientOptions options, SslContext sslContext) {
      this.options = options;
      this.sslContext = sslContext;
      // The tunnel server, which may be hostile, reaches grpc-java's HTTP/2 client through every channel made here:
      // a GOAWAY with ENHANCE_YOUR_CALM per connection must not log a line each, nor its raw debug data.
      GrpcLogLimit.installNettyClient();
    }

    @Override
    public InternalProtocolNegotiator.ProtocolNegotiator newNegotiator() {
      return new WebSocketClientNegotiator(options, sslContext);
    }

    @Override
    public int getDefaultPort() {
      return options.port();
    }
  }
}
