package dev.wsgrpc.client;

import io.grpc.ChannelCredentials;
import io.grpc.netty.InternalNettyChannelCredentials;
import io.netty.handler.ssl.SslContext;

/**
 * {@link ChannelCredentials} that carry a channel's connections inside WebSocket, for
 * {@code Grpc.newChannelBuilder(options.target(), WebSocketChannelCredentials.create(options))} or
 * {@code NettyChannelBuilder.forTarget(options.target(), ...)}. Most code wants {@link WebSocketChannels} instead.
 */
public final class WebSocketChannelCredentials {

  /**
   * Returns credentials that dial {@code options.url()} and tunnel through it. For wss without a context given
   * in {@link WebSocketClientOptions#tls()}, a TLS context is built once here (ALPN {@code http/1.1} only).
   *
   * @throws IllegalArgumentException when the trust certificates cannot be read
   */
  public static ChannelCredentials create(WebSocketClientOptions options) {
    SslContext ssl = options.isSecure() ? sslContextFor(options) : null;
    return InternalNettyChannelCredentials.create(new WebSocketClientNegotiator.Factory(options, ssl));
  }

  static SslContext sslContextFor(WebSocketClientOptions options) {
    return options.tls().newContext();
  }

  private WebSocketChannelCredentials() {}
}
