package dev.wsgrpc.server;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.Grpc;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;

/**
 * Joins the plain upgrade step to grpc's negotiation: installs {@link ServerUpgradeHandler}, and when it announces a
 * tunnel (or native HTTP/2) replaces itself with gRPC's HTTP/2 server handler, passing on the client's address as
 * {@link Grpc#TRANSPORT_ATTR_REMOTE_ADDR}. The only server class that sees grpc-netty's negotiation API, with
 * {@link WebSocketServerNegotiator} and {@link ServerTlsHandler}.
 */
final class GrpcHandoffHandler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  static final String UPGRADE = "wsgrpc-upgrade";

  private final WebSocketServerOptions options;
  private final TunnelCounter counter;

  GrpcHandoffHandler(ChannelHandler next, WebSocketServerOptions options, TunnelCounter counter,
      ChannelLogger logger) {
    super(next, "WebSocketServerHandoff", logger);
    this.options = options;
    this.counter = counter;
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    ctx.pipeline().addFirst(TunnelLifecycleHandler.NAME, new TunnelLifecycleHandler(options.listener()));
    SslHandler tls = ctx.pipeline().get(SslHandler.class);
    if (options.nativeGrpc() && tls != null && ApplicationProtocolNames.HTTP_2.equals(tls.applicationProtocol())) {
      // The client chose h2 during TLS: plain gRPC, no upgrade.
      fireProtocolNegotiationEvent(ctx);
      return;
    }
    ctx.pipeline().addBefore(ctx.name(), UPGRADE, new ServerUpgradeHandler(options, counter));
  }

  @Override
  protected void userEventTriggered0(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof TunnelEstablishedEvent) {
      TunnelEstablishedEvent established = (TunnelEstablishedEvent) evt;
      ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
      Attributes.Builder attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
          .set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, established.clientAddress())
          .set(WebSocketServers.TUNNEL_PATH, established.path());
      BrowserProtocol browser = BrowserProtocol.forEventSubprotocol(established.subprotocol());
      if (browser != null) {
        attrs.set(WebSocketServers.BROWSER_PROTOCOL, browser.label());
      }
      if (established.principal() != null) {
        attrs.set(TunnelPrincipal.ATTRIBUTE, established.principal());
      }
      replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne, attrs.build()));
      TunnelLifecycleHandler lifecycle = ctx.pipeline().get(TunnelLifecycleHandler.class);
      if (lifecycle != null) {
        lifecycle.established(ctx, established);
      }
      ctx.fireUserEventTriggered(evt);
      fireProtocolNegotiationEvent(ctx);
    } else if (evt instanceof NativeHttp2Event) {
      fireProtocolNegotiationEvent(ctx);
    } else {
      super.userEventTriggered0(ctx, evt);
    }
  }
}
