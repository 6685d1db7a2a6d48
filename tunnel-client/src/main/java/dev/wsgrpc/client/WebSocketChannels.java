package dev.wsgrpc.client;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.ChannelOption;
import java.util.concurrent.TimeUnit;

/**
 * Entry points for channels that reach a gRPC server through a WebSocket URL.
 *
 * <pre>{@code
 * ManagedChannel channel = WebSocketChannels.newChannel("wss://edge.example.com/grpc");
 * GreeterGrpc.GreeterBlockingStub greeter = GreeterGrpc.newBlockingStub(channel);
 * }</pre>
 *
 * <p>Each of the channel's connections is one TCP connection whose own Netty pipeline does TLS (wss), the HTTP/1.1
 * upgrade, and then carries gRPC's HTTP/2 bytes in binary WebSocket frames: no second socket, local port or thread.
 * Everything else is ordinary grpc-java: deadlines, cancellation, metadata, keepalive, reconnect with backoff.
 */
public final class WebSocketChannels {

  /** A channel to {@code url} with default options. */
  public static ManagedChannel newChannel(String url) {
    return newChannelBuilder(url).build();
  }

  /** A channel builder for {@code url} with default options, to configure further like any Netty channel. */
  public static NettyChannelBuilder newChannelBuilder(String url) {
    return newChannelBuilder(WebSocketClientOptions.newBuilder(url).build());
  }

  /** gRPC keepalive: an HTTP/2 PING after this much silence, below the 60 s idle timeout common on proxies. */
  static final long KEEPALIVE_TIME_SECONDS = 30;
  /** gRPC keepalive: how long a PING may go unanswered before the connection is considered dead. */
  static final long KEEPALIVE_TIMEOUT_SECONDS = 10;

  /**
   * A channel builder for {@code options}, to configure further like any Netty channel. Besides the
   * credentials it sets:
   *
   * <ul>
   *   <li>gRPC keepalive on, also without calls: a PING after {@value #KEEPALIVE_TIME_SECONDS} s of silence, dead
   *       after {@value #KEEPALIVE_TIMEOUT_SECONDS} s unanswered (servers from {@code WebSocketServers} permit
   *       this). Override with {@code keepAliveTime}/{@code keepAliveTimeout}/{@code keepAliveWithoutCalls}.</li>
   *   <li>the TCP connect's timeout: the handshake timeout ({@link dev.wsgrpc.core.TunnelSettings.Builder
   *       #handshakeTimeout}, 10 s by default), as the OkHttp client and the command-line tool have it, so that a
   *       connect whose SYNs go unanswered fails then rather than after Netty's 30 s;</li>
   *   <li>the proxy detector of {@link WebSocketClientOptions.Builder#proxy} (a {@link ProxyOptions}, by default
   *       {@link ProxyOptions#SYSTEM}), so that connections go through an HTTP CONNECT
   *       proxy when one is configured or named by the standard settings;</li>
   *   <li>an interceptor that turns grpc's "io exception" for failed connections into a description naming the
   *       proxy and its answer (e.g. 407) or the address that could not be reached;</li>
   *   <li>with {@link WebSocketClientOptions.Builder#connectTo}, the URL's {@code host:port} as authority.</li>
   * </ul>
   *
   * <p>Channels built with {@code Grpc.newChannelBuilder(options.target(), WebSocketChannelCredentials
   * .create(options))} get none of these; set them yourself.
   */
  public static NettyChannelBuilder newChannelBuilder(WebSocketClientOptions options) {
    return newChannelBuilder(options, new WebSocketProxyDetector(options));
  }

  /** The same, choosing proxies with {@code proxies} (tests give it their own settings). */
  static NettyChannelBuilder newChannelBuilder(WebSocketClientOptions options, WebSocketProxyDetector proxies) {
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget(options.target(),
            WebSocketChannelCredentials.create(options))
        .keepAliveTime(KEEPALIVE_TIME_SECONDS, TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.settings().handshakeTimeout().toMillis())
        .proxyDetector(proxies)
        .intercept(new ConnectErrorInterceptor(options, proxies));
    if (options.connectToHost() != null) {
      builder.overrideAuthority(options.authority());
    }
    return builder;
  }

  private WebSocketChannels() {}
}
