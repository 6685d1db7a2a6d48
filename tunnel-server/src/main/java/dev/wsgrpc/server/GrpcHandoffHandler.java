package dev.wsgrpc.server;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.internal.ControlFrameHandler;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.Grpc;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import java.nio.charset.StandardCharsets;

/**
 * Joins the plain upgrade step to grpc's negotiation: installs {@link ServerUpgradeHandler}, and when it announces a
 * tunnel (or native HTTP/2, which it reports to the {@link TunnelListener} too) replaces itself with gRPC's HTTP/2
 * server handler, passing on the client's address as {@link Grpc#TRANSPORT_ATTR_REMOTE_ADDR}; a native connection on
 * a server with an authenticator carries a {@link NativeCallAuthenticator} for its calls. In a tunnel, a GOAWAY that
 * gRPC's HTTP/2 handler sends for a connection error is passed to {@link ControlFrameHandler#http2Error}, so that the
 * Close says what went wrong to a client that reads no GOAWAY. The only server class that sees grpc-netty's
 * negotiation API, with {@link WebSocketServerNegotiator} and {@link ServerTlsHandler}.
 */
final class GrpcHandoffHandler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  static final String UPGRADE = "wsgrpc-upgrade";

  private final Http2Connection http2;
  private final WebSocketServerOptions options;
  private final TunnelCounter counter;
  private final boolean nativeCallsChecked;

  /** @param http2 the HTTP/2 connection of the gRPC handler {@code next} hands over to (null in tests without one) */
  GrpcHandoffHandler(ChannelHandler next, Http2Connection http2, WebSocketServerOptions options,
      TunnelCounter counter, boolean nativeCallsChecked, ChannelLogger logger) {
    super(next, "WebSocketServerHandoff", logger);
    this.http2 = http2;
    this.options = options;
    this.counter = counter;
    this.nativeCallsChecked = nativeCallsChecked;
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    ctx.pipeline().addFirst(TunnelLifecycleHandler.NAME, new TunnelLifecycleHandler(options.listener()));
    // Also when the client chose h2 during TLS: its preface goes through the same admission as a cleartext one.
    ctx.pipeline().addBefore(ctx.name(), UPGRADE, new ServerUpgradeHandler(options, counter, nativeCallsChecked));
  }

  @Override
  protected void userEventTriggered0(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof TunnelEstablishedEvent) {
      TunnelEstablishedEvent established = (TunnelEstablishedEvent) evt;
      ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
      Attributes.Builder attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
          .set(WebSocketServers.TUNNEL_PATH, established.path());
      BrowserProtocol browser = BrowserProtocol.forEventSubprotocol(established.subprotocol());
      if (browser != null) {
        attrs.set(WebSocketServers.BROWSER_PROTOCOL, browser.label());
      }
      GrpcWebAdmissions admissions = ctx.channel().attr(GrpcWebAdmissions.CHANNEL_ATTRIBUTE).getAndSet(null);
      if (admissions != null) {
        // A gRPC-Web connection's requests may each be of another client: each call gets its own identity
        // (TunnelPrincipal's interceptor); the connection as a whole names only its peer and no principal.
        attrs.set(GrpcWebAdmissions.ATTRIBUTE, admissions)
            .set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, ctx.channel().remoteAddress());
      } else {
        attrs.set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, established.clientAddress());
        if (established.principal() != null) {
          attrs.set(TunnelPrincipal.ATTRIBUTE, established.principal());
        }
      }
      replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne, attrs.build()));
      TunnelLifecycleHandler lifecycle = ctx.pipeline().get(TunnelLifecycleHandler.class);
      if (lifecycle != null) {
        lifecycle.established(ctx, established);
      }
      ControlFrameHandler control = ctx.pipeline().get(ControlFrameHandler.class);
      if (control != null && http2 != null) { // a WebSocket: its Close can tell what a GOAWAY would
        http2.addListener(new Http2ConnectionAdapter() {
          @Override
          public void onGoAwaySent(int lastStreamId, long errorCode, ByteBuf debugData) {
            control.http2Error(errorCode, debugData.toString(StandardCharsets.UTF_8));
          }
        });
      }
      ctx.fireUserEventTriggered(evt);
      fireProtocolNegotiationEvent(ctx);
    } else if (evt instanceof NativeHttp2Event) {
      TunnelAuthenticator authenticator = options.access().authenticator();
      Object principal = ctx.channel().attr(ServerUpgradeHandler.NATIVE_PRINCIPAL).getAndSet(null);
      if (principal != null) {
        // Authenticated as a whole at its preface (the server cannot check its calls one by one).
        ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
        replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne,
            InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
                .set(TunnelPrincipal.ATTRIBUTE, principal)
                .build()));
      } else if (authenticator != null) {
        // No upgrade request to authenticate: TunnelPrincipal's interceptor authenticates each call instead, and the
        // connection's slot of the tunnel limits comes with its first accepted call, which must come in time.
        NativeConnectionSlot slot = ctx.channel().attr(NativeConnectionSlot.ATTRIBUTE).getAndSet(null);
        if (slot != null) {
          slot.startDeadline();
        }
        ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
        replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne,
            InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
                .set(NativeCallAuthenticator.ATTRIBUTE, new NativeCallAuthenticator(authenticator,
                    options.listener(), ctx.channel().remoteAddress(), slot))
                .build()));
      }
      TunnelLifecycleHandler lifecycle = ctx.pipeline().get(TunnelLifecycleHandler.class);
      if (lifecycle != null) {
        lifecycle.nativeEstablished(ctx, principal);
      }
      fireProtocolNegotiationEvent(ctx);
    } else {
      super.userEventTriggered0(ctx, evt);
    }
  }
}
