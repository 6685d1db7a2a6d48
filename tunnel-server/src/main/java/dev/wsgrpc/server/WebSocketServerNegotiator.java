package dev.wsgrpc.server;

import io.grpc.ChannelLogger;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.AsciiString;

/**
 * Builds each accepted connection's setup chain: wait until active, count the handshake against its address's
 * limit ({@link TunnelCounter#handshakeStarted}), then TLS (wss only), then a
 * {@link HandshakeBackstop} (it marks the start the upgrade step's timeout counts from, and closes what gRPC has not
 * taken over a second after that timeout), then the upgrade (or, with native gRPC on, the HTTP/2 preface), then
 * gRPC's HTTP/2 server handler. This, {@link GrpcHandoffHandler}, {@link ServerTlsHandler} and {@link WebSocketServerCredentials} are the only places that touch
 * grpc-netty's {@code @Internal} negotiation API on the server.
 */
final class WebSocketServerNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {

  private final WebSocketServerOptions options;
  private final TunnelCounter counter;
  private final boolean nativeCallsChecked;

  /**
   * @param nativeCallsChecked whether the server applies {@link TunnelPrincipal#interceptor()} to every call, so
   *     that native calls can be authenticated one by one; else native connections are authenticated as a whole
   *     (see {@link ServerUpgradeHandler})
   */
  WebSocketServerNegotiator(WebSocketServerOptions options, boolean nativeCallsChecked) {
    this.options = options;
    this.counter = new TunnelCounter(options.access());
    this.nativeCallsChecked = nativeCallsChecked;
    // Peers reach gRPC's HTTP/2 server through every server made here, tunnels and native gRPC alike.
    GrpcServerLogLimit.install();
  }

  @Override
  public AsciiString scheme() {
    return AsciiString.of(options.sslContext() != null ? "https" : "http");
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    ChannelLogger logger = grpcHandler.getNegotiationLogger();
    ChannelHandler grpc = InternalProtocolNegotiators.grpcNegotiationHandler(grpcHandler);
    ChannelHandler upgrade = new HandshakeBackstop(
        new GrpcHandoffHandler(grpc, grpcHandler.connection(), options, counter, nativeCallsChecked, logger),
        options.settings().handshakeTimeout(), grpcHandler, () -> grpcHandler.decoder().prefaceReceived());
    ChannelHandler afterCount = options.sslContext() != null
        ? new ServerTlsHandler(upgrade, options, logger)
        : upgrade;
    return InternalProtocolNegotiators.waitUntilActiveHandler(new HandshakeCount(afterCount), logger);
  }

  /** Counts the active connection's handshake, before TLS, then gives its place to the next step. */
  private final class HandshakeCount extends ChannelHandlerAdapter {
    private final ChannelHandler next;

    HandshakeCount(ChannelHandler next) {
      this.next = next;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      counter.handshakeStarted(ctx.channel(), options.listener());
      ctx.pipeline().replace(this, null, next);
    }
  }

  @Override
  public void close() {}
}
