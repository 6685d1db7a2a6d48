package dev.wsgrpc.client;

import io.grpc.ChannelCredentials;
import io.grpc.netty.InternalNettyChannelCredentials;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.UncheckedIOException;
import javax.net.ssl.SSLException;

/**
 * {@link ChannelCredentials} that carry a channel's connections inside WebSocket, for
 * {@code Grpc.newChannelBuilder(options.target(), WebSocketChannelCredentials.create(options))} or
 * {@code NettyChannelBuilder.forTarget(options.target(), ...)}. Most code wants {@link WebSocketChannels} instead.
 */
public final class WebSocketChannelCredentials {

  /**
   * Returns credentials that dial {@code options.url()} and tunnel through it. For wss without an explicit
   * {@code sslContext}, a TLS context is built once here (ALPN {@code http/1.1} only).
   *
   * @throws UncheckedIOException when the trust certificates cannot be read
   */
  public static ChannelCredentials create(WebSocketClientOptions options) {
    SslContext ssl = options.isSecure() ? sslContextFor(options) : null;
    return InternalNettyChannelCredentials.create(new WebSocketClientNegotiator.Factory(options, ssl));
  }

  static SslContext sslContextFor(WebSocketClientOptions options) {
    if (options.sslContext() != null) {
      return options.sslContext();
    }
    try {
      SslContextBuilder builder = SslContextBuilder.forClient()
          // Offer http/1.1 only: offering h2 through proxies and CDNs has broken other tunnels.
          .applicationProtocolConfig(new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              ApplicationProtocolNames.HTTP_1_1));
      if (options.trustCertificates() != null) {
        builder.trustManager(options.trustCertificates());
      }
      return builder.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("trustCertificates: " + options.trustCertificates()
          + " (expected: a readable PEM file of certificates; " + e.getMessage() + ")", e);
    }
  }

  private WebSocketChannelCredentials() {}
}
