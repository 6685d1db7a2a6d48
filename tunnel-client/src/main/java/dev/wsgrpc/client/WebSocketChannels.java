package dev.wsgrpc.client;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;

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

  /** A channel builder for {@code options}, to configure further like any Netty channel. */
  public static NettyChannelBuilder newChannelBuilder(WebSocketClientOptions options) {
    return NettyChannelBuilder.forTarget(options.target(), WebSocketChannelCredentials.create(options));
  }

  private WebSocketChannels() {}
}
