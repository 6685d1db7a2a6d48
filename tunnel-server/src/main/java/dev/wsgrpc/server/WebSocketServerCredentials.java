package dev.wsgrpc.server;

import io.grpc.ServerCredentials;
import io.grpc.netty.InternalNettyServerCredentials;

/**
 * {@link ServerCredentials} whose connections arrive as WebSocket upgrades, for
 * {@code Grpc.newServerBuilderForPort(port, WebSocketServerCredentials.create(options))} or
 * {@code NettyServerBuilder.forPort(port, ...)}. Most code wants {@link WebSocketServers} instead, which also sets
 * the server's handshake timeout from the options.
 */
public final class WebSocketServerCredentials {

  /** Credentials that accept tunnels as {@code options} describe. */
  public static ServerCredentials create(WebSocketServerOptions options) {
    return InternalNettyServerCredentials.create(new WebSocketServerNegotiator(options));
  }

  private WebSocketServerCredentials() {}
}
