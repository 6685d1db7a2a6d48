package dev.wsgrpc.client;

import io.grpc.ChannelLogger;
import io.grpc.netty.InternalProtocolNegotiators;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectionEvent;
import java.net.InetSocketAddress;

/**
 * The HTTP CONNECT step of the command-line tool's dialer, as grpc-netty runs it for channels whose
 * {@link WebSocketProxyDetector} names a proxy: adds Netty's {@link HttpProxyHandler} (Basic authentication when
 * the proxy has credentials) before the connection is made, and holds the negotiation until the proxy answered
 * {@code 200}, which must come within the handshake timeout (Netty's own is a fixed 10 s); then the client
 * handshake runs through the tunnel. A refusal reaches the pipeline as Netty's
 * {@link io.netty.handler.proxy.ProxyConnectException}, which {@link ConnectErrorInterceptor} words.
 */
final class ProxyConnectStep extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  private final InetSocketAddress proxyAddress;
  private final WebSocketProxyDetector.Choice proxy;
  private final long timeoutMillis;

  /** @param timeoutMillis how long the proxy has to answer the CONNECT, from the TCP connection to it */
  ProxyConnectStep(ChannelHandler next, InetSocketAddress proxyAddress, WebSocketProxyDetector.Choice proxy,
      long timeoutMillis, ChannelLogger logger) {
    super(next, "WebSocketProxy", logger);
    this.proxyAddress = proxyAddress;
    this.proxy = proxy;
    this.timeoutMillis = timeoutMillis;
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    HttpProxyHandler connect = proxy.username != null
        ? new HttpProxyHandler(proxyAddress, proxy.username, proxy.password)
        : new HttpProxyHandler(proxyAddress);
    connect.setConnectTimeoutMillis(timeoutMillis);
    ctx.pipeline().addBefore(ctx.name(), null, connect);
  }

  @Override
  protected void userEventTriggered0(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof ProxyConnectionEvent) {
      // Handlers after this one hear that the tunnel through the proxy is up, then the handshake starts.
      ctx.fireUserEventTriggered(evt);
      fireProtocolNegotiationEvent(ctx);
      return;
    }
    super.userEventTriggered0(ctx, evt);
  }
}
