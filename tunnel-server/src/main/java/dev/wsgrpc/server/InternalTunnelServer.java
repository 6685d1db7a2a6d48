package dev.wsgrpc.server;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.io.File;

/**
 * Reaches the server's connection handlers from wsgrpc's own standalone gateway. Not API: it may change in any
 * release.
 */
public final class InternalTunnelServer {

  /**
   * Adds, at the end of {@code pipeline}, the step that reads the HTTP/1.1 request (or the HTTP/2 preface) and
   * announces a {@link TunnelEstablishedEvent} or {@link NativeHttp2Event} to the next handler. Nothing here checks
   * native calls one by one, so with an authenticator a native connection is authenticated as a whole at its preface
   * (as with {@link WebSocketServerCredentials}), or refused.
   */
  public static void addUpgradeStep(ChannelPipeline pipeline, WebSocketServerOptions options, Object counter) {
    pipeline.addLast(GrpcHandoffHandler.UPGRADE, new ServerUpgradeHandler(options, (TunnelCounter) counter, false));
  }

  /** A counter of one server's tunnels against {@code options}' limits, to share among its connections. */
  public static Object newTunnelCounter(WebSocketServerOptions options) {
    return new TunnelCounter(options.access());
  }

  /**
   * Counts the just accepted, active {@code channel}'s handshake against its address's limit
   * ({@link AccessPolicy#maxHandshakesPerClient()}), before anything (TLS included) is read from it.
   */
  public static void handshakeStarted(Channel channel, WebSocketServerOptions options, Object counter) {
    ((TunnelCounter) counter).handshakeStarted(channel, options.listener());
  }

  /** A handler, to add first, that counts the connection's bytes and reports the tunnel to {@code listener}. */
  public static ChannelHandler newLifecycleHandler(TunnelListener listener) {
    return new TunnelLifecycleHandler(listener);
  }

  /** Tells the lifecycle handler of {@code pipeline}, if any, that its connection became a tunnel. */
  public static void tunnelEstablished(ChannelPipeline pipeline, TunnelEstablishedEvent event) {
    TunnelLifecycleHandler lifecycle = pipeline.get(TunnelLifecycleHandler.class);
    if (lifecycle != null) {
      lifecycle.established(pipeline.firstContext(), event);
    }
  }

  /**
   * Tells the lifecycle handler of {@code pipeline}, if any, that its connection is native HTTP/2, admitted at its
   * preface ({@link TunnelListener#nativeConnectionOpened}).
   */
  public static void nativeEstablished(ChannelPipeline pipeline) {
    TunnelLifecycleHandler lifecycle = pipeline.get(TunnelLifecycleHandler.class);
    if (lifecycle != null) {
      lifecycle.nativeEstablished(pipeline.firstContext(),
          pipeline.channel().attr(ServerUpgradeHandler.NATIVE_PRINCIPAL).get());
    }
  }

  /** The TLS handler for a new connection of a wss server: the current certificate, the handshake timeout. */
  public static SslHandler newTlsHandler(WebSocketServerOptions options, ByteBufAllocator alloc) {
    return ServerTlsHandler.newSslHandler(options, alloc);
  }

  /** Counts, logs (rate-limited, one line) and closes a connection whose TLS handshake failed or timed out. */
  public static void tlsHandshakeFailed(ChannelHandlerContext ctx, WebSocketServerOptions options, Throwable cause) {
    ServerTlsHandler.handshakeFailed(ctx, options, cause);
  }

  /**
   * A server TLS context from PEM files whose ALPN offers what a listener with these protocols serves, in the order
   * {@link WebSocketServerOptions} would choose: {@code http/1.1} first where browsers are served beside native gRPC.
   */
  public static SslContext serverContext(File certChainPem, File privateKeyPem, boolean nativeGrpc, boolean browsers,
      File clientCaPem) {
    return ServerTls.serverContext(certChainPem, privateKeyPem, ServerTls.applicationProtocols(nativeGrpc, browsers),
        clientCaPem);
  }

  private InternalTunnelServer() {}
}
