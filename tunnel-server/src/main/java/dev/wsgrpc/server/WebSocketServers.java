package dev.wsgrpc.server;

import io.grpc.netty.NettyServerBuilder;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Entry points for gRPC servers reached through WebSocket.
 *
 * <pre>{@code
 * Server server = WebSocketServers.newServerBuilder(8080)
 *     .addService(new GreeterImpl())
 *     .build()
 *     .start();   // clients dial ws://host:8080/grpc
 * }</pre>
 *
 * <p>Each accepted connection answers the upgrade on the configured path and then hands the unwrapped bytes to
 * grpc-java's HTTP/2 server handler in the same pipeline, so services run in-process as on any Netty server.
 */
public final class WebSocketServers {

  /** A server builder listening on {@code port} with default options (ws on {@code /grpc}). */
  public static NettyServerBuilder newServerBuilder(int port) {
    return newServerBuilder(port, WebSocketServerOptions.DEFAULT);
  }

  /** A server builder listening on {@code port} with {@code options}. */
  public static NettyServerBuilder newServerBuilder(int port, WebSocketServerOptions options) {
    return configure(NettyServerBuilder.forPort(port, WebSocketServerCredentials.create(options)), options);
  }

  /** A server builder listening on {@code address} with {@code options}. */
  public static NettyServerBuilder newServerBuilder(SocketAddress address, WebSocketServerOptions options) {
    return configure(NettyServerBuilder.forAddress(address, WebSocketServerCredentials.create(options)), options);
  }

  private static NettyServerBuilder configure(NettyServerBuilder builder, WebSocketServerOptions options) {
    // grpc's own negotiation deadline covers TLS too; the upgrade step answers 408 at the same moment.
    return builder.handshakeTimeout(options.handshakeTimeout().toMillis() + 1_000, TimeUnit.MILLISECONDS);
  }

  private WebSocketServers() {}
}
